package httpapi_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/httpapi"
)

func TestPresence(t *testing.T) {
	e := newEnv(t, halley.Config{}, httpapi.Options{})
	e.createChannel(map[string]any{"name": "room", "presence": true})
	e.createChannel(map[string]any{"name": "plain"})
	if res := e.post("/api/buses", map[string]any{"name": "chat", "presence": true}); res.status != http.StatusCreated {
		t.Fatalf("create bus: %d %s", res.status, res.body)
	}
	if c, _ := e.hub.Channel("chat"); !c.HasPresence() {
		t.Fatal(`bus made with "presence": true has no presence`)
	}

	done := e.poll("room", "plain")
	e.waitListeners("room", 1)

	var p halley.Presence
	res := e.do(http.MethodGet, "/api/channels/room/presence", "", "")
	if res.status != http.StatusOK || json.Unmarshal(res.body, &p) != nil {
		t.Fatalf("GET presence: %d %s", res.status, res.body)
	}
	if !p.Enabled || p.Connections != 1 || p.Sessions != 1 || p.Users != 1 || len(p.Members) != 1 || p.Members[0].Connections != 1 {
		t.Fatalf("presence %s, want one member", res.body)
	}
	res = e.do(http.MethodGet, "/api/channels/plain/presence", "", "")
	var q map[string]any
	if res.status != http.StatusOK || json.Unmarshal(res.body, &q) != nil {
		t.Fatalf("GET presence: %d %s", res.status, res.body)
	}
	if q["presence"] != false || q["connections"] != float64(1) || q["members"] != nil {
		t.Fatalf("presence of a channel without it: %s, want counts only", res.body)
	}
	if m := e.do(http.MethodGet, "/api/channels/room", "", "").json(t); m["presence"] != true {
		t.Fatalf("GET /api/channels/room: %v, want presence true", m)
	}
	expectError(t, e.do(http.MethodGet, "/api/channels/nope/presence", "", ""), http.StatusNotFound, "unknown_channel")

	write := e.post("/api/publish", map[string]any{"channel": "room", "data": "x"})
	if write.status != http.StatusOK {
		t.Fatalf("publish: %d", write.status)
	}
	waitPoll(t, done)
}

func TestPresence_APIKey(t *testing.T) {
	e := newEnv(t, halley.Config{}, httpapi.Options{APIKey: "k"})
	if _, err := e.hub.NewChannel(t.Context(), halley.ChannelOptions{Name: "room", Presence: true}); err != nil {
		t.Fatal(err)
	}
	e.key = ""
	expectError(t, e.do(http.MethodGet, "/api/channels/room/presence", "", ""), http.StatusUnauthorized, "unauthorized")
}
