package redis_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/client"
	"github.com/halleyhq/halley/internal/redistest"
)

// TestHub_PresenceTwoNodes: a member on node B is seen joining and leaving
// by a subscriber of node A, and A's Presence counts it. B never made the
// channel: it finds it, presence and all, in the registry.
func TestHub_PresenceTwoNodes(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	a, b := newHub(t, srv), newHub(t, srv)
	if _, err := a.NewChannel(t.Context(), halley.ChannelOptions{Name: "room", Presence: true}); err != nil {
		t.Fatal(err)
	}
	serve := func(h *halley.Hub) string {
		ts := httptest.NewServer(h.Handler())
		t.Cleanup(ts.Close)
		return ts.URL
	}
	urlA, urlB := serve(a), serve(b)
	session := func(h *halley.Hub, user string) string {
		s, err := h.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		s.SetUser(user)
		return s.ID()
	}
	run := func(c *client.Client) (events <-chan client.Event, stop func()) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = c.Run(ctx)
		}()
		stop = func() {
			cancel()
			<-done
		}
		t.Cleanup(stop)
		return c.Events(), stop
	}
	next := func(events <-chan client.Event, types ...string) client.Event {
		t.Helper()
		timeout := time.After(10 * time.Second)
		for {
			select {
			case ev := <-events:
				for _, typ := range types {
					if ev.Type == typ {
						return ev
					}
				}
			case <-timeout:
				t.Fatalf("no %v event", types)
			}
		}
	}

	watcher := client.New(urlA, client.Options{Presence: true, Session: session(a, "ann"), Logger: quiet(t)})
	watcher.Subscribe("room", client.From{})
	w, _ := run(watcher)
	next(w, client.EventSubscribed)

	bobSession := session(b, "bob")
	bob := client.New(urlB, client.Options{Session: bobSession, Logger: quiet(t)})
	bob.Subscribe("room", client.From{})
	bev, stopBob := run(bob)
	next(bev, client.EventSubscribed)
	if ev := next(w, client.EventJoin, client.EventLeave); ev.Type != client.EventJoin || ev.User != "bob" {
		t.Fatalf("event %+v, want bob's join from node B", ev)
	}
	// B put its members before it told A of the join.
	p, err := a.Presence(t.Context(), "room")
	if err != nil {
		t.Fatal(err)
	}
	if !p.Enabled || p.Connections != 2 || p.Sessions != 2 || p.Users != 2 || len(p.Members) != 2 ||
		p.Members[1] != (halley.Member{Session: bobSession, User: "bob", Connections: 1}) {
		t.Fatalf("presence on A %+v, want ann (A) and bob (B)", p)
	}

	stopBob()
	if ev := next(w, client.EventJoin, client.EventLeave); ev.Type != client.EventLeave || ev.User != "bob" {
		t.Fatalf("event %+v, want bob's leave from node B", ev)
	}
	if p, err = a.Presence(t.Context(), "room"); err != nil || p.Connections != 1 || len(p.Members) != 1 || p.Members[0].User != "ann" {
		t.Fatalf("presence on A %+v (%v), want ann alone", p, err)
	}
}
