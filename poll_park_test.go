package halley_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"
	"weak"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/internal/wire/ocsigen"
)

// parkServer serves h with its returned connections served too, as
// ReturnedConns asks; both stop when the test ends.
func parkServer(t *testing.T, h *halley.Hub) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h.Handler())
	serveReturned(t, h, srv)
	return srv
}

// serveReturned serves h's returned connections with srv's server until
// the test ends. That ends first, before srv closes: httptest's Close
// must not see connections come in while it waits for the others.
func serveReturned(t testing.TB, h *halley.Hub, srv *httptest.Server) {
	t.Helper()
	done := make(chan struct{})
	l := h.ReturnedConns() // polls park from now on
	go func() {
		defer close(done)
		_ = srv.Config.Serve(l)
	}()
	t.Cleanup(func() {
		_ = l.Close()
		<-done
		srv.Close()
	})
}

// parkedGoroutines counts the goroutines of parked polls (their readers)
// and those of polls waiting in their handler.
func parkedGoroutines() (parked, waiting int) {
	buf := make([]byte, 4<<20)
	buf = buf[:runtime.Stack(buf, true)]
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		switch {
		case strings.Contains(g, "halley.(*parkedPoll).read"):
			parked++
		case strings.Contains(g, "halley.(*Hub).servePoll"):
			waiting++
		}
	}
	return parked, waiting
}

// waitParked waits until n polls are parked and none waits in its
// handler.
func waitParked(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		parked, waiting := parkedGoroutines()
		if parked == n && waiting == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d polls parked and %d waiting in their handler, want %d and 0", parked, waiting, n)
		}
		runtime.Gosched()
	}
}

// TestPoll_Parked: with ReturnedConns served, a waiting poll leaves its
// handler (one goroutine of its own, its reader), answers the message
// that comes, and its connection serves the client's next poll, which
// parks too and answers empty at the timeout.
func TestPoll_Parked(t *testing.T) {
	h := newHub(t, halley.Config{PollTimeout: time.Hour})
	srv := parkServer(t, h)
	c := newChannel(t, h, halley.ChannelOptions{Name: "news"})
	hc := srv.Client()

	first, _ := pollOn(t, hc, srv.URL, "", pollReq{Channels: []string{"news"}})
	if first.status != 200 || len(first.Frames) != 1 {
		t.Fatalf("first answer %+v", first)
	}
	const n = 5
	answers := make(chan pollAnswer, n)
	reusedAll := make(chan bool, n)
	for range n {
		go func() {
			a, reused := pollOn(t, hc, srv.URL, first.Session, pollReq{Cursor: first.Cursor})
			answers <- a
			reusedAll <- reused
		}()
	}
	if err := c.WaitListenersExactly(testCtx(t), n); err != nil {
		t.Fatal(err)
	}
	waitParked(t, n)
	write(t, c, "hello")
	var cursor string
	for range n {
		a := <-answers
		fs := a.frames(t)
		if a.status != 200 || len(fs) != 1 || fs[0].Type != "msg" || !strings.Contains(string(a.Frames[0]), `"data":"hello"`) {
			t.Fatalf("parked poll's answer %+v", a)
		}
		cursor = a.Cursor
		<-reusedAll
	}

	// The next poll goes on a connection given back, parks, and answers
	// at the timeout.
	h.SetPollTimeout(50*time.Millisecond, false)
	a, reused := pollOn(t, hc, srv.URL, first.Session, pollReq{Cursor: cursor})
	if a.status != 200 || len(a.Frames) != 0 || a.Cursor != cursor {
		t.Fatalf("answer at the timeout %+v", a)
	}
	if !reused {
		t.Error("the poll after a parked one went on a new connection: the connection was not given back")
	}
}

// TestPoll_ParkedClientGone: a client that leaves a parked poll frees
// its request slot at once (a limit of one request per address lets the
// next in), and the poll's goroutine ends.
func TestPoll_ParkedClientGone(t *testing.T) {
	h := newHub(t, halley.Config{PollTimeout: time.Hour, MaxConnsPerIP: 1})
	srv := parkServer(t, h)
	c := newChannel(t, h, halley.ChannelOptions{Name: "news"})
	first, _ := pollOn(t, srv.Client(), srv.URL, "", pollReq{Channels: []string{"news"}})

	ctx, cancel := context.WithCancel(testCtx(t))
	left := make(chan error, 1)
	go func() {
		b, _ := json.Marshal(pollReq{Cursor: first.Cursor})
		req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/poll", bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(halley.SessionHeader, first.Session)
		_, err := srv.Client().Do(req)
		left <- err
	}()
	if err := c.WaitListenersExactly(testCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	waitParked(t, 1)
	cancel() // the client closes the connection
	if err := <-left; !errors.Is(err, context.Canceled) {
		t.Fatalf("the abandoned poll: %v", err)
	}
	if err := c.WaitListenersExactly(testCtx(t), 0); err != nil {
		t.Fatalf("the parked poll still listens after its client left: %v", err)
	}
	waitParked(t, 0)
	h.SetPollTimeout(time.Millisecond, false)
	if a, _ := pollOn(t, srv.Client(), srv.URL, first.Session, pollReq{Cursor: first.Cursor}); a.status != 200 {
		t.Fatalf("the next poll from the same address: %d %s, want 200 (the slot free)", a.status, a.Error)
	}
}

// TestPoll_ParkedControl: parked polls answer a deactivation with 503
// deactivated and the hub's shutdown as a timeout, closing the
// connection after both.
func TestPoll_ParkedControl(t *testing.T) {
	for _, tc := range []struct {
		name   string
		act    func(h *halley.Hub)
		status int
		close  bool
	}{
		{"deactivate", func(h *halley.Hub) { h.Deactivate() }, 503, true},
		{"shutdown", func(h *halley.Hub) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = h.Shutdown(ctx)
		}, 200, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHub(t, halley.Config{PollTimeout: time.Hour})
			srv := parkServer(t, h)
			c := newChannel(t, h, halley.ChannelOptions{Name: "news"})
			first, _ := pollOn(t, srv.Client(), srv.URL, "", pollReq{Channels: []string{"news"}})
			conn, br := rawPoll(t, srv, first.Session, first.Cursor)
			if err := c.WaitListenersExactly(testCtx(t), 1); err != nil {
				t.Fatal(err)
			}
			waitParked(t, 1)
			tc.act(h)
			res, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tc.status || res.Close != tc.close {
				t.Fatalf("answer %d (closes: %v) %s, want %d (closes: %v)", res.StatusCode, res.Close, body, tc.status, tc.close)
			}
			if tc.status == 503 && !strings.Contains(string(body), `"error":"deactivated"`) {
				t.Errorf("503 body %s", body)
			}
			conn.Close()
		})
	}
}

// rawPoll sends a waiting poll on a connection of its own.
func rawPoll(t *testing.T, srv *httptest.Server, session, cursor string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	body := fmt.Sprintf(`{"cursor":%q}`, cursor)
	fmt.Fprintf(conn, "POST /poll HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n%s: %s\r\nContent-Length: %d\r\n\r\n%s",
		halley.SessionHeader, session, len(body), body)
	return conn, bufio.NewReader(conn)
}

// TestPoll_ParkedPipelined: a poll followed at once by another request
// on its connection answers, then closes the connection (the request
// after it was taken from net/http with it).
func TestPoll_ParkedPipelined(t *testing.T) {
	h := newHub(t, halley.Config{PollTimeout: time.Hour})
	srv := parkServer(t, h)
	c := newChannel(t, h, halley.ChannelOptions{Name: "news"})
	first, _ := pollOn(t, srv.Client(), srv.URL, "", pollReq{Channels: []string{"news"}})
	conn, br := rawPoll(t, srv, first.Session, first.Cursor)
	fmt.Fprint(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	if err := c.WaitListenersExactly(testCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	waitParked(t, 1)
	write(t, c, "hello")
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || !res.Close || !strings.Contains(string(body), "hello") {
		t.Fatalf("answer %d (closes: %v) %s, want 200 with the message, closing", res.StatusCode, res.Close, body)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("after the answer: %v, want the connection closed", err)
	}
}

// TestPoll_ParkedTLS: over TLS, a parked poll's connection (a *tls.Conn,
// read with deadlines while it waited) serves the next request.
func TestPoll_ParkedTLS(t *testing.T) {
	h := newHub(t, halley.Config{PollTimeout: time.Hour})
	srv := httptest.NewUnstartedServer(h.Handler())
	srv.StartTLS() // HTTP/1.1: httptest's TLS server does not offer h2
	serveReturned(t, h, srv)
	c := newChannel(t, h, halley.ChannelOptions{Name: "news"})
	hc := srv.Client()
	first, _ := pollOn(t, hc, srv.URL, "", pollReq{Channels: []string{"news"}})
	got := make(chan pollAnswer, 1)
	go func() {
		a, _ := pollOn(t, hc, srv.URL, first.Session, pollReq{Cursor: first.Cursor})
		got <- a
	}()
	if err := c.WaitListenersExactly(testCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	waitParked(t, 1)
	write(t, c, "over tls")
	a := <-got
	if a.status != 200 || len(a.Frames) != 1 || !strings.Contains(string(a.Frames[0]), `"data":"over tls"`) {
		t.Fatalf("parked TLS poll's answer %+v", a)
	}
	h.SetPollTimeout(time.Millisecond, false)
	b, reused := pollOn(t, hc, srv.URL, first.Session, pollReq{Cursor: a.Cursor})
	if b.status != 200 || b.Cursor != a.Cursor || !reused {
		t.Fatalf("the next poll: %+v, on the same connection: %v", b, reused)
	}
}

// TestPoll_ParkedSuite runs the tests of both long polls again with their
// waiting requests parked: the answers are the same, byte for byte.
func TestPoll_ParkedSuite(t *testing.T) {
	parkPolls = true
	defer func() { parkPolls = false }()
	for _, tc := range []struct {
		name string
		f    func(*testing.T)
	}{
		{"Comet_PublishPercentEncoded", TestComet_PublishPercentEncoded},
		{"Comet_Outcome", TestComet_Outcome},
		{"Comet_Listeners", TestComet_Listeners},
		{"Comet_ClientGoneIsNotAListener", TestComet_ClientGoneIsNotAListener},
		{"Comet_EndedChannel", TestComet_EndedChannel},
		{"Comet_Timeout", TestComet_Timeout},
		{"Comet_SessionChannelLines", TestComet_SessionChannelLines},
		{"Comet_NewestAndLazy", TestComet_NewestAndLazy},
		{"Poll_SubscribeThenReceive", TestPoll_SubscribeThenReceive},
		{"Poll_LostAnswerIsRepeated", TestPoll_LostAnswerIsRepeated},
		{"Poll_SessionChannelReplay", TestPoll_SessionChannelReplay},
		{"Poll_GapAndUnknownPosition", TestPoll_GapAndUnknownPosition},
		{"Poll_Ended", TestPoll_Ended},
		{"Poll_TimeoutAndControl", TestPoll_TimeoutAndControl},
	} {
		t.Run(tc.name, tc.f)
	}
}

// TestComet_Parked: a legacy comet request that waits is parked, answers
// the message that comes as it would have, and its connection serves the
// next request; a deactivation answers 503 and closes.
func TestComet_Parked(t *testing.T) {
	h := newHub(t, halley.Config{PollTimeout: time.Hour})
	srv := parkServer(t, h)
	c := newChannel(t, h, halley.ChannelOptions{Name: "news"})
	got := make(chan answer, 1)
	go func() {
		a, err := tryPoll(t, srv, "registration=news")
		if err != nil {
			t.Errorf("comet poll: %v", err)
		}
		got <- a
	}()
	if err := c.WaitListenersExactly(testCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	waitParked(t, 1)
	write(t, c, "hello world & more: 100% é\n")
	a := <-got
	if a.status != 200 || a.ctype != "text/plain" {
		t.Fatalf("parked comet answer: status %d, content type %q", a.status, a.ctype)
	}
	golden(t, "percent.txt", a.body)

	conn, br := rawComet(t, srv, "registration=news")
	if err := c.WaitListenersExactly(testCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	waitParked(t, 1)
	h.Deactivate()
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 503 || !res.Close {
		t.Fatalf("deactivated: %d (closes: %v), want 503 closing", res.StatusCode, res.Close)
	}
	conn.Close()
}

// rawComet sends a comet request on a connection of its own.
func rawComet(t *testing.T, srv *httptest.Server, body string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "POST /comet HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n%s",
		ocsigen.MediaType, len(body), body)
	return conn, bufio.NewReader(conn)
}

// TestPoll_ParkableLeavesNothing: polls that could park but answer at
// once (there was something to say) leave no waiter behind for kills and
// the shutdown to wake.
func TestPoll_ParkableLeavesNothing(t *testing.T) {
	h := newHub(t, halley.Config{PollTimeout: time.Hour})
	srv := parkServer(t, h)
	c := newChannel(t, h, halley.ChannelOptions{Name: "news"})
	write(t, c, "one")
	s, _ := h.NewSession()
	inbox := newChannel(t, h, halley.ChannelOptions{Kind: halley.KindSession, Session: s, Name: "inbox"})
	for i := range 3 {
		write(t, inbox, fmt.Sprint(i))
		// A session channel's queued message comes at once.
		if a := pollAs(t, srv, s.ID(), "registration=inbox"); a.status != 200 || a.body != fmt.Sprintf("inbox:%d", i) {
			t.Fatalf("comet answer %d %q", a.status, a.body)
		}
		if a := doPoll(t, srv, "", pollReq{Channels: []string{"news"}, Last: 1}); a.status != 200 || len(a.Frames) != 2 {
			t.Fatalf("poll answer %+v", a)
		}
	}
	if n := h.Watched(); n != 0 {
		t.Fatalf("%d waiters left for kills to wake after the answers, want 0", n)
	}
}

// TestPoll_ParkedKeepsNoRequest: a parked poll keeps nothing of its
// request (whose body holds net/http's buffer of the connection): once
// parked, the request can be collected.
func TestPoll_ParkedKeepsNoRequest(t *testing.T) {
	h := newHub(t, halley.Config{PollTimeout: time.Hour})
	reqs := make(chan weak.Pointer[http.Request], 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reqs <- weak.Make(r)
		h.Handler().ServeHTTP(w, r)
	}))
	serveReturned(t, h, srv)
	newChannel(t, h, halley.ChannelOptions{Name: "news"})
	hc := srv.Client()
	first, _ := pollOn(t, hc, srv.URL, "", pollReq{Channels: []string{"news"}})
	if first.status != 200 {
		t.Fatalf("first answer %+v", first)
	}
	<-reqs
	done := make(chan struct{})
	go func() {
		defer close(done)
		pollOn(t, hc, srv.URL, first.Session, pollReq{Cursor: first.Cursor})
	}()
	parked := <-reqs
	waitParked(t, 1)
	runtime.GC()
	runtime.GC()
	if parked.Value() != nil {
		t.Fatal("a parked poll keeps its request")
	}
	h.SetPollTimeout(time.Millisecond, true)
	<-done
}
