package client_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/client"
)

// newDocs creates the notifier "docs", which prepares each listener's
// notification for its session: "<notification> for <session id>".
func newDocs(t testing.TB, e *env) *halley.Notifier[string, string, string] {
	t.Helper()
	n, err := halley.NewNotifier(e.hub, halley.NotifierOptions[string, string, string]{
		Name: "docs",
		Prepare: func(_ context.Context, id halley.Identity, _ string, v string) (string, bool, error) {
			return v + " for " + id.Session.ID(), true, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// notify sends v on key and checks how many listeners got it.
func notify(t testing.TB, n *halley.Notifier[string, string, string], key, v string, listeners int) {
	t.Helper()
	got, err := n.Notify(t.Context(), key, v, halley.NotFor{})
	if err != nil || got != listeners {
		t.Fatalf("Notify(%s, %s) = %d, %v; want %d listeners", key, v, got, err, listeners)
	}
}

// pathExact returns the number of requests to path.
func (o *observer) pathExact(path string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.paths[path]
}

// expectNotify reads the next notify event (a gap fails) and checks it is
// v on key, prepared for the client's current session.
func (r *runner) expectNotify(t testing.TB, key, v string) client.Event {
	t.Helper()
	ev := r.next(t, client.EventNotify, client.EventGap, client.EventMsg)
	want := `"` + v + " for " + r.Session() + `"`
	if ev.Type != client.EventNotify || ev.Notifier != "docs" || ev.Key != key || string(ev.Data) != want {
		t.Fatalf("got %+v (data %s), want a notification of docs %s: %s", ev, ev.Data, key, want)
	}
	return ev
}

func listen(t testing.TB, r *runner, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if err := r.Listen(t.Context(), "docs", k); err != nil {
			t.Fatalf("Listen(docs, %s): %v", k, err)
		}
	}
}

func TestClient_Notify(t *testing.T) {
	forEachTransport(t, func(t *testing.T, tr client.Transport) {
		e := newEnv(t)
		docs := newDocs(t, e)
		e.createChannel(t, "news", 0)
		// Both clients are connected: over WebSocket, Listen sends frames.
		obs1, hc1 := newObserver(t)
		c1 := startOn(t, e, tr, hc1, "news")
		_, hc2 := newObserver(t)
		c2 := startOn(t, e, tr, hc2, "news")
		listen(t, c1, "a", "b")
		listen(t, c2, "a")

		// Each gets its own preparation.
		notify(t, docs, "a", "v1", 2)
		c1.expectNotify(t, "a", "v1")
		c2.expectNotify(t, "a", "v1")

		// After Unlisten, nothing more of that key: the notification of
		// another key, sent later, comes first.
		if err := c1.Unlisten(t.Context(), "docs", "a"); err != nil {
			t.Fatal(err)
		}
		notify(t, docs, "a", "v2", 1)
		notify(t, docs, "b", "v3", 1)
		c1.expectNotify(t, "b", "v3")
		c2.expectNotify(t, "a", "v2")
		if tr == client.WebSocket {
			if n := obs1.pathExact("/listen"); n != 0 {
				t.Errorf("%d POST /listen over a connected WebSocket, want 0", n)
			}
		}

		// When its session closes, the server forgets what it listened
		// to. The client is kept away meanwhile, so that it does not
		// listen again before the check.
		old := c1.Session()
		e.hub.Deactivate()
		obs1.wait(t, "a 503", func(o *observer) bool { return o.statuses[http.StatusServiceUnavailable] > 0 })
		s, ok := e.hub.Session(old)
		if !ok {
			t.Fatal("no session")
		}
		s.Close()
		if n := docs.Listeners("b"); n != 0 {
			t.Errorf("%d listeners of b after the session closed, want 0", n)
		}
		listens := obs1.pathExact("/listen")
		e.hub.Activate()

		// The client finds a new session, says the old notifications are
		// lost, and listens again on what it still listens to.
		ev := c1.next(t, client.EventGap, client.EventNotify)
		if ev.Type != client.EventGap || ev.Reason != "session_closed" {
			t.Fatalf("got %+v, want a session_closed gap", ev)
		}
		waitRelisten(t, c1, obs1, tr, ev.Channel, listens)
		if c1.Session() == old {
			t.Fatal("same session after it closed")
		}
		if n := docs.Listeners("b"); n != 1 {
			t.Errorf("%d listeners of b, want 1", n)
		}
		if n := docs.Listeners("a"); n != 1 {
			t.Errorf("%d listeners of a, want 1 (c2 only: c1 unlistened)", n)
		}
		notify(t, docs, "b", "v4", 1)
		c1.expectNotify(t, "b", "v4")
	})
}

// waitRelisten waits until the client listens again in its new session:
// over WebSocket, the server subscribes it to a new notification channel
// (not old); the others post to /listen (more than before times).
func waitRelisten(t testing.TB, r *runner, obs *observer, tr client.Transport, old string, before int) {
	t.Helper()
	if tr != client.WebSocket {
		obs.wait(t, "POST /listen", func(o *observer) bool { return o.paths["/listen"] > before })
		return
	}
	for {
		ev := r.next(t, client.EventSubscribed, client.EventNotify, client.EventGap)
		if ev.Type != client.EventSubscribed {
			t.Fatalf("got %+v, want the new notification channel subscribed", ev)
		}
		if ev.Channel != old && ev.Channel != "news" {
			return
		}
	}
}

func TestClient_NotifySessionClosed(t *testing.T) {
	forEachTransport(t, func(t *testing.T, tr client.Transport) {
		e := newEnv(t)
		docs := newDocs(t, e)
		e.createChannel(t, "news", 0)
		obs, hc := newObserver(t)
		r := startOn(t, e, tr, hc, "news")
		listen(t, r, "k")
		notify(t, docs, "k", "before", 1)
		ev := r.expectNotify(t, "k", "before")
		listens := obs.pathExact("/listen")

		// The session closes while the client is connected: the server
		// tells it, or the notification channel ends.
		old := r.Session()
		s, _ := e.hub.Session(old)
		s.Close()
		gap := r.next(t, client.EventGap, client.EventNotify)
		if gap.Type != client.EventGap || gap.Reason != "session_closed" || gap.Channel != ev.Channel || gap.Offset != ev.Offset {
			t.Fatalf("got %+v, want a session_closed gap of %s at %d", gap, ev.Channel, ev.Offset)
		}
		waitRelisten(t, r, obs, tr, ev.Channel, listens)
		if r.Session() == old {
			t.Fatal("same session after it closed")
		}
		notify(t, docs, "k", "after", 1)
		r.expectNotify(t, "k", "after")
	})
}

func TestClient_NotifyReconnect(t *testing.T) {
	forEachTransport(t, func(t *testing.T, tr client.Transport) {
		e := newEnv(t)
		docs := newDocs(t, e)
		e.createChannel(t, "news", 0)
		obs, hc := newObserver(t)
		r := startOn(t, e, tr, hc, "news")
		listen(t, r, "k")
		notify(t, docs, "k", "n1", 1)
		r.expectNotify(t, "k", "n1")
		session := r.Session()

		// Sent while the client is away: it gets them when it is back,
		// once each, in order.
		e.hub.Deactivate()
		obs.wait(t, "a 503", func(o *observer) bool { return o.statuses[http.StatusServiceUnavailable] > 0 })
		notify(t, docs, "k", "n2", 1)
		notify(t, docs, "k", "n3", 1)
		e.hub.Activate()
		r.expectNotify(t, "k", "n2")
		r.expectNotify(t, "k", "n3")
		notify(t, docs, "k", "n4", 1)
		r.expectNotify(t, "k", "n4")
		if got := r.Session(); got != session {
			t.Errorf("session %q after the reconnection, want %q", got, session)
		}
	})
}

func TestClient_ListenBeforeRun(t *testing.T) {
	forEachTransport(t, func(t *testing.T, tr client.Transport) {
		e := newEnv(t)
		docs := newDocs(t, e)
		c := client.New(e.url, client.Options{Transport: tr, Logger: discard})
		if err := c.Listen(t.Context(), "docs", "k"); err != nil {
			t.Fatal(err)
		}
		// Sent before the client reads: the notification channel is read
		// from its start.
		notify(t, docs, "k", "early", 1)
		r := start(t, c)
		r.expectNotify(t, "k", "early")
		notify(t, docs, "k", "late", 1)
		r.expectNotify(t, "k", "late")
	})
}

func TestClient_ListenRefused(t *testing.T) {
	forEachTransport(t, func(t *testing.T, tr client.Transport) {
		e := newEnv(t)
		docs := newDocs(t, e)
		if _, err := halley.NewSimpleNotifier[int, string](e.hub, "counts"); err != nil {
			t.Fatal(err)
		}
		e.createChannel(t, "news", 0)
		r := startOn(t, e, tr, nil, "news")
		for _, tc := range []struct{ notifier, key, reason string }{
			{"nope", "k", "unknown_notifier"},
			{"counts", "not a number", "invalid_options"},
		} {
			err := r.Listen(t.Context(), tc.notifier, tc.key)
			var re *client.RefusedError
			if !errors.As(err, &re) || re.Op != "listen" || re.Reason != tc.reason {
				t.Errorf("Listen(%s, %s) = %v, want a %s refusal", tc.notifier, tc.key, err, tc.reason)
			}
		}
		if err := r.Unlisten(t.Context(), "nope", "k"); err == nil {
			t.Error("Unlisten of an unknown notifier succeeded")
		}
		// The refusals answered their own listens: the next one works.
		listen(t, r, "k")
		notify(t, docs, "k", "v", 1)
		r.expectNotify(t, "k", "v")
	})
}
