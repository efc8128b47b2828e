package halley_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/internal/wire/ocsigen"
)

// cometServer serves the hub's transports on a real socket.
func cometServer(t testing.TB, h *halley.Hub) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h.Handler())
	t.Cleanup(srv.Close)
	if parkPolls {
		serveReturned(t, h, srv)
	}
	return srv
}

// parkPolls makes cometServer serve the hub's returned connections, so
// that its waiting polls park (TestPoll_ParkedSuite).
var parkPolls bool

type answer struct {
	status int
	ctype  string
	body   string
}

// poll sends one legacy long-poll with the raw body given.
func poll(t testing.TB, srv *httptest.Server, body string) answer {
	t.Helper()
	a, err := tryPoll(t, srv, body)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func tryPoll(t testing.TB, srv *httptest.Server, body string) (answer, error) {
	return tryPollAs(t, srv, "", body)
}

// pollAs is poll as the session with the given id.
func pollAs(t testing.TB, srv *httptest.Server, session, body string) answer {
	t.Helper()
	a, err := tryPollAs(t, srv, session, body)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func tryPollAs(t testing.TB, srv *httptest.Server, session, body string) (answer, error) {
	req, err := http.NewRequestWithContext(testCtx(t), "POST", srv.URL+"/comet", strings.NewReader(body))
	if err != nil {
		return answer{}, err
	}
	req.Header.Set("Content-Type", ocsigen.MediaType)
	if session != "" {
		req.Header.Set(halley.SessionHeader, session)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		return answer{}, fmt.Errorf("POST /comet: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, ctype: resp.Header.Get("Content-Type"), body: string(b)}, err
}

// pollAsync starts a long-poll and returns its answer channel.
func pollAsync(t testing.TB, srv *httptest.Server, ids ...string) <-chan answer {
	t.Helper()
	ch := make(chan answer, 1)
	body := string(ocsigen.EncodeRegistration(ids...))
	go func() {
		a, err := tryPoll(t, srv, body)
		if err != nil {
			t.Errorf("long-poll: %v", err)
		}
		ch <- a
	}()
	return ch
}

// golden compares got with testdata/comet/name.
func golden(t testing.TB, name, got string) {
	t.Helper()
	want, err := os.ReadFile(filepath.Join("testdata", "comet", name))
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Fatalf("answer differs from testdata/comet/%s:\n got %q\nwant %q", name, got, want)
	}
}

func TestComet_PublishPercentEncoded(t *testing.T) {
	h := newHub(t, halley.Config{})
	srv := cometServer(t, h)
	c := newChannel(t, h, halley.ChannelOptions{Name: "news"})
	ans := pollAsync(t, srv, "news")
	if err := c.WaitListeners(testCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	o := write(t, c, "hello world & more: 100% é\n")
	if o.Delivered != 1 || !o.Success() {
		t.Fatalf("outcome %+v, want delivered to the waiting client", o)
	}
	a := <-ans
	if a.status != 200 || a.ctype != "text/plain" {
		t.Fatalf("status %d, content type %q", a.status, a.ctype)
	}
	golden(t, "percent.txt", a.body)
}

func TestComet_Outcome(t *testing.T) {
	h := newHub(t, halley.Config{})
	srv := cometServer(t, h)
	c := newChannel(t, h, halley.ChannelOptions{})
	if o := write(t, c, "nobody"); o.Success() || o.Delivered != 0 {
		t.Fatalf("write with nobody waiting: %+v, want Failure", o)
	}
	a1, a2 := pollAsync(t, srv, c.ID()), pollAsync(t, srv, c.ID())
	if err := c.WaitListeners(testCtx(t), 2); err != nil {
		t.Fatal(err)
	}
	if o := write(t, c, "both"); o.Delivered != 2 {
		t.Fatalf("delivered %d, want 2", o.Delivered)
	}
	for _, a := range []answer{<-a1, <-a2} {
		if a.body != c.ID()+":both" {
			t.Fatalf("answer %q", a.body)
		}
	}
}

func TestComet_Listeners(t *testing.T) {
	h := newHub(t, halley.Config{})
	srv := cometServer(t, h)
	a := newChannel(t, h, halley.ChannelOptions{Name: "a"})
	b := newChannel(t, h, halley.ChannelOptions{Name: "b"})
	ans := pollAsync(t, srv, "a", "b")
	if err := a.WaitListeners(testCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	if err := b.WaitListeners(testCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	write(t, b, "x")
	if got := (<-ans).body; got != "b:x" {
		t.Fatalf("answer %q, want only the written channel", got)
	}
	// The request ended: it no longer counts.
	if a.Listeners() != 0 || b.Listeners() != 0 {
		t.Fatalf("listeners after the answer: a %d, b %d", a.Listeners(), b.Listeners())
	}
}

func TestComet_ClientGoneIsNotAListener(t *testing.T) {
	h := newHub(t, halley.Config{})
	srv := cometServer(t, h)
	c := newChannel(t, h, halley.ChannelOptions{Name: "a"})
	ctx, cancel := context.WithCancel(testCtx(t))
	req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/comet", bytes.NewReader(ocsigen.EncodeRegistration("a")))
	req.Header.Set("Content-Type", ocsigen.MediaType)
	done := make(chan error, 1)
	go func() {
		resp, err := srv.Client().Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	if err := c.WaitListeners(testCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled poll: %v", err)
	}
	// The server notices the closed connection and stops counting it.
	if err := c.WaitListenersExactly(testCtx(t), 0); err != nil {
		t.Fatal(err)
	}
	ans := pollAsync(t, srv, "a")
	if err := c.WaitListeners(testCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	if o := write(t, c, "still served"); o.Delivered != 1 {
		t.Fatalf("delivered %d, want 1", o.Delivered)
	}
	if got := (<-ans).body; got != "a:still%20served" {
		t.Fatalf("answer %q", got)
	}
}

func TestComet_EndedChannel(t *testing.T) {
	h := newHub(t, halley.Config{})
	srv := cometServer(t, h)
	newChannel(t, h, halley.ChannelOptions{Name: "live"})

	t.Run("UnknownOnly", func(t *testing.T) {
		a := poll(t, srv, string(ocsigen.EncodeRegistration("gone", "stateless:old")))
		if a.status != 200 || a.body != "gone:ENDED_CHANNEL\nstateless:old:ENDED_CHANNEL" {
			t.Fatalf("answer %d %q", a.status, a.body)
		}
	})
	t.Run("MixedAnswersAtOnce", func(t *testing.T) {
		a := poll(t, srv, string(ocsigen.EncodeRegistration("live", "gone")))
		if a.body != "gone:ENDED_CHANNEL" {
			t.Fatalf("answer %q", a.body)
		}
	})
	t.Run("ClosedWhileWaiting", func(t *testing.T) {
		c := newChannel(t, h, halley.ChannelOptions{Name: "closing"})
		ans := pollAsync(t, srv, "closing")
		if err := c.WaitListeners(testCtx(t), 1); err != nil {
			t.Fatal(err)
		}
		if err := c.Close(testCtx(t)); err != nil {
			t.Fatal(err)
		}
		if got := (<-ans).body; got != "closing:ENDED_CHANNEL" {
			t.Fatalf("answer %q", got)
		}
	})
}

func TestComet_Timeout(t *testing.T) {
	h := newHub(t, halley.Config{PollTimeout: time.Millisecond})
	srv := cometServer(t, h)
	newChannel(t, h, halley.ChannelOptions{Name: "quiet"})
	a := poll(t, srv, "registration=quiet")
	if a.status != 200 || a.body != "" {
		t.Fatalf("timeout answer %d %q, want an empty 200", a.status, a.body)
	}
}

func TestComet_SessionChannelLines(t *testing.T) {
	h := newHub(t, halley.Config{})
	srv := cometServer(t, h)
	s, _ := h.NewSession()
	c := newChannel(t, h, halley.ChannelOptions{Kind: halley.KindSession, Session: s, Size: 2, Name: "inbox"})
	write(t, c, "one")
	write(t, c, "two:2")
	// Queued messages come at once, one line each, joined by LF.
	golden(t, "session-lines.txt", pollAs(t, srv, s.ID(), "registration=inbox").body)
	// They were answered: the queue has room for two more.
	write(t, c, "three")
	write(t, c, "four")
	if got := pollAs(t, srv, s.ID(), "registration=inbox").body; got != "inbox:three\ninbox:four" {
		t.Fatalf("second answer %q", got)
	}
	// Overflow: the channel is dead and says it ended.
	write(t, c, "5")
	write(t, c, "6")
	if _, err := c.Write(testCtx(t), []byte("7")); !errors.Is(err, halley.ErrChannelFull) {
		t.Fatal(err)
	}
	if got := pollAs(t, srv, s.ID(), "registration=inbox").body; got != "inbox:ENDED_CHANNEL" {
		t.Fatalf("dead channel answer %q", got)
	}
}

func TestComet_NewestAndLazy(t *testing.T) {
	h := newHub(t, halley.Config{})
	srv := cometServer(t, h)
	newest := newChannel(t, h, halley.ChannelOptions{Kind: halley.KindNewest, Name: "price"})
	ans := pollAsync(t, srv, "price")
	if err := newest.WaitListeners(testCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	write(t, newest, "42")
	if got := (<-ans).body; got != "price:42" {
		t.Fatalf("newest answer %q", got)
	}
	newChannel(t, h, halley.ChannelOptions{Kind: halley.KindLazy, Name: "clock", Producer: func(context.Context) ([]byte, error) {
		return []byte("now"), nil
	}})
	if got := poll(t, srv, "registration=clock").body; got != "clock:now" {
		t.Fatalf("lazy answer %q", got)
	}
}

func TestComet_RegistrationEncoding(t *testing.T) {
	h := newHub(t, halley.Config{})
	srv := cometServer(t, h)
	newChannel(t, h, halley.ChannelOptions{Name: "a+b"})
	// %2B is a plus; a raw + is a space (form decoding), so "a b" is unknown.
	if got := poll(t, srv, "registration=a+b").body; got != "a b:ENDED_CHANNEL" {
		t.Fatalf("raw plus: %q", got)
	}
	ans := pollAsync(t, srv, "a+b")
	c, _ := h.Channel("a+b")
	if err := c.WaitListeners(testCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	write(t, c, "+")
	if got := (<-ans).body; got != "a+b:%2B" {
		t.Fatalf("%%2B registration: %q", got)
	}
}

func TestComet_BadRequests(t *testing.T) {
	h := newHub(t, halley.Config{MaxRequestBody: 1024})
	srv := cometServer(t, h)
	tests := []struct {
		name   string
		method string
		ctype  string
		body   string
		status int
		reason string
	}{
		{name: "EmptyRegistration", method: "POST", ctype: ocsigen.MediaType, body: "registration=", status: 400, reason: "Empty or incorrect registration"},
		{name: "NoRegistration", method: "POST", ctype: ocsigen.MediaType, body: "other=x", status: 400, reason: "Empty or incorrect registration"},
		{name: "BadEscape", method: "POST", ctype: ocsigen.MediaType, body: "registration=%zz", status: 400, reason: "Empty or incorrect registration"},
		{name: "WrongMediaType", method: "POST", ctype: "application/x-www-form-urlencoded", body: "registration=a", status: 415, reason: "unsupported media type: want application/x-ocsigen-comet"},
		{name: "MediaTypeWithParams", method: "POST", ctype: ocsigen.MediaType + "; charset=UTF-8", body: "registration=", status: 400, reason: "Empty or incorrect registration"},
		{name: "WrongMethod", method: "GET", ctype: ocsigen.MediaType, status: 405, reason: "method not allowed: use POST"},
		{name: "TooLarge", method: "POST", ctype: ocsigen.MediaType, body: "registration=" + strings.Repeat("x", 2000), status: 413, reason: "request body too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(testCtx(t), tt.method, srv.URL+"/comet", strings.NewReader(tt.body))
			req.Header.Set("Content-Type", tt.ctype)
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status || string(b) != tt.reason || resp.Header.Get("Content-Type") != "text/plain" {
				t.Fatalf("got %d %q (%s), want %d %q", resp.StatusCode, b, resp.Header.Get("Content-Type"), tt.status, tt.reason)
			}
		})
	}
}
