package httpapi_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/httpapi"
)

func TestCreateChannel_FreshID(t *testing.T) {
	e := newEnv(t, halley.Config{}, httpapi.Options{})
	res := e.do(http.MethodPost, "/api/channels", "application/json", `{}`)
	if res.status != http.StatusCreated {
		t.Fatalf("status = %d, want 201 (body %s)", res.status, res.body)
	}
	m := res.json(t)
	id, _ := m["id"].(string)
	if len(id) != 22 || strings.ContainsAny(id, "+/=") {
		t.Errorf("id = %q, want 22 URL-safe characters", id)
	}
	if m["kind"] != "broadcast" || m["size"] != float64(halley.DefaultSize) {
		t.Errorf("answer = %s, want a broadcast channel of the default size", res.body)
	}
	if got, want := res.header.Get("Location"), "/api/channels/"+id; got != want {
		t.Errorf("Location = %q, want %q", got, want)
	}
	if _, ok := e.hub.Channel(id); !ok {
		t.Errorf("the hub has no channel %q", id)
	}
}

func TestCreateChannel_EmptyBody(t *testing.T) {
	e := newEnv(t, halley.Config{}, httpapi.Options{})
	res := e.do(http.MethodPost, "/api/channels", "", "")
	if res.status != http.StatusCreated {
		t.Fatalf("status = %d, want 201 (body %s)", res.status, res.body)
	}
}

func TestCreateChannel_Options(t *testing.T) {
	tests := []struct {
		name   string
		body   map[string]any
		status int
		reason string // for errors
		kind   string // for 201
		size   float64
	}{
		{name: "named broadcast", body: map[string]any{"name": "news", "size": 5}, status: 201, kind: "broadcast", size: 5},
		{name: "newest keeps one", body: map[string]any{"name": "score", "kind": "newest", "size": 9}, status: 201, kind: "newest", size: 1},
		{name: "lazy needs Go", body: map[string]any{"kind": "lazy"}, status: 400, reason: "invalid_options"},
		{name: "unknown kind", body: map[string]any{"kind": "fanout"}, status: 400, reason: "invalid_options"},
		{name: "negative size", body: map[string]any{"size": -1}, status: 400, reason: "invalid_options"},
		{name: "session without session", body: map[string]any{"kind": "session"}, status: 400, reason: "invalid_options"},
		{name: "unknown session", body: map[string]any{"kind": "session", "session": "nope"}, status: 404, reason: "unknown_session"},
		{name: "control character in name", body: map[string]any{"name": "a\nb"}, status: 400, reason: "invalid_name"},
		{name: "name too long", body: map[string]any{"name": strings.Repeat("x", halley.MaxNameLen+1)}, status: 400, reason: "invalid_name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, halley.Config{}, httpapi.Options{})
			res := e.post("/api/channels", tt.body)
			if tt.reason != "" {
				expectError(t, res, tt.status, tt.reason)
				return
			}
			if res.status != tt.status {
				t.Fatalf("status = %d, want %d (body %s)", res.status, tt.status, res.body)
			}
			m := res.json(t)
			if m["id"] != tt.body["name"] || m["kind"] != tt.kind || m["size"] != tt.size {
				t.Errorf("answer = %s, want id %v kind %s size %v", res.body, tt.body["name"], tt.kind, tt.size)
			}
		})
	}
}

func TestCreateChannel_NameTaken(t *testing.T) {
	e := newEnv(t, halley.Config{}, httpapi.Options{})
	e.createChannel(map[string]any{"name": "news"})
	expectError(t, e.post("/api/channels", map[string]any{"name": "news"}), http.StatusConflict, "name_taken")
}

func TestCreateChannel_TooMany(t *testing.T) {
	e := newEnv(t, halley.Config{MaxChannels: 2}, httpapi.Options{})
	e.createChannel(nil)
	e.createChannel(nil)
	expectError(t, e.post("/api/channels", map[string]any{}), http.StatusTooManyRequests, "too_many_channels")
}

func TestGetChannel(t *testing.T) {
	e := newEnv(t, halley.Config{}, httpapi.Options{})
	id := e.createChannel(map[string]any{"name": "news", "size": 7})
	for range 3 {
		if res := e.post("/api/publish", map[string]any{"channel": id, "data": "x"}); res.status != http.StatusOK {
			t.Fatalf("publish: %d %s", res.status, res.body)
		}
	}
	done := e.poll(id)
	e.waitListeners(id, 1)

	res := e.do(http.MethodGet, "/api/channels/news", "", "")
	if res.status != http.StatusOK {
		t.Fatalf("status = %d, want 200 (body %s)", res.status, res.body)
	}
	want := map[string]any{"id": "news", "kind": "broadcast", "listeners": 1.0, "node_listeners": 1.0, "offset": 3.0, "size": 7.0, "public": false, "presence": false}
	got := res.json(t)
	if len(got) != len(want) {
		t.Errorf("answer = %s, want exactly the fields %v", res.body, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}

	if err := e.hub.CloseChannel(t.Context(), id); err != nil {
		t.Fatalf("CloseChannel: %v", err)
	}
	waitPoll(t, done)
}

func TestGetChannel_EscapedID(t *testing.T) {
	e := newEnv(t, halley.Config{}, httpapi.Options{})
	const name = "room/1 é%?#"
	e.createChannel(map[string]any{"name": name})
	res := e.do(http.MethodGet, "/api/channels/"+url.PathEscape(name), "", "")
	if res.status != http.StatusOK {
		t.Fatalf("status = %d, want 200 (body %s)", res.status, res.body)
	}
	if got := res.json(t)["id"]; got != name {
		t.Errorf("id = %v, want %q", got, name)
	}
}

func TestGetChannel_Unknown(t *testing.T) {
	e := newEnv(t, halley.Config{}, httpapi.Options{})
	expectError(t, e.do(http.MethodGet, "/api/channels/nope", "", ""), http.StatusNotFound, "unknown_channel")
}

func TestDeleteChannel(t *testing.T) {
	e := newEnv(t, halley.Config{}, httpapi.Options{})
	id := e.createChannel(nil)
	res := e.do(http.MethodDelete, "/api/channels/"+id, "", "")
	if res.status != http.StatusNoContent || len(res.body) != 0 {
		t.Fatalf("DELETE: %d %q, want 204 and no body", res.status, res.body)
	}
	expectError(t, e.do(http.MethodGet, "/api/channels/"+id, "", ""), http.StatusNotFound, "unknown_channel")
	expectError(t, e.do(http.MethodDelete, "/api/channels/"+id, "", ""), http.StatusNotFound, "unknown_channel")
}

func TestDeleteChannel_EndsWaitingClient(t *testing.T) {
	e := newEnv(t, halley.Config{}, httpapi.Options{})
	id := e.createChannel(map[string]any{"name": "news"})
	done := e.poll(id)
	e.waitListeners(id, 1)

	if res := e.do(http.MethodDelete, "/api/channels/news", "", ""); res.status != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", res.status, res.body)
	}
	r := waitPoll(t, done)
	if r.status != http.StatusOK || r.body != "news:ENDED_CHANNEL" {
		t.Errorf("poll = %d %q, want 200 %q", r.status, r.body, "news:ENDED_CHANNEL")
	}
}
