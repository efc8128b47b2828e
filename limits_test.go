package halley_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/internal/wire/frame"
)

// Regression tests for the exhaustion findings of the security review,
// each named after what it checks.

// request sends one request and returns its status, header and body.
func request(t testing.TB, srv *httptest.Server, method, path, ctype, body string, hd http.Header) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(testCtx(t), method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hd {
		req.Header[k] = v
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// reasonOf returns the error field of a JSON error answer.
func reasonOf(body string) string {
	var e struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal([]byte(body), &e)
	return e.Error
}

func TestCursor_HugeCursorRefusedBeforeLookup(t *testing.T) {
	h := newHub(t, halley.Config{})
	srv := cometServer(t, h)
	var b strings.Builder
	for i := range 80_000 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "c%d:1:e", i)
	}
	huge := b.String()
	for _, how := range []string{"query", "Last-Event-ID"} {
		req, _ := http.NewRequestWithContext(testCtx(t), "GET", srv.URL+"/sse", nil)
		if how == "query" {
			req, _ = http.NewRequestWithContext(testCtx(t), "POST", srv.URL+"/poll", strings.NewReader(`{"cursor":"`+huge+`"}`))
			req.Header.Set("Content-Type", "application/json")
		} else {
			req.Header.Set("Last-Event-ID", huge)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		// The poll body is over the 64 KiB request limit; the SSE
		// header is parsed, and refused at the 257th entry.
		want, reason := http.StatusBadRequest, "too_many_subscriptions"
		if how == "query" {
			want, reason = http.StatusRequestEntityTooLarge, "body_too_large"
		}
		if resp.StatusCode != want || reasonOf(string(body)) != reason {
			t.Fatalf("a cursor of 80 000 entries by %s: %d %s, want %d %s", how, resp.StatusCode, body, want, reason)
		}
	}
	// Within the body limit, the poll's cursor is refused the same way.
	var small strings.Builder
	for i := range halley.MaxSubscriptions + 1 {
		fmt.Fprintf(&small, "c%d:1:e,", i)
	}
	p := doPoll(t, srv, "", pollReq{Cursor: strings.TrimSuffix(small.String(), ",")})
	if p.status != http.StatusBadRequest || p.Error != "too_many_subscriptions" {
		t.Fatalf("a poll cursor of %d entries: %d %s", halley.MaxSubscriptions+1, p.status, p.Error)
	}
}

func TestSSE_ClientBytesDiscardedThenCut(t *testing.T) {
	h := newHub(t, halley.Config{})
	srv := cometServer(t, h)
	c := newChannel(t, h, halley.ChannelOptions{Name: "news"})
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /sse?channel=news HTTP/1.1\r\nHost: %s\r\n\r\n", srv.Listener.Addr())
	r := bufio.NewReader(conn)
	status, _ := r.ReadString('\n')
	if !strings.Contains(status, "200") {
		t.Fatalf("status line %q", status)
	}
	// A stray line end is let pass: the stream goes on.
	if _, err := conn.Write([]byte("\r\n")); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitListeners(testCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	write(t, c, "still streaming")
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("the stream ended after a stray line end: %v", err)
		}
		if strings.Contains(line, "still streaming") {
			break
		}
	}
	// A client that sends a stream of bytes up an SSE connection is cut
	// off once it sent more than a stream's client has any reason to.
	junk := bytes.Repeat([]byte("x"), 16<<10)
	cut := false
	for range 64 {
		if _, err := conn.Write(junk); err != nil {
			cut = true
			break
		}
	}
	if !cut {
		// The writes may all fit the socket buffers: the server's close
		// shows on the read side then.
		_, err := io.Copy(io.Discard, r)
		cut = err == nil || errors.Is(err, net.ErrClosed) || strings.Contains(err.Error(), "reset")
	}
	if !cut {
		t.Fatal("the server kept reading 1 MiB of junk up an SSE connection")
	}
}

func TestListen_KeysPerSessionAndKeyLengthCapped(t *testing.T) {
	h := newHub(t, halley.Config{MaxListens: 3, MaxKeyLen: 8})
	srv := cometServer(t, h)
	if _, err := halley.NewSimpleNotifier[string, string](h, "docs"); err != nil {
		t.Fatal(err)
	}
	first := doPoll(t, srv, "", pollReq{Channels: []string{"x"}})
	listen := func(key string) (int, map[string]any) {
		return post(t, srv, "/listen", first.Session, `{"notifier":"docs","key":"`+key+`"}`)
	}
	for _, k := range []string{"1", "2", "3", "3"} { // the same key again counts once
		if code, out := listen(k); code != 200 {
			t.Fatalf("listen %s: %d %v", k, code, out)
		}
	}
	if code, out := listen("4"); code != http.StatusTooManyRequests || out["error"] != "too_many_listens" {
		t.Fatalf("a 4th key: %d %v, want 429 too_many_listens", code, out)
	}
	if code, out := listen("123456789"); code != http.StatusBadRequest || out["error"] != "invalid_key" {
		t.Fatalf("a key of 9 bytes: %d %v, want 400 invalid_key", code, out)
	}
	// Unlistening frees a place.
	if code, _ := post(t, srv, "/unlisten", first.Session, `{"notifier":"docs","key":"1"}`); code != 200 {
		t.Fatal("unlisten")
	}
	if code, out := listen("4"); code != 200 {
		t.Fatalf("a 4th key after an unlisten: %d %v", code, out)
	}
	// Over a WebSocket the same caps give error frames, and the
	// connection stays.
	ws := dialWS(t, srv, "", nil)
	for i := range 4 {
		ws.send(fmt.Sprintf(`{"type":"listen","notifier":"docs","key":"k%d","ref":"%d"}`, i, i))
		f := ws.next()
		if i < 3 {
			if f.Type != frame.TypeListening {
				t.Fatalf("ws listen %d: %s", i, show(f))
			}
			if i == 0 {
				if f := ws.next(); f.Type != frame.TypeSubscribed {
					t.Fatalf("the first ws listen subscribes: %s", show(f))
				}
			}
			continue
		}
		if f.Type != frame.TypeError || f.Reason != "too_many_listens" || f.Ref != "3" {
			t.Fatalf("ws listen over the cap: %s", show(f))
		}
	}
}

func TestBus_ClientMessageCapped(t *testing.T) {
	h := newHub(t, halley.Config{})
	srv := cometServer(t, h)
	if _, err := h.NewBus(testCtx(t), halley.BusOptions{Name: "chat"}); err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("x", halley.DefaultMaxClientMessage+1)
	code, out := post(t, srv, "/write", "", `{"channel":"chat","data":"`+big+`"}`)
	if code != http.StatusRequestEntityTooLarge || out["error"] != "message_too_large" {
		t.Fatalf("a client message of 64 KiB + 1: %d %v, want 413 message_too_large", code, out)
	}
	ok := strings.Repeat("x", halley.DefaultMaxClientMessage)
	if code, out := post(t, srv, "/write", "", `{"channel":"chat","data":"`+ok+`"}`); code != 200 {
		t.Fatalf("a client message of 64 KiB: %d %v", code, out)
	}
}

func TestBus_SessionQueuesAreNotChannels(t *testing.T) {
	h := newHub(t, halley.Config{MaxChannels: 2})
	srv := cometServer(t, h)
	bus, err := h.NewBus(testCtx(t), halley.BusOptions{Name: "room", Scope: halley.BusSession})
	if err != nil {
		t.Fatal(err)
	}
	var sessions []string
	for range 16 {
		p := doPoll(t, srv, "", pollReq{Channels: []string{"room"}})
		if fs := p.frames(t); len(fs) != 1 || fs[0].Type != frame.TypeSubscribed {
			t.Fatalf("poll of a session-scope bus: %s", showAll(fs))
		}
		sessions = append(sessions, p.Session)
	}
	if n := h.ChannelCount(); n != 1 {
		t.Fatalf("%d channels after 16 sessions read a session-scope bus, want 1 (the bus)", n)
	}
	if _, err := h.NewChannel(testCtx(t), halley.ChannelOptions{Name: "news"}); err != nil {
		t.Fatalf("a channel within the cap after the polls: %v", err)
	}
	if _, err := bus.Write(testCtx(t), []byte("hi")); err != nil {
		t.Fatal(err)
	}
	// A closed session's queue goes with it.
	s, _ := h.Session(sessions[0])
	s.Close()
	p := doPoll(t, srv, sessions[1], pollReq{Channels: []string{"room"}})
	if fs := p.frames(t); len(fs) != 2 || string(fs[1].Data()) != "hi" {
		t.Fatalf("another session's queue: %s", showAll(fs))
	}
}

func TestSessions_NotMadeForRefusedRequests(t *testing.T) {
	h := newHub(t, halley.Config{MaxSessions: 2})
	srv := cometServer(t, h)
	newChannel(t, h, halley.ChannelOptions{Name: "news"})
	refused := []struct{ method, path, ctype, body, origin string }{
		{"GET", "/ws", "", "", ""},                                                  // not a handshake: 426
		{"GET", "/ws", "", "", "http://evil.example"},                               // foreign origin: 403
		{"POST", "/write", "application/json", `{"channel":"news","data":"x"}`, ""}, // not a bus
		{"POST", "/write", "application/json", `{"channel":"nope","data":"x"}`, ""}, // unknown
		{"POST", "/listen", "application/json", `{"notifier":"nope","key":"1"}`, ""},
		{"POST", "/poll", "application/json", `{"channels":[]}`, ""},
		{"GET", "/sse?cursor=bad", "", "", ""},
	}
	for range 3 {
		for _, tc := range refused {
			hd := http.Header{}
			if tc.origin != "" {
				hd.Set("Origin", tc.origin)
			}
			code, _, body := request(t, srv, tc.method, tc.path, tc.ctype, tc.body, hd)
			if code < 400 {
				t.Fatalf("%s %s: %d %s, want a refusal", tc.method, tc.path, code, body)
			}
		}
	}
	if n := h.SessionCount(); n != 0 {
		t.Fatalf("%d sessions left by refused requests", n)
	}
	// Real clients still get sessions.
	for range 2 {
		ws := dialWS(t, srv, "", nil)
		ws.subscribed("news", "", 0)
	}
	if n := h.SessionCount(); n != 2 {
		t.Fatalf("%d sessions for two clients", n)
	}
	_, resp, err := websocket.Dial(testCtx(t), wsURL(srv, ""), nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("a third client past MaxSessions 2: %v %v, want 429", err, resp)
	}
}

func TestSessions_NewSessionsRateLimitedPerAddress(t *testing.T) {
	h := newHub(t, halley.Config{SessionRate: 0.001, SessionBurst: 3})
	srv := cometServer(t, h)
	newChannel(t, h, halley.ChannelOptions{Name: "news"})
	for i := range 3 {
		if p := doPoll(t, srv, "", pollReq{Channels: []string{"news"}}); p.status != 200 {
			t.Fatalf("new session %d: %d %s", i, p.status, p.Error)
		}
	}
	code, hd, body := request(t, srv, "POST", "/poll", "application/json", `{"channels":["news"]}`, nil)
	if code != http.StatusTooManyRequests || reasonOf(body) != "rate_limited" || hd.Get("Retry-After") == "" {
		t.Fatalf("a 4th new session at once: %d %s (Retry-After %q), want 429 rate_limited", code, body, hd.Get("Retry-After"))
	}
	// A client that sends its session back is not limited.
	first := doPoll(t, srv, "", pollReq{}) // refused: no channels, and no session made
	_ = first
	s, _ := h.NewSession()
	if p := doPoll(t, srv, s.ID(), pollReq{Channels: []string{"news"}}); p.status != 200 || p.Session != s.ID() {
		t.Fatalf("a known session: %d %s", p.status, p.Error)
	}
}

func TestLimits_ConcurrentRequestsPerAddress(t *testing.T) {
	h := newHub(t, halley.Config{MaxConnsPerIP: 2})
	srv := cometServer(t, h)
	c := newChannel(t, h, halley.ChannelOptions{Name: "news"})
	a := openSSE(t, srv, "channel=news", "")
	b := openSSE(t, srv, "channel=news", "")
	if err := c.WaitListeners(testCtx(t), 2); err != nil {
		t.Fatal(err)
	}
	code, _, body := request(t, srv, "GET", "/sse?channel=news", "", "", nil)
	if code != http.StatusTooManyRequests || reasonOf(body) != "too_many_connections" {
		t.Fatalf("a third stream from one address: %d %s, want 429 too_many_connections", code, body)
	}
	if n := h.Refusals()["too_many_connections"]; n != 1 {
		t.Fatalf("%d refusals counted as too_many_connections, want 1", n)
	}
	a.close()
	if err := c.WaitListenersExactly(testCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	// The slot comes back when the stream ends.
	d := openSSE(t, srv, "channel=news", "")
	d.hello(t)
	b.close()
	d.close()
}

func TestPoll_SlowBodyTimedOut(t *testing.T) {
	h := newHub(t, halley.Config{BodyTimeout: 100 * time.Millisecond})
	srv := cometServer(t, h)
	for _, path := range []string{"/poll", "/write", "/comet"} {
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		ctype := "application/json"
		if path == "/comet" {
			ctype = "application/x-ocsigen-comet"
		}
		fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: 60000\r\n\r\n{", path, ctype)
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("%s: a body that never comes: %v, want an answer", path, err)
		}
		resp.Body.Close()
		conn.Close()
		if resp.StatusCode != http.StatusRequestTimeout {
			t.Fatalf("%s: a body that never comes: %d, want 408", path, resp.StatusCode)
		}
	}
}

func TestPoll_TrailingGarbageRefused(t *testing.T) {
	h := newHub(t, halley.Config{})
	srv := cometServer(t, h)
	code, _, body := request(t, srv, "POST", "/poll", "application/json", `{"channels":["news"]} {"x":1}`, nil)
	if code != http.StatusBadRequest || reasonOf(body) != "bad_request" {
		t.Fatalf("a poll body with data after the object: %d %s, want 400", code, body)
	}
}

func TestWS_InvalidUTF8Closes1007(t *testing.T) {
	h := newHub(t, halley.Config{})
	srv := cometServer(t, h)
	ws := dialWS(t, srv, "", nil)
	if err := ws.conn.Write(ws.ctx, websocket.MessageText, []byte("{\"type\":\"subscribe\",\"channel\":\"\xff\xfe\"}")); err != nil {
		t.Fatal(err)
	}
	ws.closedWith(frame.TypeError, "invalid_utf8", websocket.StatusInvalidFramePayloadData)
}

func TestSession_CookieSecureOverTLSOrTrustedProxy(t *testing.T) {
	newsCookie := func(t *testing.T, srv *httptest.Server, hd http.Header) *http.Cookie {
		t.Helper()
		code, rh, body := request(t, srv, "POST", "/poll", "application/json", `{"channels":["news"]}`, hd)
		if code != 200 {
			t.Fatalf("poll: %d %s", code, body)
		}
		for _, c := range (&http.Response{Header: rh}).Cookies() {
			if c.Name == halley.SessionCookie {
				return c
			}
		}
		t.Fatal("no session cookie")
		return nil
	}
	for _, tc := range []struct {
		name    string
		trusted bool
		proto   string
		secure  bool
	}{
		{"plain", false, "", false},
		{"untrusted proxy header", false, "https", false},
		{"trusted proxy over TLS", true, "https", true},
		{"trusted proxy, plain", true, "http", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := halley.Config{PollTimeout: time.Millisecond}
			if tc.trusted {
				cfg.TrustedProxies = loopbackPrefixes()
			}
			h := newHub(t, cfg)
			srv := cometServer(t, h)
			newChannel(t, h, halley.ChannelOptions{Name: "news"})
			hd := http.Header{}
			if tc.proto != "" {
				hd.Set("X-Forwarded-Proto", tc.proto)
			}
			if c := newsCookie(t, srv, hd); c.Secure != tc.secure {
				t.Fatalf("Secure %v, want %v", c.Secure, tc.secure)
			}
		})
	}
	t.Run("TLS", func(t *testing.T) {
		h := newHub(t, halley.Config{PollTimeout: time.Millisecond})
		srv := httptest.NewTLSServer(h.Handler())
		t.Cleanup(srv.Close)
		newChannel(t, h, halley.ChannelOptions{Name: "news"})
		if c := newsCookie(t, srv, nil); !c.Secure {
			t.Fatal("the session cookie over TLS is not Secure")
		}
	})
}

func TestChannel_DotNamesRefused(t *testing.T) {
	h := newHub(t, halley.Config{})
	for _, name := range []string{".", ".."} {
		if _, err := h.NewChannel(testCtx(t), halley.ChannelOptions{Name: name}); !errors.Is(err, halley.ErrInvalidName) {
			t.Fatalf("a channel named %q: %v, want ErrInvalidName", name, err)
		}
	}
	if _, err := h.NewChannel(testCtx(t), halley.ChannelOptions{Name: "..."}); err != nil {
		t.Fatalf(`a channel named "...": %v`, err)
	}
}

func loopbackPrefixes() []netip.Prefix {
	return []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
}

func TestChannel_RingBoundedInBytes(t *testing.T) {
	h := newHub(t, halley.Config{RingBytes: 1000})
	srv := cometServer(t, h)
	c := newChannel(t, h, halley.ChannelOptions{Name: "news"})
	big := strings.Repeat("x", 300)
	for range 10 {
		write(t, c, big)
	}
	// Three messages of 300 bytes fit in 1000: a reader from the start
	// is told it lost seven, then gets the last three.
	p := doPoll(t, srv, "", pollReq{Cursor: "news:0:"})
	fs := p.frames(t)
	if len(fs) != 4 || fs[0].Type != frame.TypeGap || fs[0].Reason != "channel_full" || *fs[0].Offset != 7 || *fs[3].Offset != 10 {
		t.Fatalf("a reader from 0 of a ring bounded to 1000 bytes: %s", showAll(fs))
	}
	hist, err := h.Broker().History(testCtx(t), "news", 0, 0)
	if err != nil || len(hist.Messages) != 3 {
		t.Fatalf("the broker keeps %d messages (%v), want 3 within the byte bound", len(hist.Messages), err)
	}
}

func TestShutdown_EndsSlowBodies(t *testing.T) {
	h, err := halley.New(halley.Config{})
	if err != nil {
		t.Fatal(err)
	}
	srv := cometServer(t, h)
	reading := halley.ReadingBodies(t)
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /poll HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 60000\r\n\r\n{")
	answered := make(chan *http.Response, 1)
	go func() {
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err == nil {
			resp.Body.Close()
		}
		answered <- resp
	}()
	<-reading
	if err := h.Shutdown(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if resp := <-answered; resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("a slow body at shutdown: %v, want 503 at once, not at the body timeout", resp)
	}
}

// A refused request is answered at once, its body unread: net/http would
// otherwise wait for the body, however slowly it comes, before answering.
func TestRefusal_AnsweredWithoutWaitingForTheBody(t *testing.T) {
	h := newHub(t, halley.Config{MaxConnsPerIP: 1, BodyTimeout: time.Hour})
	srv := cometServer(t, h)
	for _, tc := range []struct {
		name, head string
		status     int
	}{
		{"foreign origin", "POST /poll HTTP/1.1\r\nHost: x\r\nOrigin: http://evil.example\r\nContent-Type: application/json\r\n", http.StatusForbidden},
		{"wrong media type", "POST /poll HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n", http.StatusUnsupportedMediaType},
		{"legacy, wrong media type", "POST /comet HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n", http.StatusUnsupportedMediaType},
		{"wrong method", "PUT /sse HTTP/1.1\r\nHost: x\r\n", http.StatusMethodNotAllowed},
	} {
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "%sContent-Length: 60000\r\n\r\n{", tc.head)
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != tc.status || !resp.Close {
			t.Fatalf("%s with a body that never comes: %v %v, want %d at once, closing", tc.name, resp, err, tc.status)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		// And the server lets the connection go: it does not wait for
		// the rest of the body either.
		if _, err := br.ReadByte(); err != io.EOF {
			t.Fatalf("%s: after the answer, %v; want the server to close the connection", tc.name, err)
		}
		conn.Close()
	}
}

func TestWS_ClientFramesRateLimited(t *testing.T) {
	// One frame, then one every 1000 s: the second waits.
	h := newHub(t, halley.Config{ClientFrameRate: 0.001})
	srv := cometServer(t, h)
	waits := halley.FrameWaits(t)
	ws := dialWS(t, srv, "", nil)
	ws.send(`{"type":"subscribe","channel":"a"}`)
	ws.send(`{"type":"subscribe","channel":"b"}`)
	if f := ws.next(); f.Type != frame.TypeEnded || f.Channel != "a" {
		t.Fatalf("got %s, want the answer to the first frame", show(f))
	}
	select {
	case <-waits:
	case <-testCtx(t).Done():
		t.Fatal("the reader did not wait for the client's frame rate before its second frame")
	}
}
