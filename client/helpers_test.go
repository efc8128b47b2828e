package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/client"
	"github.com/halleyhq/halley/httpapi"
)

// transports lists every transport, for table-driven tests.
var transports = []client.Transport{client.WebSocket, client.SSE, client.Poll}

// waitTimeout bounds every wait, so that a bug fails instead of hanging.
const waitTimeout = 10 * time.Second

// env is a hub served as cmd/halley serves it: the API under /api/, the
// hub's transports at /.
type env struct {
	hub *halley.Hub
	url string
	api *client.API
}

func newEnv(t testing.TB) *env {
	t.Helper()
	return newEnvWith(t, halley.Config{})
}

// newEnvWith is newEnv with a hub of cfg (its Logger discards).
func newEnvWith(t testing.TB, cfg halley.Config) *env {
	t.Helper()
	cfg.Logger = discard
	hub, err := halley.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/", httpapi.New(hub, httpapi.Options{Logger: discard}))
	mux.Handle("/", hub.Handler())
	ts := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		// The hub first: it answers the waiting polls, so that Close
		// does not wait for them.
		if err := hub.Shutdown(ctx); err != nil {
			t.Errorf("hub shutdown: %v", err)
		}
		ts.Close()
	})
	return &env{hub: hub, url: ts.URL, api: &client.API{URL: ts.URL, HTTPClient: ts.Client()}}
}

func (e *env) createChannel(t testing.TB, name string, size int) {
	t.Helper()
	if _, err := e.api.CreateChannel(t.Context(), name, "", size); err != nil {
		t.Fatal(err)
	}
}

// publish publishes "m<offset>" messages on channel until offset to.
func (e *env) publish(t testing.TB, channel string, from, to int) {
	t.Helper()
	for i := from; i <= to; i++ {
		off, _, err := e.api.Publish(t.Context(), channel, fmt.Appendf(nil, "m%d", i))
		if err != nil {
			t.Fatal(err)
		}
		if off != uint64(i) {
			t.Fatalf("publish m%d: offset %d", i, off)
		}
	}
}

// runner is a client running in the background until the test ends.
type runner struct {
	*client.Client
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

func start(t testing.TB, c *client.Client) *runner {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &runner{Client: c, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.err = c.Run(ctx)
	}()
	t.Cleanup(func() {
		if err := r.stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return r
}

// stop cancels Run and returns what it returned.
func (r *runner) stop() error {
	r.cancel()
	select {
	case <-r.done:
		return r.err
	case <-time.After(waitTimeout):
		return errors.New("Run did not return after its context was cancelled")
	}
}

// next returns the next event whose type is one of types, skipping the
// others.
func (r *runner) next(t testing.TB, types ...string) client.Event {
	t.Helper()
	timeout := time.After(waitTimeout)
	for {
		select {
		case ev := <-r.Events():
			for _, typ := range types {
				if ev.Type == typ {
					return ev
				}
			}
		case <-r.done:
			t.Fatalf("Run returned while waiting for %v: %v", types, r.err)
		case <-timeout:
			t.Fatalf("no %v event after %v", types, waitTimeout)
		}
	}
}

// expectMsgs reads the messages from..to of channel, exactly in order:
// a duplicate, a loss, a gap or an end fails.
func (r *runner) expectMsgs(t testing.TB, channel string, from, to int) {
	t.Helper()
	for i := from; i <= to; i++ {
		ev := r.next(t, client.EventMsg, client.EventGap, client.EventEnded)
		if ev.Type != client.EventMsg || ev.Channel != channel || ev.Offset != uint64(i) || string(ev.Data) != fmt.Sprintf("m%d", i) {
			t.Fatalf("got %+v (data %q), want msg %d of %s", ev, ev.Data, i, channel)
		}
	}
}

// observer is an HTTP transport that counts answers, by status, and
// failures, and lets a test wait for a count.
type observer struct {
	rt *http.Transport

	mu       sync.Mutex
	statuses map[int]int
	paths    map[string]int
	errs     int
	changed  chan struct{}
}

func newObserver(t testing.TB) (*observer, *http.Client) {
	o := &observer{
		rt:       &http.Transport{},
		statuses: map[int]int{},
		paths:    map[string]int{},
		changed:  make(chan struct{}),
	}
	t.Cleanup(o.rt.CloseIdleConnections)
	return o, &http.Client{Transport: o}
}

func (o *observer) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := o.rt.RoundTrip(req)
	o.mu.Lock()
	defer o.mu.Unlock()
	o.paths[req.URL.Path]++
	if err != nil {
		o.errs++
	} else {
		o.statuses[res.StatusCode]++
	}
	close(o.changed)
	o.changed = make(chan struct{})
	return res, err
}

// wait waits until cond, called with the observer locked, holds.
func (o *observer) wait(t testing.TB, what string, cond func(o *observer) bool) {
	t.Helper()
	timeout := time.After(waitTimeout)
	for {
		o.mu.Lock()
		ok, changed := cond(o), o.changed
		o.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-changed:
		case <-timeout:
			t.Fatalf("gave up waiting for %s", what)
		}
	}
}

func (o *observer) pathCount(suffix string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for p, k := range o.paths {
		if strings.HasSuffix(p, suffix) {
			n += k
		}
	}
	return n
}

func ptr[T any](v T) *T { return &v }
