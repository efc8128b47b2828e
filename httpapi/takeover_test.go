package httpapi_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/httpapi"
)

// takes and gives count the takeovers and the connections given back,
// in all; byServer counts them by the server's address (a test's own);
// answerWaits has the server's address of answers that waited for a full
// socket.
var (
	takes, gives atomic.Int64
	answerWaits  = make(chan string, 64)
	countMu      sync.Mutex
	byServer     = map[string]int{}
)

func init() {
	httpapi.SetTakeOverHook(func(what string, c net.Conn) {
		switch what {
		case "take":
			takes.Add(1)
		case "give":
			gives.Add(1)
		case "wait":
			select {
			case answerWaits <- c.LocalAddr().String():
			default:
			}
		}
		countMu.Lock()
		defer countMu.Unlock()
		byServer[what+" "+c.LocalAddr().String()]++
	})
}

// forgetServer drops the counts of the server at addr: a new server on
// the port of one that has ended starts at zero.
func forgetServer(addr string) {
	countMu.Lock()
	defer countMu.Unlock()
	for _, what := range []string{"take", "give", "wait", "stream"} {
		delete(byServer, what+" "+addr)
	}
}

// takeOvers returns how many connections of the server at addr were
// taken over and given back so far.
func takeOvers(addr string) (taken, given int) {
	countMu.Lock()
	defer countMu.Unlock()
	return byServer["take "+addr], byServer["give "+addr]
}

// leanStreams returns how many publish streams of the server at addr
// were taken from net/http so far.
func leanStreams(addr string) int {
	countMu.Lock()
	defer countMu.Unlock()
	return byServer["stream "+addr]
}

// rawConn is a client's connection written and read byte for byte.
type rawConn struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	// A bound on the test, should the server never answer.
	if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	return &rawConn{t: t, c: c, br: bufio.NewReader(c)}
}

func (r *rawConn) send(s string) {
	r.t.Helper()
	if _, err := io.WriteString(r.c, s); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

// answer reads one answer whole.
func (r *rawConn) answer() response {
	r.t.Helper()
	res, err := http.ReadResponse(r.br, nil)
	if err != nil {
		r.t.Fatalf("read answer: %v", err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		r.t.Fatalf("read answer body: %v", err)
	}
	if res.Close {
		// ReadResponse takes "Connection: close" out of the header.
		res.Header.Set("Connection", "close")
	}
	return response{status: res.StatusCode, header: res.Header, body: b}
}

// closed reports whether the server closed the connection: the next read
// ends without a byte.
func (r *rawConn) closed() bool {
	r.t.Helper()
	b, err := r.br.ReadByte()
	if err == nil {
		r.t.Errorf("read %q after the answer, want the connection closed", b)
		return false
	}
	return err == io.EOF || strings.Contains(err.Error(), "reset")
}

// publishReq is a plain publish of data (a JSON text) to channel, with
// extra header lines.
func publishReq(channel, data, extra string) string {
	body := `{"channel":"` + channel + `","data":` + data + `}`
	return fmt.Sprintf("POST /api/publish HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n%sContent-Length: %d\r\n\r\n%s", extra, len(body), body)
}

// takeOverEnv is an API with Options.TakeOver and a channel "news".
func takeOverEnv(t *testing.T, cfg halley.Config, opts httpapi.Options) (*testEnv, string) {
	t.Helper()
	opts.TakeOver = true
	e := newEnv(t, cfg, opts)
	id := e.createChannel(map[string]any{"name": "news"})
	if id != "news" {
		t.Fatalf("channel id %q, want news", id)
	}
	return e, id
}

func wantOffset(t *testing.T, res response, offset float64) {
	t.Helper()
	if res.status != http.StatusOK {
		t.Fatalf("status = %d, want 200 (body %s)", res.status, res.body)
	}
	if m := res.json(t); m["offset"] != offset {
		t.Errorf("answer %s, want offset %v", res.body, offset)
	}
}

// TestTakeOver_Publishes: the publishes of one connection, one after the
// other and pipelined, are answered in order, with the headers net/http
// gives, and published in order; the connection is taken over once.
func TestTakeOver_Publishes(t *testing.T) {
	e, id := takeOverEnv(t, halley.Config{}, httpapi.Options{})
	addr := e.srv.Listener.Addr().String()
	c := dialRaw(t, addr)
	for i := 1; i <= 3; i++ {
		c.send(publishReq(id, fmt.Sprintf(`"m%d"`, i), ""))
		res := c.answer()
		wantOffset(t, res, float64(i))
		for k, want := range map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"} {
			if got := res.header.Values(k); len(got) != 1 || got[0] != want {
				t.Errorf("%s = %q, want %q once", k, got, want)
			}
		}
		if _, err := http.ParseTime(res.header.Get("Date")); err != nil {
			t.Errorf("Date %q: %v", res.header.Get("Date"), err)
		}
	}
	// Three at once, the last split in the middle of its head.
	all := publishReq(id, `"m4"`, "") + publishReq(id, `"m5"`, "") + publishReq(id, `"m6"`, "")
	c.send(all[:len(all)-60])
	c.send(all[len(all)-60:])
	for i := 4; i <= 6; i++ {
		wantOffset(t, c.answer(), float64(i))
	}
	if taken, _ := takeOvers(addr); taken != 1 {
		t.Errorf("%d takeovers, want 1", taken)
	}
	got := e.readAll(id)
	if want := []string{"m1", "m2", "m3", "m4", "m5", "m6"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("messages %q, want %q", got, want)
	}
}

// TestTakeOver_OtherRequestsGoBack: a request that is not a plain publish
// goes back to net/http with the connection, which answers it as it
// would have; the next publish takes the connection over again.
func TestTakeOver_OtherRequestsGoBack(t *testing.T) {
	tests := []struct {
		name   string
		req    string // sent after a publish taken over
		status int    // net/http's answer
	}{
		{"another endpoint", "GET /api/stats HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 200},
		{"a query", "POST /api/publish?x=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 30\r\n\r\n" + `{"channel":"news","data":"q"} `, 200},
		{"chunked", "POST /api/publish HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n1d\r\n" + `{"channel":"news","data":"c"}` + "\r\n0\r\n\r\n", 200},
		{"HTTP/1.0", "POST /api/publish HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 29\r\n\r\n" + `{"channel":"news","data":"o"}`, 200},
		{"bare LF", "POST /api/publish HTTP/1.1\nHost: 127.0.0.1\nContent-Type: application/json\nContent-Length: 29\n\n" + `{"channel":"news","data":"l"}`, 200},
		{"lower-case method", "post /api/publish HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n", 405},
		{"two lengths", "POST /api/publish HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 29\r\nContent-Length: 30\r\n\r\n" + `{"channel":"news","data":"x"}`, 400},
		{"no Host", "POST /api/publish HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 400},
		{"a folded line", "POST /api/publish HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: a\r\n b\r\nContent-Length: 0\r\n\r\n", 400},
		{"a large head", "POST /api/publish HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: " + strings.Repeat("p", 10<<10) + "\r\nContent-Type: application/json\r\nContent-Length: 29\r\n\r\n" + `{"channel":"news","data":"h"}`, 200},
		{"a bad Content-Length", "POST /api/publish HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: +5\r\n\r\nhello", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, id := takeOverEnv(t, halley.Config{}, httpapi.Options{})
			addr := e.srv.Listener.Addr().String()
			c := dialRaw(t, addr)
			c.send(publishReq(id, `"first"`, ""))
			wantOffset(t, c.answer(), 1)
			c.send(tt.req)
			res := c.answer()
			if res.status != tt.status {
				t.Fatalf("status = %d, want %d (body %s)", res.status, tt.status, res.body)
			}
			if _, given := takeOvers(addr); given != 1 {
				t.Errorf("%d connections given back, want 1", given)
			}
			if res.header.Get("Connection") == "close" || strings.Contains(tt.req, "HTTP/1.0") || tt.status >= 400 {
				return // net/http closes such connections
			}
			// Back with net/http, the connection takes the next publish
			// over again.
			c.send(publishReq(id, `"last"`, ""))
			if res := c.answer(); res.status != http.StatusOK {
				t.Fatalf("publish after: %d %s", res.status, res.body)
			}
			if taken, _ := takeOvers(addr); taken != 2 {
				t.Errorf("%d takeovers, want 2", taken)
			}
		})
	}
}

// TestTakeOver_Refusals: a taken-over publish is refused as through
// net/http, with the same reasons, and a refusal closes the connection.
func TestTakeOver_Refusals(t *testing.T) {
	tests := []struct {
		name   string
		cfg    halley.Config
		opts   httpapi.Options
		req    func(id string) string
		status int
		reason string
	}{
		{"unknown channel", halley.Config{}, httpapi.Options{}, func(string) string { return publishReq("nope", `1`, "") }, 404, "unknown_channel"},
		{"bad JSON", halley.Config{}, httpapi.Options{}, func(string) string {
			return "POST /api/publish HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\n{\"ch\""
		}, 400, "bad_json"},
		{"body too large", halley.Config{MaxMessageSize: 100}, httpapi.Options{MaxBody: 1000}, func(id string) string { return publishReq(id, `"`+strings.Repeat("x", 5000)+`"`, "") }, 413, "body_too_large"},
		{"message too large", halley.Config{MaxMessageSize: 100}, httpapi.Options{MaxBody: 1000}, func(id string) string { return publishReq(id, `"`+strings.Repeat("x", 200)+`"`, "") }, 413, "message_too_large"},
		{"text body", halley.Config{}, httpapi.Options{}, func(id string) string {
			return "POST /api/publish HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi"
		}, 415, "unsupported_media_type"},
		{"foreign Host", halley.Config{}, httpapi.Options{}, func(id string) string {
			return strings.Replace(publishReq(id, `1`, ""), "Host: 127.0.0.1", "Host: evil.example", 1)
		}, 403, "host_not_loopback"},
		{"cross-site Origin", halley.Config{}, httpapi.Options{}, func(id string) string { return publishReq(id, `1`, "Origin: http://evil.example\r\n") }, 403, "cross_site"},
		{"cross-site fetch", halley.Config{}, httpapi.Options{}, func(id string) string { return publishReq(id, `1`, "Sec-Fetch-Site: cross-site\r\n") }, 403, "cross_site"},
		{"no key", halley.Config{}, httpapi.Options{APIKey: "k3y"}, func(id string) string { return publishReq(id, `1`, "") }, 401, "unauthorized"},
		{"wrong key", halley.Config{}, httpapi.Options{APIKey: "k3y"}, func(id string) string { return publishReq(id, `1`, "Authorization: Bearer nope\r\n") }, 401, "unauthorized"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, id := takeOverEnv(t, tt.cfg, tt.opts)
			auth := ""
			if tt.opts.APIKey != "" {
				auth = "Authorization: Bearer " + tt.opts.APIKey + "\r\n"
			}
			c := dialRaw(t, e.srv.Listener.Addr().String())
			c.send(publishReq(id, `"first"`, auth))
			wantOffset(t, c.answer(), 1)
			c.send(tt.req(id))
			res := c.answer()
			expectError(t, res, tt.status, tt.reason)
			if res.header.Get("Connection") != "close" || !c.closed() {
				t.Errorf("Connection %q: want the connection closed after a refusal", res.header.Get("Connection"))
			}
		})
	}
}

// TestTakeOver_ConnectionClose: a publish that says Connection: close is
// answered so, and the connection closes.
func TestTakeOver_ConnectionClose(t *testing.T) {
	e, id := takeOverEnv(t, halley.Config{}, httpapi.Options{})
	c := dialRaw(t, e.srv.Listener.Addr().String())
	c.send(publishReq(id, `1`, ""))
	wantOffset(t, c.answer(), 1)
	c.send(publishReq(id, `2`, "Connection: close\r\n"))
	res := c.answer()
	wantOffset(t, res, 2)
	if res.header.Get("Connection") != "close" || !c.closed() {
		t.Errorf("Connection %q: want the connection closed", res.header.Get("Connection"))
	}
}

// TestTakeOver_HubShutdown: at the hub's shutdown, a connection waiting
// for its next publish goes back to net/http, which answers it as after
// a shutdown (503), on the same connection.
func TestTakeOver_HubShutdown(t *testing.T) {
	e, id := takeOverEnv(t, halley.Config{}, httpapi.Options{})
	addr := e.srv.Listener.Addr().String()
	c := dialRaw(t, addr)
	c.send(publishReq(id, `1`, ""))
	wantOffset(t, c.answer(), 1)
	if err := e.hub.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	retry(t, "the connection given back", func() bool {
		_, given := takeOvers(addr)
		return given == 1
	})
	c.send(publishReq(id, `2`, ""))
	expectError(t, c.answer(), http.StatusServiceUnavailable, "shutdown")
}

// serveTakeOver serves an API with TakeOver on ln with srv, and the hub's
// returned connections; the hub shuts down at the test's end.
func serveTakeOver(t *testing.T, srv *http.Server, opts httpapi.Options) (*halley.Hub, string) {
	t.Helper()
	hub, err := halley.New(halley.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = hub.Shutdown(context.Background()) })
	if _, err := hub.NewChannel(t.Context(), halley.ChannelOptions{Name: "news"}); err != nil {
		t.Fatal(err)
	}
	opts.TakeOver = true
	srv.Handler = httpapi.New(hub, opts)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() { _ = srv.Serve(ln) })
	wg.Go(func() { _ = srv.Serve(hub.ReturnedConns()) })
	t.Cleanup(func() {
		_ = srv.Close()
		wg.Wait()
	})
	return hub, ln.Addr().String()
}

// TestTakeOver_ServerShutdown: the server's Shutdown closes a connection
// taken over that waits for its next publish, as it closes its idle
// ones.
func TestTakeOver_ServerShutdown(t *testing.T) {
	srv := &http.Server{}
	_, addr := serveTakeOver(t, srv, httpapi.Options{})
	c := dialRaw(t, addr)
	c.send(publishReq("news", `1`, ""))
	wantOffset(t, c.answer(), 1)
	if err := srv.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !c.closed() {
		t.Error("the connection is still open after the server's Shutdown")
	}
}

// TestTakeOver_IdleTimeout: a connection taken over closes after the
// server's IdleTimeout without a request, as net/http's do.
func TestTakeOver_IdleTimeout(t *testing.T) {
	_, addr := serveTakeOver(t, &http.Server{IdleTimeout: 50 * time.Millisecond}, httpapi.Options{})
	c := dialRaw(t, addr)
	c.send(publishReq("news", `1`, ""))
	wantOffset(t, c.answer(), 1)
	if !c.closed() {
		t.Error("the connection is still open")
	}
}

// TestTakeOver_NotTLS: connections over TLS stay with net/http.
func TestTakeOver_NotTLS(t *testing.T) {
	hub, err := halley.New(halley.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Shutdown(context.Background())
	if _, err := hub.NewChannel(t.Context(), halley.ChannelOptions{Name: "news"}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(httpapi.New(hub, httpapi.Options{TakeOver: true}))
	defer srv.Close()
	forgetServer(srv.Listener.Addr().String())
	serveReturned(t, srv.Config, hub)
	client := srv.Client()
	client.Transport.(*http.Transport).TLSClientConfig = &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}}
	for i := range 3 {
		res, err := client.Post(srv.URL+"/api/publish", "application/json", strings.NewReader(`{"channel":"news","data":1}`))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("publish %d: %d", i, res.StatusCode)
		}
	}
	if taken, _ := takeOvers(srv.Listener.Addr().String()); taken != 0 {
		t.Errorf("%d takeovers over TLS, want 0", taken)
	}
}

// countingObserver counts the requests by route and status.
type countingObserver struct {
	mu sync.Mutex
	n  map[string]int
}

func (o *countingObserver) ObserveRequest(route string, code int, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.n[fmt.Sprint(route, " ", code)]++
}

// TestTakeOver_Observer: the Observer is told of every publish taken
// over, refusals included.
func TestTakeOver_Observer(t *testing.T) {
	o := &countingObserver{n: map[string]int{}}
	e, id := takeOverEnv(t, halley.Config{}, httpapi.Options{Observer: o})
	c := dialRaw(t, e.srv.Listener.Addr().String())
	for i := range 5 {
		c.send(publishReq(id, fmt.Sprint(i), ""))
		wantOffset(t, c.answer(), float64(i+1))
	}
	c.send(publishReq("nope", `1`, ""))
	expectError(t, c.answer(), http.StatusNotFound, "unknown_channel")
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.n["/api/publish 200"] != 5 || o.n["/api/publish 404"] != 1 {
		t.Errorf("observed %v, want 5 × 200 and 1 × 404 on /api/publish", o.n)
	}
}

// TestTakeOver_Concurrent: clients on several connections publish and
// make other requests at once; every publish is answered and published
// once, each client's in order.
func TestTakeOver_Concurrent(t *testing.T) {
	e, _ := takeOverEnv(t, halley.Config{}, httpapi.Options{})
	const clients, each = 4, 50
	for k := range clients {
		e.createChannel(map[string]any{"name": fmt.Sprint("c", k), "size": each})
	}
	client := e.srv.Client()
	var wg sync.WaitGroup
	for k := range clients {
		wg.Go(func() {
			for i := range each {
				path, body := "/api/publish", fmt.Sprintf(`{"channel":"c%d","data":%d}`, k, i)
				if i%10 == 9 {
					path, body = "/api/channels", `{}`
				}
				res, err := client.Post(e.srv.URL+path, "application/json", strings.NewReader(body))
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode/100 != 2 {
					t.Errorf("%s: %d", path, res.StatusCode)
					return
				}
			}
		})
	}
	wg.Wait()
	if taken, _ := takeOvers(e.srv.Listener.Addr().String()); taken == 0 {
		t.Error("no connection was taken over")
	}
	for k := range clients {
		var want []string
		for i := range each {
			if i%10 != 9 {
				want = append(want, fmt.Sprint(i))
			}
		}
		if got := e.readAll(fmt.Sprint("c", k)); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("channel c%d: %q, want %q", k, got, want)
		}
	}
}

// TestTakeOver_DeliversToStreams: the messages of publishes taken over
// reach an SSE stream of the hub, in order, whether the publisher's
// goroutine writes the stream after its answer (Hub.DeferWrites) or the
// hub's writers do.
func TestTakeOver_DeliversToStreams(t *testing.T) {
	e, id := takeOverEnv(t, halley.Config{}, httpapi.Options{})
	addr := e.srv.Listener.Addr().String()
	next := sseData(t, addr, id)
	c := dialRaw(t, addr)
	for i := 1; i <= 3; i++ {
		c.send(publishReq(id, fmt.Sprintf(`"m%d"`, i), ""))
		wantOffset(t, c.answer(), float64(i))
		if got, want := next(), fmt.Sprintf(`"m%d"`, i); !strings.Contains(got, want) {
			t.Fatalf("frame %q, want message %s", got, want)
		}
	}
	if taken, _ := takeOvers(addr); taken != 1 {
		t.Errorf("%d takeovers, want 1", taken)
	}
}

// sseData opens an SSE stream of channel id on the server at addr, reads
// it to its subscribed frame and returns a function that reads the data
// of its next event.
func sseData(t *testing.T, addr, id string) func() string {
	t.Helper()
	sse, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sse.Close() })
	_ = sse.SetReadDeadline(time.Now().Add(time.Minute))
	if _, err := fmt.Fprintf(sse, "GET /sse?channel=%s HTTP/1.1\r\nHost: x\r\n\r\n", id); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(sse)
	next := func() string {
		t.Helper()
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("reading the stream: %v", err)
			}
			if data, ok := strings.CutPrefix(line, "data: "); ok {
				return data
			}
		}
	}
	for !strings.Contains(next(), `"subscribed"`) { // hello, then subscribed
	}
	return next
}

// TestTakeOver_WriteTimeout: with a WriteTimeout, the deadline of one
// answer does not cut the next (each has its own, as through net/http):
// publishes keep being answered past the first ones' deadlines.
func TestTakeOver_WriteTimeout(t *testing.T) {
	const timeout = 20 * time.Millisecond
	_, addr := serveTakeOver(t, &http.Server{WriteTimeout: timeout}, httpapi.Options{})
	c := dialRaw(t, addr)
	start := time.Now()
	for i := 1; i <= 3 || time.Since(start) < 3*timeout; i++ {
		c.send(publishReq("news", `1`, ""))
		wantOffset(t, c.answer(), float64(i))
	}
	if taken, _ := takeOvers(addr); taken != 1 {
		t.Errorf("%d takeovers, want 1", taken)
	}
}
