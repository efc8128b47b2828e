package httpapi_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/client"
	"github.com/halleyhq/halley/httpapi"
)

// observed is a RequestObserver that hands each request on.
type observed chan string

func (o observed) ObserveRequest(route string, code int, _ time.Duration) {
	o <- fmt.Sprintf("%s %d", route, code)
}

// TestPublishStream_RawBodies: a stream's body with a known length and a
// chunked one cut in the middle of its lines are answered line by line,
// the same whether net/http serves the stream or the API takes it
// (Options.TakeOver, the second run), and the observer sees a 200.
func TestPublishStream_RawBodies(t *testing.T) {
	lines := `{"channel":"news","data":1}` + "\n" + `{"channel":"news","data":"two"}` + "\n" + `{"channel":"nope","data":3}` + "\n"
	want := `{"offset":1,"delivered":0}` + "\n" + `{"offset":2,"delivered":0}` + "\n" +
		`{"error":"unknown_channel","message":"no live channel has the id nope","status":404}` + "\n"
	var chunked strings.Builder
	for rest := lines; rest != ""; {
		n := min(7, len(rest)) // chunks that end inside lines
		fmt.Fprintf(&chunked, "%x\r\n%s\r\n", n, rest[:n])
		rest = rest[n:]
	}
	chunked.WriteString("0\r\n\r\n")
	bodies := []struct{ name, head, body string }{
		{"length", fmt.Sprintf("Content-Length: %d\r\n", len(lines)), lines},
		{"chunked", "Transfer-Encoding: chunked\r\n", chunked.String()},
	}
	for _, b := range bodies {
		t.Run(b.name, func(t *testing.T) {
			seen := make(observed, 4)
			e := newEnv(t, halley.Config{}, httpapi.Options{Observer: seen})
			if _, err := e.hub.NewChannel(context.Background(), halley.ChannelOptions{Name: "news"}); err != nil {
				t.Fatal(err)
			}
			addr := e.srv.Listener.Addr().String()
			c := dialRaw(t, addr)
			c.send("POST /api/publish/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-ndjson\r\n" + b.head + "\r\n" + b.body)
			res := c.answer()
			if res.status != http.StatusOK || res.header.Get("Content-Type") != "application/x-ndjson" ||
				res.header.Get("Cache-Control") != "no-store" || string(res.body) != want {
				t.Fatalf("answer %d %v %q, want 200, ndjson, no-store, %q", res.status, res.header, res.body, want)
			}
			if got := <-seen; got != "/api/publish/stream 200" {
				t.Errorf("observed %q, want the stream's 200", got)
			}
			if n := leanStreams(addr); takeOverAll != (n == 1) {
				t.Errorf("%d streams taken from net/http, with TakeOver %v", n, takeOverAll)
			}
			if takeOverAll && (res.header.Get("Connection") != "close" || !c.closed()) {
				t.Errorf("a stream taken over: Connection %q: want close, and the connection closed", res.header.Get("Connection"))
			}
		})
	}
}

// TestPublishStream_BadChunk: a chunked body that turns to garbage ends
// the stream after the lines before it, which are published and
// answered; nothing hangs.
func TestPublishStream_BadChunk(t *testing.T) {
	e := newEnv(t, halley.Config{}, httpapi.Options{})
	ctx := context.Background()
	ch, err := e.hub.NewChannel(ctx, halley.ChannelOptions{Name: "news"})
	if err != nil {
		t.Fatal(err)
	}
	line := `{"channel":"news","data":1}` + "\n"
	c := dialRaw(t, e.srv.Listener.Addr().String())
	c.send("POST /api/publish/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n" +
		fmt.Sprintf("%x\r\n%s\r\n", len(line), line) + "zz\r\n" + line)
	res := c.answer()
	if res.status != http.StatusOK || string(res.body) != `{"offset":1,"delivered":0}`+"\n" {
		t.Fatalf("answer %d %q: want 200 and the first line's outcome alone", res.status, res.body)
	}
	if msgs, err := ch.Read(ctx, 0, 10); err != nil || len(msgs) != 1 {
		t.Fatalf("the channel holds %d messages (%v), want 1", len(msgs), err)
	}
}

// TestPublishStream_ServerShutdown: at the server's Shutdown a stream
// taken from net/http ends with a "shutdown" line, as at the hub's (a
// stream that net/http serves ends at the hub's).
func TestPublishStream_ServerShutdown(t *testing.T) {
	e := newEnv(t, halley.Config{}, httpapi.Options{TakeOver: true})
	ctx := context.Background()
	if _, err := e.hub.NewChannel(ctx, halley.ChannelOptions{Name: "news"}); err != nil {
		t.Fatal(err)
	}
	s, err := (&client.API{URL: e.srv.URL}).OpenPublishStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, _, err := s.Publish("news", []byte("1")); err != nil {
		t.Fatal(err)
	}
	if n := leanStreams(e.srv.Listener.Addr().String()); n != 1 {
		t.Fatalf("%d streams taken from net/http, want 1", n)
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- e.srv.Config.Shutdown(sctx) }()
	if _, err := s.Recv(); !isReason(err, "shutdown") {
		t.Fatalf("at the server's shutdown: %v, want shutdown", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

// TestPublishStream_HTTP2: over HTTP/2 (TLS), which cannot be taken from
// net/http, a stream is served by net/http with the API's TakeOver on:
// each line answered in order, and the hub's shutdown ends it with its
// "shutdown" line.
func TestPublishStream_HTTP2(t *testing.T) {
	hub, err := halley.New(halley.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := hub.NewChannel(ctx, halley.ChannelOptions{Name: "news"}); err != nil {
		t.Fatal(err)
	}
	api := httpapi.New(hub, httpapi.Options{TakeOver: true, Logger: slog.New(slog.DiscardHandler)})
	var protos sync.Map // the protocols the streams came over
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		protos.Store(r.Proto, true)
		api.ServeHTTP(w, r)
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	defer hub.Shutdown(sctx)

	s, err := (&client.API{URL: srv.URL, HTTPClient: srv.Client()}).OpenPublishStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := 1; i <= 100; i++ {
		if off, _, err := s.Publish("news", []byte(fmt.Sprint(i))); err != nil || off != uint64(i) {
			t.Fatalf("line %d: offset %d, %v", i, off, err)
		}
	}
	if _, ok := protos.Load("HTTP/2.0"); !ok {
		t.Fatalf("the stream did not come over HTTP/2")
	}
	if n := leanStreams(srv.Listener.Addr().String()); n != 0 {
		t.Errorf("%d streams taken from net/http over HTTP/2, want 0", n)
	}
	go hub.Shutdown(sctx)
	if _, err := s.Recv(); !isReason(err, "shutdown") {
		t.Fatalf("at shutdown: %v, want shutdown", err)
	}
}
