package halley_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/coder/websocket"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/internal/wire/frame"
)

// Regression tests for the first finding of the security review: a
// session's channels were readable, and consumed, by anyone who knew
// their id.

// sessionInbox makes session A and a session channel of it holding one,
// two.
func sessionInbox(t *testing.T, h *halley.Hub) (*halley.Session, *halley.Channel) {
	t.Helper()
	a, err := h.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	c := newChannel(t, h, halley.ChannelOptions{Kind: halley.KindSession, Session: a})
	write(t, c, "one")
	write(t, c, "two")
	return a, c
}

// endedUnknown checks that frames are exactly one ended frame of channel
// id with reason unknown_channel: what a channel that does not exist
// gets.
func endedUnknown(t *testing.T, how string, fs []frame.Frame, id string) {
	t.Helper()
	if len(fs) != 1 || fs[0].Type != frame.TypeEnded || fs[0].Channel != id || fs[0].Reason != "unknown_channel" {
		t.Fatalf("%s: %s, want one ended frame with reason unknown_channel, as for a channel that does not exist", how, showAll(fs))
	}
}

func TestIsolation_SessionChannelUnreadableByStrangers(t *testing.T) {
	h := newHub(t, halley.Config{})
	srv := cometServer(t, h)
	a, c := sessionInbox(t, h)
	id := c.ID()
	b, _ := h.NewSession()

	// /poll as session B, and with no session.
	for _, who := range []string{b.ID(), ""} {
		p := doPoll(t, srv, who, pollReq{Channels: []string{id}, Last: 10})
		endedUnknown(t, "/poll as "+who, p.frames(t), id)
		p = doPoll(t, srv, who, pollReq{Cursor: id + ":0:"})
		endedUnknown(t, "/poll with a cursor as "+who, p.frames(t), id)
	}
	// /sse with no session, and as B.
	for _, q := range []string{"channel=" + id + "&last=10", "session=" + b.ID() + "&channel=" + id} {
		sc := openSSE(t, srv, q, "")
		sc.hello(t)
		_, f := sc.next(t)
		endedUnknown(t, "/sse?"+q, []frame.Frame{f}, id)
		sc.close()
	}
	// /comet with no session, and as B.
	for _, who := range []string{"", b.ID()} {
		if got := pollAs(t, srv, who, "registration="+id).body; got != id+":ENDED_CHANNEL" {
			t.Fatalf("/comet as %q: %q, want %s:ENDED_CHANNEL", who, got, id)
		}
	}
	// /ws as B.
	ws := dialWS(t, srv, "session="+b.ID(), nil)
	ws.subscribe(id, `"last":10`)
	endedUnknown(t, "/ws as B", []frame.Frame{ws.next()}, id)

	// Nothing the strangers did moved A's position: A gets both messages.
	p := doPoll(t, srv, a.ID(), pollReq{Channels: []string{id}})
	got := p.frames(t)
	if len(got) != 3 || got[0].Type != frame.TypeSubscribed || *got[0].Offset != 0 ||
		string(got[1].Data()) != "one" || string(got[2].Data()) != "two" {
		t.Fatalf("the owner's poll: %s, want subscribed after 0 then one, two", showAll(got))
	}
	if got := pollAs(t, srv, a.ID(), "registration="+id).body; got != id+":one\n"+id+":two" {
		t.Fatalf("the owner's /comet: %q", got)
	}
}

func TestIsolation_NotificationsUnreadableByStrangers(t *testing.T) {
	h := newHub(t, halley.Config{})
	srv := cometServer(t, h)
	n, err := halley.NewSimpleNotifier[string, string](h, "docs")
	if err != nil {
		t.Fatal(err)
	}
	alice, _ := h.NewSession()
	alice.SetUser("alice")
	ring, err := n.Listen(alice, "42")
	if err != nil {
		t.Fatal(err)
	}
	if sent, _ := n.Notify(testCtx(t), "42", "for alice only", halley.NotFor{}); sent != 1 {
		t.Fatalf("sent to %d", sent)
	}
	mallory, _ := h.NewSession()
	p := doPoll(t, srv, mallory.ID(), pollReq{Channels: []string{ring}, Last: 100})
	endedUnknown(t, "another session's notifications", p.frames(t), ring)
	ws := dialWS(t, srv, "", nil)
	ws.subscribe(ring, `"after":0`)
	endedUnknown(t, "another session's notifications over /ws", []frame.Frame{ws.next()}, ring)

	p = doPoll(t, srv, alice.ID(), pollReq{Channels: []string{ring}, Last: 100})
	fs := p.frames(t)
	if len(fs) != 2 || fs[1].Type != frame.TypeMsg || string(fs[1].Data()) != `{"notifier":"docs","key":"42","json":"for alice only"}` {
		t.Fatalf("alice's notifications: %s", showAll(fs))
	}
}

// A session channel's id is no write capability either: a client's write
// to it is refused as for an unknown id.
func TestIsolation_SessionChannelNotWritableByClients(t *testing.T) {
	h := newHub(t, halley.Config{})
	srv := cometServer(t, h)
	_, c := sessionInbox(t, h)
	ws := dialWS(t, srv, "", nil)
	ws.send(`{"type":"write","channel":"` + c.ID() + `","data":"x","ref":"1"}`)
	if f := ws.next(); f.Type != frame.TypeError || f.Reason != "unknown_channel" {
		t.Fatalf("write to another session's channel: %s, want error unknown_channel", show(f))
	}
}

// The seats of a session-scope bus are the sessions' own: a session reads
// its queue, and its queue only moves with its reads.
func TestIsolation_SessionBusQueuesAreTheirSessions(t *testing.T) {
	h := newHub(t, halley.Config{})
	srv := cometServer(t, h)
	bus, err := h.NewBus(testCtx(t), halley.BusOptions{Name: "room", Scope: halley.BusSession, Size: 3})
	if err != nil {
		t.Fatal(err)
	}
	a := doPoll(t, srv, "", pollReq{Channels: []string{"room"}})
	b := doPoll(t, srv, "", pollReq{Channels: []string{"room"}})
	for _, v := range []string{"1", "2", "3"} {
		if _, err := bus.Write(testCtx(t), []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	// B reads and acknowledges all three; A's queue is untouched.
	fb := doPoll(t, srv, b.Session, pollReq{Cursor: b.Cursor}).frames(t)
	if len(fb) != 3 {
		t.Fatalf("B: %s", showAll(fb))
	}
	fa := doPoll(t, srv, a.Session, pollReq{Channels: []string{"room"}}).frames(t)
	var data []string
	for _, f := range fa {
		if f.Type == frame.TypeMsg {
			data = append(data, string(f.Data()))
		}
	}
	if !slices.Equal(data, []string{"1", "2", "3"}) {
		t.Fatalf("A's queue after B read its own: %s, want 1, 2, 3", showAll(fa))
	}
}

// A browser page of another origin gets nothing from any transport.
func TestIsolation_ForeignOriginGetsNothing(t *testing.T) {
	h := newHub(t, halley.Config{AllowedOrigins: []string{"https://app.example.com"}})
	srv := cometServer(t, h)
	newChannel(t, h, halley.ChannelOptions{Name: "news"})
	evil := http.Header{"Origin": {"https://evil.example"}}
	for _, tc := range []struct{ method, path, ctype, body string }{
		{"GET", "/sse?channel=news", "", ""},
		{"POST", "/poll", "application/json", `{"channels":["news"]}`},
		{"POST", "/comet", "application/x-ocsigen-comet", "registration=news"},
		{"POST", "/write", "application/json", `{"channel":"news","data":"x"}`},
		{"POST", "/listen", "application/json", `{"notifier":"n","key":"k"}`},
		{"GET", "/ws", "", ""},
	} {
		code, hd, body := request(t, srv, tc.method, tc.path, tc.ctype, tc.body, evil)
		if code != http.StatusForbidden || hd.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("%s %s from a foreign origin: %d %q (ACAO %q), want 403 without CORS headers", tc.method, tc.path, code, body, hd.Get("Access-Control-Allow-Origin"))
		}
	}
	if n := h.SessionCount(); n != 0 {
		t.Fatalf("%d sessions made for refused requests", n)
	}
	_, _, err := websocket.Dial(testCtx(t), wsURL(srv, ""), &websocket.DialOptions{HTTPHeader: evil})
	if err == nil {
		t.Fatal("WebSocket from a foreign origin accepted")
	}
}
