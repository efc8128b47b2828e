package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// startListen runs "halley listen" in the background, its stdout read
// line by line.
func startListen(t testing.TB, args ...string) *subRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	log, logDone := newLineLog(pr)
	s := &subRun{t: t, log: log, stderr: &syncBuffer{}, cancel: cancel, done: make(chan int, 1)}
	go func() {
		code := run(ctx, append([]string{"listen"}, args...), pw, s.stderr)
		pw.Close()
		s.done <- code
	}()
	t.Cleanup(func() {
		s.stop()
		<-logDone
	})
	return s
}

// notifyUntilHeard notifies data n on key until the answer counts one
// listener, and returns the n of that notification: the one the listener
// got.
func (s *testServer) notifyUntilHeard(key string) int {
	s.t.Helper()
	n := 0
	retry(s.t, "a listener of "+key, func() bool {
		n++
		body := fmt.Sprintf(`{"notifier":"docs","key":%q,"data":{"n":%d}}`, key, n)
		return s.do(http.MethodPost, "/api/notify", "application/json", body).body == `{"listeners":1}`+"\n"
	})
	return n
}

func TestListen(t *testing.T) {
	s := startDeclared(t)
	for _, tr := range []string{"ws", "sse", "poll"} {
		t.Run(tr, func(t *testing.T) {
			first, last := "doc-"+tr, "other-"+tr
			l := startListen(t, "--server", s.url, "--transport", tr, "docs", first, last)
			// listen listens on its keys in order: once the last one is
			// heard, so is the first.
			n := s.notifyUntilHeard(last)
			res := s.do(http.MethodPost, "/api/notify", "application/json", `{"notifier":"docs","key":"`+first+`","data":"text"}`)
			if res.body != `{"listeners":1}`+"\n" {
				t.Fatalf("notify: %d %s, want 1 listener", res.status, res.body)
			}
			l.expectLines(
				fmt.Sprintf(`{"notifier":"docs","key":"%s","data":{"n":%d}}`, last, n),
				`{"notifier":"docs","key":"`+first+`","data":"text"}`,
			)
			if code := l.stop(); code != 0 {
				t.Errorf("exit code after an interrupt = %d, want 0 (stderr %q)", code, l.stderr.String())
			}
		})
	}
}

func TestListen_Errors(t *testing.T) {
	s := startDeclared(t)
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{name: "unknown notifier", args: []string{"nope", "42"}, code: 1, stderr: "halley listen: unknown_notifier: "},
		{name: "no key", args: []string{"docs"}, code: 2, stderr: "want NOTIFIER and at least one KEY"},
		{name: "no argument", args: []string{}, code: 2, stderr: "usage: halley listen"},
		{name: "empty notifier", args: []string{"", "42"}, code: 2, stderr: "empty notifier name"},
		{name: "empty key", args: []string{"docs", "42", ""}, code: 2, stderr: "empty key"},
		{name: "bad transport", args: []string{"--transport", "pigeon", "docs", "42"}, code: 2, stderr: `unknown transport "pigeon"`},
		{name: "unknown flag", args: []string{"--nope", "docs", "42"}, code: 2, stderr: "flag provided but not defined"},
		{name: "help", args: []string{"-h"}, code: 0, stderr: `"gap":"channel_full"`},
		{name: "server down", args: []string{"--server", "http://127.0.0.1:1", "docs", "42"}, code: 1, stderr: "halley listen: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr syncBuffer
			args := append([]string{"listen", "--server", s.url}, tt.args...)
			if code := run(t.Context(), args, &stdout, &stderr); code != tt.code {
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
