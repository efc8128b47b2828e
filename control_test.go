package halley_test

import (
	"errors"
	"testing"
	"time"

	"github.com/halleyhq/halley"
)

func TestCommand_Deactivate(t *testing.T) {
	h := newHub(t, halley.Config{})
	srv := cometServer(t, h)
	c := newChannel(t, h, halley.ChannelOptions{Name: "a"})
	waiting := pollAsync(t, srv, "a")
	if err := c.WaitListeners(testCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	if err := h.Command("comet:deactivate"); err != nil {
		t.Fatal(err)
	}
	if a := <-waiting; a.status != 503 || a.body != "" {
		t.Fatalf("waiting request after deactivate: %d %q, want an empty 503", a.status, a.body)
	}
	if a := poll(t, srv, "registration=a"); a.status != 503 {
		t.Fatalf("new request while deactivated: %d", a.status)
	}
	if h.Active() {
		t.Fatal("Active after deactivate")
	}
	// Writes still work while deactivated.
	write(t, c, "meanwhile")
	if err := h.Command("comet:activate"); err != nil {
		t.Fatal(err)
	}
	ans := pollAsync(t, srv, "a")
	if err := c.WaitListeners(testCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	write(t, c, "back")
	if a := <-ans; a.status != 200 || a.body != "a:back" {
		t.Fatalf("after activate: %d %q", a.status, a.body)
	}
	if err := h.Command("comet:activate"); err != nil || !h.Active() {
		t.Fatalf("activate twice: %v", err)
	}
}

func TestCommand_SetTimeout(t *testing.T) {
	h := newHub(t, halley.Config{PollTimeout: time.Hour})
	srv := cometServer(t, h)
	c := newChannel(t, h, halley.ChannelOptions{Name: "a"})
	old := pollAsync(t, srv, "a")
	if err := c.WaitListeners(testCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	if err := h.Command("comet:set_timeout 0.001"); err != nil {
		t.Fatal(err)
	}
	if h.PollTimeout() != time.Millisecond {
		t.Fatalf("PollTimeout %v", h.PollTimeout())
	}
	// A new request gets the new timeout...
	if a := poll(t, srv, "registration=a"); a.status != 200 || a.body != "" {
		t.Fatalf("new request: %d %q, want the empty timeout answer", a.status, a.body)
	}
	// ...while the one under way keeps its old timeout and still waits.
	if n := c.Listeners(); n != 1 {
		t.Fatalf("listeners %d: the old request should still wait", n)
	}
	write(t, c, "x")
	if a := <-old; a.body != "a:x" {
		t.Fatalf("old request: %q", a.body)
	}
}

func TestCommand_SetTimeoutKill(t *testing.T) {
	h := newHub(t, halley.Config{PollTimeout: time.Hour})
	srv := cometServer(t, h)
	c := newChannel(t, h, halley.ChannelOptions{Name: "a"})
	waiting := pollAsync(t, srv, "a")
	if err := c.WaitListeners(testCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	if err := h.Command("comet:set_timeout 5 KILL"); err != nil {
		t.Fatal(err)
	}
	if a := <-waiting; a.status != 503 {
		t.Fatalf("killed request: %d", a.status)
	}
	if h.PollTimeout() != 5*time.Second || !h.Active() {
		t.Fatalf("after set_timeout KILL: timeout %v, active %v", h.PollTimeout(), h.Active())
	}
}

func TestCommand_Unknown(t *testing.T) {
	h := newHub(t, halley.Config{})
	for _, line := range []string{"comet:frobnicate", "comet:set_timeout", "comet:set_timeout x", "comet:set_timeout 1 NOW", "other:activate", ""} {
		if err := h.Command(line); !errors.Is(err, halley.ErrUnknownCommand) {
			t.Errorf("Command(%q) = %v, want ErrUnknownCommand", line, err)
		}
	}
	if !h.Active() || h.PollTimeout() != halley.DefaultPollTimeout {
		t.Fatal("a refused command changed the hub")
	}
}

func TestShutdown_AnswersWaitingClients(t *testing.T) {
	h, err := halley.New(halley.Config{})
	if err != nil {
		t.Fatal(err)
	}
	srv := cometServer(t, h)
	c := newChannel(t, h, halley.ChannelOptions{Name: "a"})
	waiting := pollAsync(t, srv, "a")
	if err := c.WaitListeners(testCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	if err := h.Shutdown(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if a := <-waiting; a.status != 200 || a.body != "" {
		t.Fatalf("waiting request at shutdown: %d %q, want the empty timeout answer", a.status, a.body)
	}
	if a := poll(t, srv, "registration=a"); a.status != 503 {
		t.Fatalf("request after shutdown: %d", a.status)
	}
	if _, err := c.Write(testCtx(t), []byte("x")); halley.Reason(err) != "shutdown" {
		t.Fatalf("write after shutdown: %v", err)
	}
	if _, err := h.NewChannel(testCtx(t), halley.ChannelOptions{}); !errors.Is(err, halley.ErrShutdown) {
		t.Fatalf("NewChannel after shutdown: %v", err)
	}
}
