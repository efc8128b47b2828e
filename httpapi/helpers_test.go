package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/httpapi"
	"github.com/halleyhq/halley/internal/wire/ocsigen"
)

// testEnv is a hub served over a real socket: the API at /api/ and the
// comet transport at /comet.
type testEnv struct {
	t   testing.TB
	hub *halley.Hub
	srv *httptest.Server
	key string
}

func newEnv(t testing.TB, cfg halley.Config, opts httpapi.Options) *testEnv {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	if cfg.Logger == nil {
		cfg.Logger = quiet
	}
	if opts.Logger == nil {
		opts.Logger = quiet
	}
	if takeOverAll {
		opts.TakeOver = true
	}
	hub, err := halley.New(cfg)
	if err != nil {
		t.Fatalf("halley.New: %v", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/", httpapi.New(hub, opts))
	mux.Handle("/comet", hub.Handler())
	mux.Handle("/sse", hub.SSEHandler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	// The port may be an earlier test server's: its counts are not ours.
	forgetServer(srv.Listener.Addr().String())
	if opts.TakeOver {
		serveReturned(t, srv.Config, hub)
	}
	// Cleanups run last first: the hub answers waiting polls before the
	// server waits for its connections.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := hub.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return &testEnv{t: t, hub: hub, srv: srv, key: opts.APIKey}
}

// serveReturned serves the hub's returned connections with srv until the
// test's end (before srv's own cleanup, registered earlier, runs).
func serveReturned(t testing.TB, srv *http.Server, hub *halley.Hub) {
	t.Helper()
	rl := hub.ReturnedConns()
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(rl)
	}()
	t.Cleanup(func() {
		_ = rl.Close()
		<-served
	})
}

// response is an HTTP answer read whole.
type response struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the answer's body as a JSON object.
func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("answer %d %q is not a JSON object: %v", r.status, r.body, err)
	}
	return m
}

// do sends a request with the env's API key, if any.
func (e *testEnv) do(method, path, contentType, body string) response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatalf("NewRequest: %v", err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if e.key != "" {
		req.Header.Set("Authorization", "Bearer "+e.key)
	}
	return e.send(req)
}

func (e *testEnv) send(req *http.Request) response {
	e.t.Helper()
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatalf("%s %s: read body: %v", req.Method, req.URL, err)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}
}

// post sends v as a JSON body.
func (e *testEnv) post(path string, v any) response {
	e.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		e.t.Fatalf("Marshal: %v", err)
	}
	return e.do(http.MethodPost, path, "application/json", string(b))
}

// createChannel creates a channel and returns its id.
func (e *testEnv) createChannel(body map[string]any) string {
	e.t.Helper()
	if body == nil {
		body = map[string]any{}
	}
	res := e.post("/api/channels", body)
	if res.status != http.StatusCreated {
		e.t.Fatalf("create channel: %d %s", res.status, res.body)
	}
	return res.json(e.t)["id"].(string)
}

// expectError checks an error answer's status and reason.
func expectError(t testing.TB, res response, status int, reason string) {
	t.Helper()
	if res.status != status {
		t.Fatalf("status = %d, want %d (body %s)", res.status, status, res.body)
	}
	if ct := res.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	m := res.json(t)
	if m["error"] != reason {
		t.Errorf("error = %v, want %q (body %s)", m["error"], reason, res.body)
	}
	if msg, _ := m["message"].(string); msg == "" {
		t.Errorf("no message in %s", res.body)
	}
}

// pollResult is the answer of a /comet long poll.
type pollResult struct {
	status int
	body   string
	err    error
}

// poll starts a /comet long poll on ids and returns where its answer
// arrives.
func (e *testEnv) poll(ids ...string) <-chan pollResult {
	done := make(chan pollResult, 1)
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+"/comet", bytes.NewReader(ocsigen.EncodeRegistration(ids...)))
	if err != nil {
		e.t.Fatalf("NewRequest: %v", err)
	}
	req.Header.Set("Content-Type", ocsigen.MediaType)
	go func() {
		res, err := e.srv.Client().Do(req)
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

// waitPoll returns the answer of a poll, failing after 10 s.
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

// retry calls try until it reports true, failing after 10 s. It is the
// one place tests yield while waiting for another goroutine.
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

// waitListeners waits until n connections wait on the channel id.
func (e *testEnv) waitListeners(id string, n int) {
	e.t.Helper()
	c, ok := e.hub.Channel(id)
	if !ok {
		e.t.Fatalf("no channel %q", id)
	}
	retry(e.t, fmt.Sprintf("%d listeners on %q", n, id), func() bool { return c.Listeners() == n })
}

// readAll returns the data of every message the hub holds for id.
func (e *testEnv) readAll(id string) []string {
	e.t.Helper()
	c, ok := e.hub.Channel(id)
	if !ok {
		e.t.Fatalf("no channel %q", id)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	msgs, err := c.Read(ctx, 0, 0)
	if err != nil {
		e.t.Fatalf("Read: %v", err)
	}
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = string(m.Data)
	}
	return out
}
