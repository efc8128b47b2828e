package client_test

import (
	"errors"
	"testing"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/client"
)

// sessionOf returns the id of a new session of user.
func sessionOf(t testing.TB, h *halley.Hub, user string) string {
	t.Helper()
	s, err := h.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	s.SetUser(user)
	return s.ID()
}

// Join and leave events reach a client that asks for them, over the
// streaming transports; API.Presence lists the members.
func TestPresence(t *testing.T) {
	for _, tr := range []client.Transport{client.WebSocket, client.SSE} {
		t.Run(string(tr), func(t *testing.T) {
			e := newEnv(t)
			if _, err := e.hub.NewChannel(t.Context(), halley.ChannelOptions{Name: "room", Presence: true}); err != nil {
				t.Fatal(err)
			}
			watcher := client.New(e.url, client.Options{Transport: tr, Presence: true, Session: sessionOf(t, e.hub, "ann"), Logger: discard})
			watcher.Subscribe("room", client.From{})
			w := start(t, watcher)
			w.next(t, client.EventSubscribed)

			bobSession := sessionOf(t, e.hub, "bob")
			bob := client.New(e.url, client.Options{Transport: client.WebSocket, Session: bobSession, Logger: discard})
			bob.Subscribe("room", client.From{})
			b := start(t, bob)
			b.next(t, client.EventSubscribed)
			if ev := w.next(t, client.EventJoin, client.EventLeave); ev.Type != client.EventJoin || ev.Channel != "room" || ev.User != "bob" {
				t.Fatalf("event %+v, want bob's join", ev)
			}

			p, err := e.api.Presence(t.Context(), "room")
			if err != nil {
				t.Fatal(err)
			}
			if !p.Enabled || p.Connections != 2 || p.Sessions != 2 || p.Users != 2 || len(p.Members) != 2 ||
				p.Members[1] != (client.Member{Session: bobSession, User: "bob", Connections: 1}) {
				t.Fatalf("presence %+v, want ann and bob", p)
			}

			// The client's own view: users and counts, no session ids.
			cp, err := watcher.Presence(t.Context(), "room")
			if err != nil {
				t.Fatal(err)
			}
			want := []client.UserPresence{{User: "ann", Sessions: 1, Connections: 1}, {User: "bob", Sessions: 1, Connections: 1}}
			if !cp.Enabled || cp.Connections != 2 || len(cp.Members) != 2 || cp.Members[0] != want[0] || cp.Members[1] != want[1] {
				t.Fatalf("client presence %+v, want %+v", cp, want)
			}

			if err := b.stop(); err != nil {
				t.Fatal(err)
			}
			if ev := w.next(t, client.EventJoin, client.EventLeave); ev.Type != client.EventLeave || ev.User != "bob" {
				t.Fatalf("event %+v, want bob's leave", ev)
			}
		})
	}
}

func TestAPI_PresenceUnknownChannel(t *testing.T) {
	e := newEnv(t)
	if _, err := e.api.Presence(t.Context(), "nope"); err == nil {
		t.Fatal("Presence of an unknown channel: no error")
	}
	c := client.New(e.url, client.Options{Logger: discard})
	var re *client.RefusedError
	if _, err := c.Presence(t.Context(), "nope"); !errors.As(err, &re) || re.Reason != "unknown_channel" {
		t.Fatalf("Client.Presence of an unknown channel: %v, want unknown_channel", err)
	}
}
