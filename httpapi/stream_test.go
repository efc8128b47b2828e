package httpapi_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/client"
	"github.com/halleyhq/halley/httpapi"
)

// TestPublishStream_Wire: each line is answered by a line, in order; a
// refused line gets its error and the stream goes on; the end of the
// body ends the answer.
func TestPublishStream_Wire(t *testing.T) {
	e := newEnv(t, halley.Config{}, httpapi.Options{})
	ctx := context.Background()
	c, err := e.hub.NewChannel(ctx, halley.ChannelOptions{Name: "news"})
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/api/publish/stream", pr)
	req.Header.Set("Content-Type", "application/x-ndjson")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("answer %d %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	br := bufio.NewReader(res.Body)
	exchange := func(line, want string) {
		t.Helper()
		if _, err := io.WriteString(pw, line+"\n"); err != nil {
			t.Fatal(err)
		}
		got, err := br.ReadString('\n')
		if err != nil || got != want+"\n" {
			t.Fatalf("%s: answer %q (%v), want %q", line, got, err, want)
		}
	}
	exchange(`{"channel":"news","data":"one"}`, `{"offset":1,"delivered":0}`)
	exchange(`{"channel":"nope","data":1}`, `{"error":"unknown_channel","message":"no live channel has the id nope","status":404}`)
	exchange(`{"channel":"news"`, `{"error":"bad_json","message":"bad JSON: unexpected EOF","status":400}`)
	exchange(`[{"channel":"news","data":2}]`, `{"error":"bad_request","message":"a line carries one publication, not an array","status":400}`)
	exchange(`{"channel":"news","data":{"n":2}}`, `{"offset":2,"delivered":0}`)
	// A line sent with the start of the next is answered before the
	// rest of that one comes.
	if _, err := io.WriteString(pw, `{"channel":"news","data":3}`+"\n"+`{"channel":"ne`); err != nil {
		t.Fatal(err)
	}
	if got, err := br.ReadString('\n'); err != nil || got != `{"offset":3,"delivered":0}`+"\n" {
		t.Fatalf("a line followed by part of the next: answer %q, %v", got, err)
	}
	exchange(`ws","data":4}`, `{"offset":4,"delivered":0}`)
	pw.Close()
	if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
		t.Fatalf("after the body's end: %q, %v", rest, err)
	}
	if c.Offset() != 4 {
		t.Fatalf("channel offset %d, want 4", c.Offset())
	}
}

// TestPublishStream_Client: the Go client keeps many publications in
// flight on one stream; they are published in order, each answered.
func TestPublishStream_Client(t *testing.T) {
	e := newEnv(t, halley.Config{}, httpapi.Options{APIKey: "k"})
	ctx := context.Background()
	c, err := e.hub.NewChannel(ctx, halley.ChannelOptions{Name: "news", Size: 2000})
	if err != nil {
		t.Fatal(err)
	}
	api := &client.API{URL: e.srv.URL, Key: "k"}
	if _, err := (&client.API{URL: e.srv.URL, Key: "bad"}).OpenPublishStream(ctx); !isReason(err, "unauthorized") {
		t.Fatalf("a wrong key: %v, want unauthorized", err)
	}
	s, err := api.OpenPublishStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const n = 1000
	sent := make(chan error, 1)
	go func() {
		for i := 1; i <= n; i++ {
			if err := s.Send("news", []byte(fmt.Sprint(i))); err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}()
	for i := 1; i <= n; i++ {
		p, err := s.Recv()
		if err != nil || p.Err != nil || p.Offset != uint64(i) {
			t.Fatalf("answer %d: %+v, %v", i, p, err)
		}
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	msgs, err := c.Read(ctx, 0, n)
	if err != nil || len(msgs) != n {
		t.Fatalf("read %d messages, %v", len(msgs), err)
	}
	for i, m := range msgs {
		if string(m.Data) != fmt.Sprint(i+1) {
			t.Fatalf("message %d is %q", i+1, m.Data)
		}
	}
	if _, _, err := s.Publish("nope", []byte("x")); !isReason(err, "unknown_channel") {
		t.Fatalf("unknown channel: %v", err)
	}
	if off, _, err := s.Publish("news", []byte("last")); err != nil || off != n+1 {
		t.Fatalf("after a refusal: %d, %v", off, err)
	}
	// The refused key never reached the stream's handler.
	if n := leanStreams(e.srv.Listener.Addr().String()); takeOverAll != (n == 1) {
		t.Errorf("%d streams taken from net/http, with TakeOver %v", n, takeOverAll)
	}
}

// TestPublishStream_Ends: a line over the limit ends the stream with its
// error, and so does the hub's shutdown, at once.
func TestPublishStream_Ends(t *testing.T) {
	e := newEnv(t, halley.Config{MaxMessageSize: 1000}, httpapi.Options{MaxBody: 4096})
	ctx := context.Background()
	if _, err := e.hub.NewChannel(ctx, halley.ChannelOptions{Name: "news"}); err != nil {
		t.Fatal(err)
	}
	api := &client.API{URL: e.srv.URL}
	s, err := api.OpenPublishStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send("news", []byte(strings.Repeat("x", 10000))); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Recv(); !isReason(err, "body_too_large") {
		t.Fatalf("a long line: %v, want body_too_large", err)
	}
	s.Close()

	s, err = api.OpenPublishStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, _, err := s.Publish("news", []byte("1")); err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	go e.hub.Shutdown(sctx)
	if _, err := s.Recv(); !isReason(err, "shutdown") {
		t.Fatalf("at shutdown: %v, want shutdown", err)
	}
}

func isReason(err error, reason string) bool {
	var e *client.APIError
	return errors.As(err, &e) && e.Reason == reason
}
