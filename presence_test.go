package halley_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/internal/wire/frame"
)

// userSession returns a new session of user.
func userSession(t testing.TB, h *halley.Hub, user string) *halley.Session {
	t.Helper()
	s, err := h.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	s.SetUser(user)
	return s
}

func presenceOf(t testing.TB, h *halley.Hub, id string) halley.Presence {
	t.Helper()
	p, err := h.Presence(testCtx(t), id)
	if err != nil {
		t.Fatalf("Presence(%q): %v", id, err)
	}
	return p
}

// wantPresenceFrame checks a join or leave frame.
func wantPresenceFrame(t testing.TB, f frame.Frame, typ, channel, user string) {
	t.Helper()
	if f.Type != typ || f.Channel != channel || f.User != user || f.Session != "" {
		t.Fatalf("got %s (user %q, session %q), want %s of %q on %s", show(f), f.User, f.Session, typ, user, channel)
	}
}

func TestPresence_WS(t *testing.T) {
	h := newHub(t, halley.Config{})
	srv := cometServer(t, h)
	room := newChannel(t, h, halley.ChannelOptions{Name: "room", Presence: true})

	watcher := dialWS(t, srv, "session="+userSession(t, h, "ann").ID(), nil)
	watcher.subscribed("room", `"presence":true`, 0)

	bob := userSession(t, h, "bob")
	b1 := dialWS(t, srv, "session="+bob.ID(), nil)
	b1.subscribed("room", "", 0)
	wantPresenceFrame(t, watcher.next(), frame.TypeJoin, "room", "bob")

	// A second connection of the same session is not a second join: the
	// next frame the watcher gets is carl's join.
	b2 := dialWS(t, srv, "session="+bob.ID(), nil)
	b2.subscribed("room", "", 0)
	carl := dialWS(t, srv, "session="+userSession(t, h, "carl").ID(), nil)
	carl.subscribed("room", "", 0)
	wantPresenceFrame(t, watcher.next(), frame.TypeJoin, "room", "carl")

	p := presenceOf(t, h, "room")
	if !p.Enabled || p.Connections != 4 || p.Sessions != 3 || p.Users != 3 || len(p.Members) != 3 || p.Truncated {
		t.Fatalf("presence %+v, want 4 connections of 3 members", p)
	}
	if m := p.Members[1]; m.User != "bob" || m.Session != bob.ID() || m.Connections != 2 {
		t.Fatalf("member %+v, want bob's session with 2 connections", m)
	}

	// bob leaves when his last connection goes.
	b1.send(`{"type":"unsubscribe","channel":"room"}`)
	if f := b1.next(); f.Type != frame.TypeUnsubscribed {
		t.Fatalf("got %s, want unsubscribed", show(f))
	}
	carl.send(`{"type":"unsubscribe","channel":"room"}`)
	wantPresenceFrame(t, watcher.next(), frame.TypeLeave, "room", "carl")
	b2.send(`{"type":"unsubscribe","channel":"room"}`)
	wantPresenceFrame(t, watcher.next(), frame.TypeLeave, "room", "bob")

	// Messages still flow between the presence frames.
	write(t, room, "hi")
	watcher.msg("room", 1, "hi")
	if p := presenceOf(t, h, "room"); p.Connections != 1 || len(p.Members) != 1 || p.Members[0].User != "ann" {
		t.Fatalf("presence %+v, want ann alone", p)
	}
}

func TestPresence_CountsWithoutPresence(t *testing.T) {
	h := newHub(t, halley.Config{})
	srv := cometServer(t, h)
	newChannel(t, h, halley.ChannelOptions{Name: "plain"})
	bob := userSession(t, h, "bob")
	for _, s := range []string{bob.ID(), bob.ID(), userSession(t, h, "carl").ID()} {
		dialWS(t, srv, "session="+s, nil).subscribed("plain", `"presence":true`, 0)
	}
	// Asking for presence on a channel without it gives no frames: the
	// next frame is the message.
	c := dialWS(t, srv, "", nil)
	c.subscribed("plain", `"presence":true`, 0)
	dialWS(t, srv, "", nil).subscribed("plain", "", 0)
	ch, _ := h.Channel("plain")
	write(t, ch, "x")
	c.msg("plain", 1, "x")

	p := presenceOf(t, h, "plain")
	if p.Enabled || p.Members != nil || p.Connections != 5 || p.Sessions != 4 || p.Users != 3 {
		t.Fatalf("presence %+v, want counts only: 5 connections, 4 sessions, 3 users", p)
	}
	if _, err := h.Presence(testCtx(t), "nope"); err == nil {
		t.Fatal("Presence of an unknown channel: no error")
	}
}

func TestPresence_SSE(t *testing.T) {
	h := newHub(t, halley.Config{})
	srv := cometServer(t, h)
	room := newChannel(t, h, halley.ChannelOptions{Name: "room", Presence: true})

	w := openSSE(t, srv, "channel=room&presence=1", "")
	w.hello(t)
	w.subscribed(t, "room", 0)
	if err := room.WaitPresenceWatchers(testCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	b := openSSE(t, srv, "channel=room&session="+userSession(t, h, "bob").ID(), "")
	b.hello(t)
	b.subscribed(t, "room", 0)
	_, f := w.next(t)
	wantPresenceFrame(t, f, frame.TypeJoin, "room", "bob")
	b.close()
	_, f = w.next(t)
	wantPresenceFrame(t, f, frame.TypeLeave, "room", "bob")

	if resp := sseGet(t, srv, "channel=room&presence=maybe", ""); resp.StatusCode != 400 {
		t.Fatalf("presence=maybe: status %d, want 400", resp.StatusCode)
	}
}

func TestPresence_Poll(t *testing.T) {
	h := newHub(t, halley.Config{})
	srv := cometServer(t, h)
	room := newChannel(t, h, halley.ChannelOptions{Name: "room", Presence: true})

	first := doPoll(t, srv, "", map[string]any{"channels": []string{"room"}})
	done := make(chan pollAnswer, 1)
	go func() {
		done <- doPoll(t, srv, first.Session, map[string]any{"cursor": first.Cursor, "presence": true})
	}()
	if err := room.WaitPresenceWatchers(testCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	b := dialWS(t, srv, "session="+userSession(t, h, "bob").ID(), nil)
	b.subscribed("room", "", 0)
	a := <-done
	frames := a.frames(t)
	if len(frames) != 1 {
		t.Fatalf("answer %+v, want one join frame", a)
	}
	wantPresenceFrame(t, frames[0], frame.TypeJoin, "room", "bob")
}

// Only clients that may read a channel see its presence; the user of a
// member comes from its token.
func TestPresence_Rights(t *testing.T) {
	h, srv := tokenHub(t, halley.Config{})
	newChannel(t, h, halley.ChannelOptions{Name: "room", Presence: true})
	dial := func(sub string, channels ...string) *wsClient {
		tok := mint(t, sub, time.Hour, channels, nil, nil)
		return dialWS(t, srv, "", &websocket.DialOptions{HTTPHeader: bearer(tok)})
	}
	stranger := dial("eve", "other")
	stranger.subscribe("room", `"presence":true`)
	if f := stranger.next(); f.Type != frame.TypeEnded || f.Reason != "forbidden" {
		t.Fatalf("got %s, want ended forbidden", show(f))
	}
	watcher := dial("ann", "room")
	watcher.subscribed("room", `"presence":true`, 0)
	dial("bob", "room").subscribed("room", "", 0)
	wantPresenceFrame(t, watcher.next(), frame.TypeJoin, "room", "bob")

	// GET /presence follows the same rule, and shows no session ids.
	get := func(sub string, channels ...string) (int, string) {
		req, _ := http.NewRequestWithContext(testCtx(t), "GET", srv.URL+"/presence?channel=room", nil)
		req.Header = bearer(mint(t, sub, time.Hour, channels, nil, nil))
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("eve", "other"); code != http.StatusForbidden || !strings.Contains(body, `"forbidden"`) {
		t.Fatalf("GET /presence without the right: %d %s, want 403 forbidden", code, body)
	}
	code, body := get("ann", "room")
	want := `{"channel":"room","connections":2,"sessions":2,"users":2,"presence":true,"members":[{"user":"ann","sessions":1,"connections":1},{"user":"bob","sessions":1,"connections":1}]}` + "\n"
	if code != http.StatusOK || body != want {
		t.Fatalf("GET /presence: %d %s, want %s", code, body, want)
	}
}

// A long-polling member does not leave and join again between its
// requests; its leave comes presenceLinger after its last one.
func TestPresence_PollLingers(t *testing.T) {
	halley.SetPresenceLinger(t, time.Hour)
	h := newHub(t, halley.Config{})
	srv := cometServer(t, h)
	room := newChannel(t, h, halley.ChannelOptions{Name: "room", Presence: true})
	watcher := dialWS(t, srv, "", nil)
	watcher.subscribed("room", `"presence":true`, 0)

	pat := userSession(t, h, "pat").ID()
	first := doPoll(t, srv, pat, map[string]any{"channels": []string{"room"}})
	wantPresenceFrame(t, watcher.next(), frame.TypeJoin, "room", "pat")
	done := make(chan pollAnswer, 1)
	go func() { done <- doPoll(t, srv, pat, map[string]any{"cursor": first.Cursor}) }()
	if err := room.WaitListeners(testCtx(t), 2); err != nil {
		t.Fatal(err)
	}
	write(t, room, "m")
	watcher.msg("room", 1, "m")
	<-done

	dialWS(t, srv, "session="+userSession(t, h, "bob").ID(), nil).subscribed("room", "", 1)
	wantPresenceFrame(t, watcher.next(), frame.TypeJoin, "room", "bob")
	if p := presenceOf(t, h, "room"); len(p.Members) != 3 || p.Members[2].User != "pat" {
		t.Fatalf("presence %+v, want pat still there", p)
	}
}
