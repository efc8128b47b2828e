package halley_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/halleyhq/halley"
)

func TestSession_ChannelDeadWhenFull(t *testing.T) {
	h := newHub(t, halley.Config{})
	s, err := h.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	c := newChannel(t, h, halley.ChannelOptions{Kind: halley.KindSession, Session: s, Size: 3})
	for i := 1; i <= 3; i++ {
		write(t, c, fmt.Sprint(i))
	}
	// The fourth unread message overflows the queue.
	if _, err := c.Write(testCtx(t), []byte("4")); !errors.Is(err, halley.ErrChannelFull) {
		t.Fatalf("overflowing write: %v, want ErrChannelFull", err)
	}
	// The unread messages are dropped: the client is told "full", once and
	// for good.
	for range 2 {
		if _, err := c.Read(testCtx(t), 0, 0); !errors.Is(err, halley.ErrChannelFull) {
			t.Fatalf("Read of a dead session channel: %v, want ErrChannelFull", err)
		}
	}
	if _, err := c.Write(testCtx(t), []byte("5")); !errors.Is(err, halley.ErrChannelFull) {
		t.Fatalf("write to a dead channel: %v", err)
	}
}

func TestSession_ReadAcknowledges(t *testing.T) {
	h := newHub(t, halley.Config{})
	s, _ := h.NewSession()
	c := newChannel(t, h, halley.ChannelOptions{Kind: halley.KindSession, Session: s, Size: 2})
	write(t, c, "a")
	write(t, c, "b")
	// Reading after 0 returns both but acknowledges nothing: a lost answer
	// can be asked again.
	for range 2 {
		msgs, err := c.Read(testCtx(t), 0, 0)
		if err != nil || !slices.Equal(datas(msgs), []string{"a", "b"}) {
			t.Fatalf("Read(0) = %v, %v", datas(msgs), err)
		}
	}
	// Reading after 2 acknowledges both, which makes room.
	go func() { _, _ = c.Read(testCtx(t), 2, 0) }()
	if err := c.WaitReaders(testCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	write(t, c, "c")
	write(t, c, "d")
	msgs, err := c.Read(testCtx(t), 2, 0)
	if err != nil || !slices.Equal(datas(msgs), []string{"c", "d"}) {
		t.Fatalf("Read(2) = %v, %v", datas(msgs), err)
	}
}

func TestSession_CloseReleasesChannels(t *testing.T) {
	h := newHub(t, halley.Config{})
	s, _ := h.NewSession()
	c := newChannel(t, h, halley.ChannelOptions{Kind: halley.KindSession, Session: s})
	other := newChannel(t, h, halley.ChannelOptions{Name: "site-wide"})
	s.Close()
	select {
	case <-s.Done():
	default:
		t.Fatal("Done not closed after Close")
	}
	if !c.Closed() || other.Closed() {
		t.Fatalf("after session close: its channel closed=%v, site channel closed=%v", c.Closed(), other.Closed())
	}
	if _, ok := h.Channel(c.ID()); ok {
		t.Fatal("session channel still registered")
	}
	if _, ok := h.Session(s.ID()); ok {
		t.Fatal("session still registered")
	}
	if _, err := h.NewChannel(testCtx(t), halley.ChannelOptions{Kind: halley.KindSession, Session: s}); !errors.Is(err, halley.ErrSessionClosed) {
		t.Fatalf("channel for a closed session: %v", err)
	}
	if h.ChannelCount() != 1 {
		t.Fatalf("ChannelCount %d, want 1", h.ChannelCount())
	}
}

func TestSession_InactivityTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, err := halley.New(halley.Config{SessionTimeout: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		defer h.Shutdown(context.Background())
		s, _ := h.NewSession()
		c, err := h.NewChannel(context.Background(), halley.ChannelOptions{Kind: halley.KindSession, Session: s})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(59 * time.Minute)
		s.Touch() // activity restarts the clock
		time.Sleep(59 * time.Minute)
		synctest.Wait()
		if c.Closed() {
			t.Fatal("session expired although it was touched within the timeout")
		}
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		if !c.Closed() || h.SessionCount() != 0 {
			t.Fatalf("after an idle hour: channel closed=%v, sessions %d", c.Closed(), h.SessionCount())
		}
	})
}

func TestSessionFor(t *testing.T) {
	h := newHub(t, halley.Config{})
	rec := httptest.NewRecorder()
	s, err := h.SessionFor(rec, httptest.NewRequest("GET", "/", nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := rec.Header().Get(halley.SessionHeader); got != s.ID() {
		t.Fatalf("session header %q, want %q", got, s.ID())
	}
	ck := rec.Result().Cookies()
	if len(ck) != 1 || ck[0].Name != halley.SessionCookie || ck[0].Value != s.ID() || !ck[0].HttpOnly {
		t.Fatalf("cookies %v", ck)
	}
	// The same client comes back by header, then by cookie.
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set(halley.SessionHeader, s.ID())
	if again, _ := h.SessionFor(httptest.NewRecorder(), req); again != s {
		t.Fatal("header did not find the session")
	}
	req = httptest.NewRequest("GET", "/", nil)
	req.AddCookie(ck[0])
	if again, _ := h.SessionFor(httptest.NewRecorder(), req); again != s {
		t.Fatal("cookie did not find the session")
	}
	if h.SessionCount() != 1 {
		t.Fatalf("%d sessions, want 1", h.SessionCount())
	}
}

func TestSession_TooManySessions(t *testing.T) {
	h := newHub(t, halley.Config{MaxSessions: 2})
	srv := cometServer(t, h)
	a, _ := h.NewSession()
	if _, err := h.NewSession(); err != nil {
		t.Fatal(err)
	}
	if _, err := h.NewSession(); !errors.Is(err, halley.ErrTooManySessions) || halley.Reason(err) != "too_many_sessions" {
		t.Fatalf("third session: %v", err)
	}
	// A client that needs a new session is refused clearly; one that has
	// a session goes on.
	if p := doPoll(t, srv, "", pollReq{Channels: []string{"x"}}); p.status != 429 || p.Error != "too_many_sessions" {
		t.Fatalf("poll without a session: %d %q", p.status, p.Error)
	}
	if p := doPoll(t, srv, a.ID(), pollReq{Channels: []string{"x"}}); p.status != 200 {
		t.Fatalf("poll with a session: %d %q", p.status, p.Error)
	}
	a.Close()
	if _, err := h.NewSession(); err != nil {
		t.Fatalf("after a session closed: %v", err)
	}
}
