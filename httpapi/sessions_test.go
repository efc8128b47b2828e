package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/httpapi"
)

func TestSessions_CreateDelete(t *testing.T) {
	e := newEnv(t, halley.Config{}, httpapi.Options{})
	res := e.do(http.MethodPost, "/api/sessions", "", "")
	if res.status != http.StatusCreated {
		t.Fatalf("status = %d, want 201 (body %s)", res.status, res.body)
	}
	id, _ := res.json(t)["id"].(string)
	if _, ok := e.hub.Session(id); !ok {
		t.Fatalf("the hub has no session %q", id)
	}
	if res := e.do(http.MethodDelete, "/api/sessions/"+id, "", ""); res.status != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s, want 204", res.status, res.body)
	}
	if _, ok := e.hub.Session(id); ok {
		t.Errorf("session %q still live after DELETE", id)
	}
	expectError(t, e.do(http.MethodDelete, "/api/sessions/"+id, "", ""), http.StatusNotFound, "unknown_session")
}

func TestSessions_Channel(t *testing.T) {
	e := newEnv(t, halley.Config{}, httpapi.Options{})
	sid := e.post("/api/sessions", nil).json(t)["id"].(string)
	res := e.post("/api/channels", map[string]any{"kind": "session", "session": sid, "size": 3})
	if res.status != http.StatusCreated {
		t.Fatalf("create: %d %s", res.status, res.body)
	}
	m := res.json(t)
	if m["kind"] != "session" || m["size"] != 3.0 {
		t.Errorf("answer = %s, want a session channel of size 3", res.body)
	}
	id := m["id"].(string)
	c, _ := e.hub.Channel(id)
	if c == nil || c.Session() == nil || c.Session().ID() != sid {
		t.Fatalf("channel %q is not owned by session %q", id, sid)
	}

	// Closing the session closes its channels.
	if res := e.do(http.MethodDelete, "/api/sessions/"+sid, "", ""); res.status != http.StatusNoContent {
		t.Fatalf("DELETE session: %d %s", res.status, res.body)
	}
	expectError(t, e.do(http.MethodGet, "/api/channels/"+id, "", ""), http.StatusNotFound, "unknown_channel")
}
