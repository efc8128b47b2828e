package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/client"
	"github.com/halleyhq/halley/httpapi"
)

// hubServer serves a hub's transports at / and its API at /api/.
type hubServer struct {
	url string
	api *client.API
}

func newHubServer(t testing.TB) *hubServer {
	t.Helper()
	hub, err := halley.New(halley.Config{Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/", httpapi.New(hub, httpapi.Options{Logger: discard()}))
	mux.Handle("/", hub.Handler())
	ts := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := hub.Shutdown(ctx); err != nil {
			t.Errorf("hub shutdown: %v", err)
		}
		ts.Close()
	})
	return &hubServer{url: ts.URL, api: &client.API{URL: ts.URL, HTTPClient: ts.Client()}}
}

// pub runs "halley pub" and fails the test unless it succeeds.
func pub(t testing.TB, server, channel, data string) {
	t.Helper()
	var stdout, stderr syncBuffer
	if code := run(t.Context(), []string{"pub", "--server", server, channel, data}, &stdout, &stderr); code != 0 {
		t.Fatalf("pub %q: exit %d, stderr %q", data, code, stderr.String())
	}
}

// subRun is "halley sub" running in the background, its stdout read line
// by line.
type subRun struct {
	t      testing.TB
	log    *lineLog
	stderr *syncBuffer
	cancel context.CancelFunc
	done   chan int
	code   int
	exited bool
}

func startSub(t testing.TB, args ...string) *subRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	log, logDone := newLineLog(pr)
	s := &subRun{t: t, log: log, stderr: &syncBuffer{}, cancel: cancel, done: make(chan int, 1)}
	go func() {
		code := run(ctx, append([]string{"sub"}, args...), pw, s.stderr)
		pw.Close()
		s.done <- code
	}()
	t.Cleanup(func() {
		s.stop()
		<-logDone
	})
	return s
}

// wait returns the exit code, once sub has stopped by itself.
func (s *subRun) wait() int {
	s.t.Helper()
	if !s.exited {
		select {
		case s.code = <-s.done:
			s.exited = true
		case <-time.After(10 * time.Second):
			s.t.Fatal("sub did not stop within 10s")
		}
	}
	return s.code
}

// stop interrupts sub and returns its exit code.
func (s *subRun) stop() int {
	s.t.Helper()
	s.cancel()
	return s.wait()
}

// expectLines waits for the lines, in order, and checks them whole.
func (s *subRun) expectLines(lines ...string) {
	s.t.Helper()
	from := 0
	for _, want := range lines {
		// Wait on the line's first field, then compare it all.
		key := want[:strings.Index(want, ",")]
		var got string
		got, from = s.log.wait(s.t, from, key)
		if got != want {
			s.t.Errorf("sub printed %s, want %s", got, want)
		}
	}
}

func TestSub(t *testing.T) {
	for _, tr := range []string{"ws", "sse", "poll"} {
		t.Run(tr, func(t *testing.T) {
			h := newHubServer(t)
			if _, err := h.api.CreateChannel(t.Context(), "news", "", 0); err != nil {
				t.Fatal(err)
			}
			pub(t, h.url, "news", "first <&>")
			// --last 10 reads the first message whenever sub connects, and
			// so every message after it.
			s := startSub(t, "--server", h.url, "--transport", tr, "--last", "10", "news")
			pub(t, h.url, "news", `{"n": [1, 2]}`)
			s.expectLines(
				`{"channel":"news","offset":1,"data":"first <&>"}`,
				`{"channel":"news","offset":2,"data":{"n":[1,2]}}`,
			)
			if code := s.stop(); code != 0 {
				t.Errorf("exit code after an interrupt = %d, want 0 (stderr %q)", code, s.stderr.String())
			}
		})
	}
}

func TestSub_EndedChannelsStopIt(t *testing.T) {
	h := newHubServer(t)
	if _, err := h.api.CreateChannel(t.Context(), "closing", "", 0); err != nil {
		t.Fatal(err)
	}
	s := startSub(t, "--server", h.url, "--transport", "poll", "--last", "1", "closing")
	pub(t, h.url, "closing", "last words")
	// Once the message is printed, sub is reading the channel: delete it.
	_, from := s.log.wait(t, 0, `{"channel":"closing","offset":1,"data":"last words"}`)
	if err := h.api.DeleteChannel(t.Context(), "closing"); err != nil {
		t.Fatal(err)
	}
	// Connected at the deletion, the stream says channel_ended; polling
	// just after it, the channel is unknown: both end it.
	line, _ := s.log.wait(t, from, `{"channel":"closing","ended":`)
	if line != `{"channel":"closing","ended":"channel_ended"}` && line != `{"channel":"closing","ended":"unknown_channel"}` {
		t.Errorf("sub printed %s", line)
	}
	if code := s.wait(); code != 0 {
		t.Errorf("exit code = %d, want 0 once every channel ended (stderr %q)", code, s.stderr.String())
	}
}

// TestSub_WaitsForChannel is the issue's own check: "halley sub news"
// before the channel exists, then "halley pub news hi", shows the message.
func TestSub_WaitsForChannel(t *testing.T) {
	for _, tr := range []string{"ws", "sse", "poll"} {
		t.Run(tr, func(t *testing.T) {
			h := newHubServer(t)
			s := startSub(t, "--server", h.url, "--transport", tr, "news")
			// As a person would: publish once sub says it waits.
			retry(t, "sub waiting for the channel", func() bool {
				return strings.Contains(s.stderr.String(), `channel "news" does not exist yet`)
			})
			pub(t, h.url, "news", "hi")
			s.expectLines(`{"channel":"news","offset":1,"data":"hi"}`)
		})
	}
}

func TestSub_LastMoreThanRetained(t *testing.T) {
	h := newHubServer(t)
	if _, err := h.api.CreateChannel(t.Context(), "ring", "", 2); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"a", "b", "c"} {
		pub(t, h.url, "ring", d)
	}
	// --last asks for more than the ring holds: sub prints what is
	// retained.
	s := startSub(t, "--server", h.url, "--transport", "poll", "--last", "5", "ring")
	s.expectLines(
		`{"channel":"ring","offset":2,"data":"b"}`,
		`{"channel":"ring","offset":3,"data":"c"}`,
	)
}

func TestSub_Errors(t *testing.T) {
	h := newHubServer(t)
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{name: "no channel", args: []string{}, code: 2, stderr: "no channel"},
		{name: "bad transport", args: []string{"--transport", "pigeon", "news"}, code: 2, stderr: `unknown transport "pigeon"`},
		{name: "negative last", args: []string{"--last", "-1", "news"}, code: 2, stderr: "--last must not be negative"},
		{name: "empty channel", args: []string{""}, code: 2, stderr: "empty channel name"},
		{name: "unknown flag", args: []string{"--nope", "news"}, code: 2, stderr: "flag provided but not defined"},
		{name: "help", args: []string{"-h"}, code: 0, stderr: `"gap":"channel_full"`},
		{name: "not a hub", args: []string{"--server", h.url + "/nowhere", "--transport", "poll", "news"}, code: 1, stderr: "halley sub: "},
		{name: "bad URL", args: []string{"--server", "127.0.0.1:8080", "news"}, code: 1, stderr: "server URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr syncBuffer
			if code := run(t.Context(), append([]string{"sub"}, tt.args...), &stdout, &stderr); code != tt.code {
				t.Errorf("exit code = %d, want %d (stderr %q)", code, tt.code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("stderr = %q, want it to contain %q", stderr.String(), tt.stderr)
			}
			if stdout.String() != "" {
				t.Errorf("stdout = %q, want nothing", stdout.String())
			}
		})
	}
}

// TestSub_Serve runs pub and sub against "halley serve" itself.
func TestSub_Serve(t *testing.T) {
	s := startRun(t, "--addr", "127.0.0.1:0", "--demo=false")
	for _, tr := range []string{"ws", "sse", "poll"} {
		t.Run(tr, func(t *testing.T) {
			ch := "news-" + tr
			if res := s.do(http.MethodPost, "/api/channels", "application/json", `{"name":"`+ch+`"}`); res.status != http.StatusCreated {
				t.Fatalf("create: %d %s", res.status, res.body)
			}
			pub(t, s.url, ch, "hello")
			sub := startSub(t, "--server", s.url, "--transport", tr, "--last", "10", ch)
			pub(t, s.url, ch, "world")
			sub.expectLines(
				`{"channel":"`+ch+`","offset":1,"data":"hello"}`,
				`{"channel":"`+ch+`","offset":2,"data":"world"}`,
			)
			if code := sub.stop(); code != 0 {
				t.Errorf("exit code = %d, want 0 (stderr %q)", code, sub.stderr.String())
			}
		})
	}
}

// TestSub_ResumeWithCursor: a sub that is stopped prints its cursor; a new
// one started with it gets exactly what came meanwhile.
func TestSub_ResumeWithCursor(t *testing.T) {
	h := newHubServer(t)
	if _, err := h.api.CreateChannel(t.Context(), "news", "", 0); err != nil {
		t.Fatal(err)
	}
	pub(t, h.url, "news", "one")
	s := startSub(t, "--server", h.url, "--transport", "sse", "--last", "10", "news")
	s.expectLines(`{"channel":"news","offset":1,"data":"one"}`)
	if code := s.stop(); code != 0 {
		t.Fatalf("exit %d", code)
	}
	_, cur, ok := strings.Cut(s.stderr.String(), "resume with --cursor '")
	cur, _, _ = strings.Cut(cur, "'")
	if !ok || !strings.HasPrefix(cur, "news:1:") {
		t.Fatalf("no cursor on exit: %q", s.stderr.String())
	}
	pub(t, h.url, "news", "two")
	pub(t, h.url, "news", "three")
	// Lines are checked in order from the first: a repeat of "one" would
	// fail the first comparison.
	again := startSub(t, "--server", h.url, "--transport", "poll", "--cursor", cur)
	again.expectLines(
		`{"channel":"news","offset":2,"data":"two"}`,
		`{"channel":"news","offset":3,"data":"three"}`,
	)
}
