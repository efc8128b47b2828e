package halley_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/halleyhq/halley"
)

// post sends a client request with a session and returns status and body.
func post(t testing.TB, srv *httptest.Server, path, session, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequestWithContext(testCtx(t), "POST", srv.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if session != "" {
		req.Header.Set(halley.SessionHeader, session)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s answered %q", path, raw)
	}
	return resp.StatusCode, out
}

func TestWrite_ChatOverHTTP(t *testing.T) {
	h := newHub(t, halley.Config{})
	srv := cometServer(t, h)
	bus, err := h.NewBus(testCtx(t), halley.BusOptions{Name: "chat", Filter: func(_ context.Context, w halley.Writer, data []byte) ([]byte, error) {
		if bytes.Contains(data, []byte("spam")) {
			return nil, fmt.Errorf("%w: no spam here", halley.ErrRejected)
		}
		who := "server"
		if !w.Server() {
			who = w.Session.ID()[:4]
		}
		return append([]byte(who+": "), data...), nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	// Two clients subscribe by poll.
	a := doPoll(t, srv, "", pollReq{Channels: []string{"chat"}})
	b := doPoll(t, srv, "", pollReq{Channels: []string{"chat"}})

	if code, out := post(t, srv, "/write", a.Session, `{"channel":"chat","data":"hello"}`); code != 200 || out["offset"] != 1.0 {
		t.Fatalf("write: %d %v", code, out)
	}
	if _, err := bus.Write(testCtx(t), []byte("welcome")); err != nil {
		t.Fatal(err)
	}
	if code, out := post(t, srv, "/write", b.Session, `{"channel":"chat","data":"hi a"}`); code != 200 || out["offset"] != 3.0 {
		t.Fatalf("write: %d %v", code, out)
	}
	want := []string{a.Session[:4] + ": hello", "server: welcome", b.Session[:4] + ": hi a"}
	for _, p := range []pollAnswer{a, b} {
		var got []string
		for _, f := range doPoll(t, srv, p.Session, pollReq{Cursor: p.Cursor}).frames(t) {
			got = append(got, string(f.Data()))
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("a client read %q, want %q (one order for all)", got, want)
		}
	}

	tests := []struct {
		name, body string
		status     int
		reason     string
	}{
		{"Rejected", `{"channel":"chat","data":"spam!"}`, 422, "rejected"},
		{"NotABus", `{"channel":"plain","data":"x"}`, 400, "not_a_bus"},
		{"UnknownChannel", `{"channel":"nope","data":"x"}`, 404, "unknown_channel"},
		{"NoPayload", `{"channel":"chat"}`, 400, "bad_request"},
		{"BadJSON", `{"channel":`, 400, "bad_json"},
	}
	newChannel(t, h, halley.ChannelOptions{Name: "plain"})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out := post(t, srv, "/write", a.Session, tt.body)
			if code != tt.status || out["error"] != tt.reason {
				t.Fatalf("got %d %v, want %d %s", code, out, tt.status, tt.reason)
			}
		})
	}
	if _, out := post(t, srv, "/write", a.Session, `{"channel":"chat","data":"spam!"}`); !strings.Contains(fmt.Sprint(out["message"]), "no spam here") {
		t.Fatalf("the filter's reason is not passed on: %v", out)
	}
}

func TestListen_OverHTTP(t *testing.T) {
	h := newHub(t, halley.Config{})
	srv := cometServer(t, h)
	n, err := halley.NewSimpleNotifier[string, string](h, "docs")
	if err != nil {
		t.Fatal(err)
	}
	first := doPoll(t, srv, "", pollReq{Channels: []string{"placeholder"}})
	code, out := post(t, srv, "/listen", first.Session, `{"notifier":"docs","key":"42"}`)
	ch, _ := out["channel"].(string)
	if code != 200 || ch == "" {
		t.Fatalf("listen: %d %v", code, out)
	}
	sub := doPoll(t, srv, first.Session, pollReq{Channels: []string{ch}})
	if sent, _ := n.Notify(testCtx(t), "42", "edited", halley.NotFor{}); sent != 1 {
		t.Fatalf("sent %d", sent)
	}
	fs := doPoll(t, srv, first.Session, pollReq{Cursor: sub.Cursor}).frames(t)
	if len(fs) != 1 || string(fs[0].Data()) != `{"notifier":"docs","key":"42","json":"edited"}` {
		t.Fatalf("notification frames %+v", fs)
	}
	if code, _ := post(t, srv, "/unlisten", first.Session, `{"notifier":"docs","key":"42"}`); code != 200 {
		t.Fatalf("unlisten: %d", code)
	}
	if sent, _ := n.Notify(testCtx(t), "42", "again", halley.NotFor{}); sent != 0 {
		t.Fatalf("notified %d after unlisten", sent)
	}
	if code, out := post(t, srv, "/listen", first.Session, `{"notifier":"nope","key":"1"}`); code != 404 || out["error"] != "unknown_notifier" {
		t.Fatalf("unknown notifier: %d %v", code, out)
	}
}

func TestBus_SessionScopeOverPoll(t *testing.T) {
	h := newHub(t, halley.Config{})
	srv := cometServer(t, h)
	bus, err := h.NewBus(testCtx(t), halley.BusOptions{Name: "room", Scope: halley.BusSession, Size: 2})
	if err != nil {
		t.Fatal(err)
	}
	a := doPoll(t, srv, "", pollReq{Channels: []string{"room"}})
	fs := a.frames(t)
	if len(fs) != 1 || fs[0].Channel != "room" || fs[0].Kind != "session" {
		t.Fatalf("subscribed %+v: a session-scoped bus reads through the session's own queue", fs)
	}
	bus.Write(testCtx(t), []byte("1"))
	bus.Write(testCtx(t), []byte("2"))
	got := doPoll(t, srv, a.Session, pollReq{Cursor: a.Cursor}).frames(t)
	if len(got) != 2 || got[0].Channel != "room" || string(got[1].Data()) != "2" {
		t.Fatalf("frames %+v", got)
	}
	// This client does not acknowledge: its own queue overflows and dies,
	// once, clearly; the bus goes on.
	bus.Write(testCtx(t), []byte("3"))
	got = doPoll(t, srv, a.Session, pollReq{Cursor: a.Cursor}).frames(t)
	if len(got) != 1 || got[0].Type != "ended" || got[0].Reason != "channel_full" {
		t.Fatalf("overflowed session queue: %+v", got)
	}
	if o, err := bus.Write(testCtx(t), []byte("4")); err != nil || o.Offset != 4 {
		t.Fatalf("bus after a client's overflow: %+v %v", o, err)
	}
}
