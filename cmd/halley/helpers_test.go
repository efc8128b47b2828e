package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/halleyhq/halley/internal/wire/ocsigen"
)

// lineLog collects the lines a server writes to stdout and lets tests
// wait for one.
type lineLog struct {
	mu      sync.Mutex
	lines   []string
	ended   bool
	changed chan struct{} // closed and replaced on every new line
}

func newLineLog(r io.Reader) (*lineLog, <-chan struct{}) {
	l := &lineLog{changed: make(chan struct{})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			l.add(sc.Text(), false)
		}
		l.add("", true)
	}()
	return l, done
}

func (l *lineLog) add(line string, end bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if end {
		l.ended = true
	} else {
		l.lines = append(l.lines, line)
	}
	close(l.changed)
	l.changed = make(chan struct{})
}

// wait returns the first line from index from on that contains s, and
// the index after it.
func (l *lineLog) wait(t testing.TB, from int, s string) (string, int) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		l.mu.Lock()
		for i := from; i < len(l.lines); i++ {
			if strings.Contains(l.lines[i], s) {
				line := l.lines[i]
				l.mu.Unlock()
				return line, i + 1
			}
		}
		from = len(l.lines)
		ended, changed := l.ended, l.changed
		l.mu.Unlock()
		if ended {
			t.Fatalf("the server stopped without logging %q", s)
		}
		select {
		case <-changed:
		case <-timeout:
			t.Fatalf("no log line with %q after 10s", s)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testServer is a server running in-process on a free port.
type testServer struct {
	t      testing.TB
	url    string
	log    *lineLog
	stderr *syncBuffer
	client *http.Client
	key    string
	cancel context.CancelFunc
	done   chan int
	code   int
	exited bool
}

// startRun runs the program with args, as main would, and waits until it
// listens.
func startRun(t testing.TB, args ...string) *testServer {
	t.Helper()
	return start(t, func(ctx context.Context, stdout, stderr io.Writer) int {
		return run(ctx, args, stdout, stderr)
	})
}

// startServe runs serve with cfg, for settings no flag reaches.
func startServe(t testing.TB, cfg config) *testServer {
	t.Helper()
	return start(t, func(ctx context.Context, stdout, stderr io.Writer) int {
		return serve(ctx, cfg, stdout, stderr)
	})
}

func start(t testing.TB, main func(ctx context.Context, stdout, stderr io.Writer) int) *testServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	log, logDone := newLineLog(pr)
	s := &testServer{
		t:      t,
		log:    log,
		stderr: &syncBuffer{},
		client: &http.Client{Transport: &http.Transport{}},
		cancel: cancel,
		done:   make(chan int, 1),
	}
	go func() {
		code := main(ctx, pw, s.stderr)
		pw.Close()
		s.done <- code
	}()
	t.Cleanup(func() {
		s.stop()
		<-logDone
		s.client.CloseIdleConnections()
	})
	line, _ := log.wait(t, 0, "halley: listening on ")
	s.url = strings.TrimPrefix(line, "halley: listening on ")
	if !strings.HasPrefix(s.url, "http://127.0.0.1:") {
		t.Fatalf("listening line %q, want http://127.0.0.1:PORT", line)
	}
	return s
}

// stop cancels the server's context and returns its exit code.
func (s *testServer) stop() int {
	s.t.Helper()
	if s.exited {
		return s.code
	}
	s.cancel()
	select {
	case s.code = <-s.done:
		s.exited = true
	case <-time.After(15 * time.Second):
		s.t.Fatal("the server did not stop within 15s")
	}
	return s.code
}

// response is an HTTP answer read whole.
type response struct {
	status int
	header http.Header
	body   string
}

func (s *testServer) do(method, path, contentType, body string) response {
	s.t.Helper()
	req, err := http.NewRequest(method, s.url+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if s.key != "" {
		req.Header.Set("Authorization", "Bearer "+s.key)
	}
	res, err := s.client.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		s.t.Fatalf("%s %s: read: %v", method, path, err)
	}
	return response{status: res.StatusCode, header: res.Header, body: string(b)}
}

// pollResult is the answer of a /comet long poll.
type pollResult struct {
	status int
	body   string
	err    error
}

// poll starts a /comet long poll on ids.
func (s *testServer) poll(ids ...string) <-chan pollResult {
	done := make(chan pollResult, 1)
	go func() {
		res, err := s.client.Post(s.url+"/comet", ocsigen.MediaType, bytes.NewReader(ocsigen.EncodeRegistration(ids...)))
		if err != nil {
			done <- pollResult{err: err}
			return
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		done <- pollResult{status: res.StatusCode, body: string(b), err: err}
	}()
	return done
}

func waitPoll(t testing.TB, done <-chan pollResult) pollResult {
	t.Helper()
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatalf("poll: %v", r.err)
		}
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("poll: no answer after 10s")
		return pollResult{}
	}
}

// retry calls try until it reports true, failing after 10 s.
func retry(t testing.TB, what string, try func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for !try() {
		select {
		case <-ctx.Done():
			t.Fatalf("gave up waiting for %s", what)
		case <-time.After(time.Millisecond):
		}
	}
}

// waitListeners waits until the API reports n listeners on channel id.
func (s *testServer) waitListeners(id string, n int) {
	s.t.Helper()
	want := fmt.Sprintf(`"listeners":%d,`, n)
	retry(s.t, want, func() bool {
		return strings.Contains(s.do(http.MethodGet, "/api/channels/"+id, "", "").body, want)
	})
}
