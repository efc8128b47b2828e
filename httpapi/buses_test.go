package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/hooks"
	"github.com/halleyhq/halley/httpapi"
	"github.com/halleyhq/halley/internal/wire/frame"
)

func TestBuses_Create(t *testing.T) {
	e := newEnv(t, halley.Config{}, httpapi.Options{})
	res := e.do(http.MethodPost, "/api/buses", "", "")
	if res.status != http.StatusCreated {
		t.Fatalf("status = %d, want 201 (body %s)", res.status, res.body)
	}
	m := res.json(t)
	id, _ := m["id"].(string)
	if len(id) != 22 || m["scope"] != "broadcast" || m["size"] != 1000.0 {
		t.Errorf("answer = %s, want a fresh broadcast bus of size 1000", res.body)
	}
	if got := res.header.Get("Location"); got != "/api/channels/"+id {
		t.Errorf("Location = %q", got)
	}
	if _, ok := e.hub.Bus(id); !ok {
		t.Fatalf("the hub has no bus %q", id)
	}

	res = e.post("/api/buses", map[string]any{"name": "room/1", "scope": "session", "size": 5})
	if res.status != http.StatusCreated {
		t.Fatalf("named: %d %s", res.status, res.body)
	}
	if want := `{"id":"room/1","scope":"session","size":5}`; strings.TrimSpace(string(res.body)) != want {
		t.Errorf("answer = %s, want %s", res.body, want)
	}
	b, ok := e.hub.Bus("room/1")
	if !ok || b.Scope() != halley.BusSession {
		t.Fatalf("the hub has no session bus room/1")
	}
	res = e.do(http.MethodGet, "/api/channels/room%2F1", "", "")
	if m := res.json(t); res.status != http.StatusOK || m["kind"] != "bus" || m["scope"] != "session" || m["size"] != 5.0 {
		t.Errorf("GET = %d %s, want kind bus, scope session", res.status, res.body)
	}
	// A plain channel has no scope.
	id = e.createChannel(nil)
	if res := e.do(http.MethodGet, "/api/channels/"+id, "", ""); strings.Contains(string(res.body), "scope") {
		t.Errorf("GET channel = %s, want no scope", res.body)
	}
}

func TestBuses_Errors(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		status int
		reason string
	}{
		{name: "name taken", body: `{"name":"taken"}`, status: http.StatusConflict, reason: "name_taken"},
		{name: "bad scope", body: `{"scope":"site"}`, status: http.StatusBadRequest, reason: "invalid_options"},
		{name: "negative size", body: `{"size":-1}`, status: http.StatusBadRequest, reason: "invalid_options"},
		{name: "bad name", body: `{"name":"a\u0001"}`, status: http.StatusBadRequest, reason: "invalid_name"},
		{name: "relative filter url", body: `{"filter_url":"/filter"}`, status: http.StatusBadRequest, reason: "invalid_options"},
		{name: "filter url not http", body: `{"filter_url":"ftp://example.com/f"}`, status: http.StatusBadRequest, reason: "invalid_options"},
		{name: "unknown field", body: `{"kind":"bus"}`, status: http.StatusBadRequest, reason: "bad_json"},
		{name: "scope as number", body: `{"scope":1}`, status: http.StatusBadRequest, reason: "bad_json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, halley.Config{}, httpapi.Options{})
			e.createChannel(map[string]any{"name": "taken"})
			expectError(t, e.do(http.MethodPost, "/api/buses", "application/json", tt.body), tt.status, tt.reason)
		})
	}
}

func TestBuses_TooMany(t *testing.T) {
	e := newEnv(t, halley.Config{MaxChannels: 1}, httpapi.Options{})
	e.createChannel(nil)
	expectError(t, e.post("/api/buses", map[string]any{}), http.StatusTooManyRequests, "too_many_channels")
}

func TestBuses_MethodNotAllowed(t *testing.T) {
	e := newEnv(t, halley.Config{}, httpapi.Options{})
	for _, path := range []string{"/api/buses", "/api/notifiers", "/api/notify", "/api/listen", "/api/unlisten", "/api/unlisten_user"} {
		res := e.do(http.MethodGet, path, "", "")
		expectError(t, res, http.StatusMethodNotAllowed, "method_not_allowed")
		if got := res.header.Get("Allow"); got != "POST" {
			t.Errorf("%s: Allow = %q, want POST", path, got)
		}
	}
}

func TestBuses_Delete(t *testing.T) {
	e := newEnv(t, halley.Config{}, httpapi.Options{})
	if res := e.post("/api/buses", map[string]any{"name": "chat", "scope": "session"}); res.status != http.StatusCreated {
		t.Fatalf("create: %d %s", res.status, res.body)
	}
	if res := e.do(http.MethodDelete, "/api/channels/chat", "", ""); res.status != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s, want 204", res.status, res.body)
	}
	if _, ok := e.hub.Bus("chat"); ok {
		t.Errorf("bus still live after DELETE")
	}
	expectError(t, e.do(http.MethodDelete, "/api/channels/chat", "", ""), http.StatusNotFound, "unknown_channel")
}

// TestPublish_BusFilter publishes to a bus whose filter is written in Go:
// the filter's reason reaches the publisher.
func TestPublish_BusFilter(t *testing.T) {
	e := newEnv(t, halley.Config{}, httpapi.Options{})
	_, err := e.hub.NewBus(t.Context(), halley.BusOptions{Name: "chat", Filter: func(_ context.Context, w halley.Writer, data []byte) ([]byte, error) {
		if strings.Contains(string(data), "!") {
			return nil, fmt.Errorf("%w: too loud", halley.ErrRejected)
		}
		if strings.Contains(string(data), "?") {
			return nil, halley.ErrRejected
		}
		return []byte(fmt.Sprintf(`{"server":%t,"text":%q}`, w.Server(), data)), nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if res := e.post("/api/publish", map[string]any{"channel": "chat", "data": "hi"}); res.status != http.StatusOK {
		t.Fatalf("publish: %d %s", res.status, res.body)
	}
	res := e.post("/api/publish", map[string]any{"channel": "chat", "data": "HI!"})
	expectError(t, res, http.StatusUnprocessableEntity, "rejected")
	if msg := res.json(t)["message"]; msg != "too loud" {
		t.Errorf("message = %q, want the filter's reason", msg)
	}
	res = e.post("/api/publish", map[string]any{"channel": "chat", "data": "hi?"})
	expectError(t, res, http.StatusUnprocessableEntity, "rejected")
	if got := e.readAll("chat"); len(got) != 1 || got[0] != `{"server":true,"text":"hi"}` {
		t.Errorf("bus = %q, want the one filtered message", got)
	}
}

func TestPublish_TooLarge(t *testing.T) {
	e := newEnv(t, halley.Config{MaxMessageSize: 8}, httpapi.Options{})
	id := e.createChannel(nil)
	expectError(t, e.post("/api/publish", map[string]any{"channel": id, "data": "123456789"}), http.StatusRequestEntityTooLarge, "message_too_large")
}

// hookBackend is an httptest server playing a backend's filter or
// prepare hook; it records the requests' bodies.
type hookBackend struct {
	srv *httptest.Server

	mu   sync.Mutex
	reqs []map[string]json.RawMessage
}

func newHookBackend(t testing.TB, answer func(body map[string]json.RawMessage) (int, string)) *hookBackend {
	t.Helper()
	b := &hookBackend{}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var body map[string]json.RawMessage
		if err := json.Unmarshal(raw, &body); err != nil {
			t.Errorf("hook got %q: %v", raw, err)
		}
		b.mu.Lock()
		b.reqs = append(b.reqs, body)
		b.mu.Unlock()
		status, answer := answer(body)
		w.WriteHeader(status)
		_, _ = io.WriteString(w, answer)
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *hookBackend) requests() []map[string]json.RawMessage {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]map[string]json.RawMessage(nil), b.reqs...)
}

// hooks returns hook options whose client the backend closes.
func (b *hookBackend) hooks() hooks.Options { return hooks.Options{Client: b.srv.Client()} }

// chatFilter answers as a chat backend: spam is rejected, every other
// message is signed with its writer.
func chatFilter(body map[string]json.RawMessage) (int, string) {
	raw, _ := json.Marshal(body)
	f, _ := frame.Decode(raw)
	text := string(f.Data())
	if strings.Contains(text, "spam") {
		return http.StatusUnprocessableEntity, `{"reason":"no spam"}`
	}
	from := "server"
	if u, ok := body["user"]; ok {
		_ = json.Unmarshal(u, &from)
	}
	signed, _ := json.Marshal(map[string]string{"from": from, "text": text})
	return http.StatusOK, `{"json":` + string(signed) + `}`
}

func TestBuses_FilterURL(t *testing.T) {
	backend := newHookBackend(t, chatFilter)
	e := newEnv(t, halley.Config{}, httpapi.Options{Hooks: backend.hooks()})
	res := e.post("/api/buses", map[string]any{"filter_url": backend.srv.URL})
	if res.status != http.StatusCreated {
		t.Fatalf("create: %d %s", res.status, res.body)
	}
	id := res.json(t)["id"].(string)
	if len(id) != 22 {
		t.Errorf("id = %q, want a fresh id", id)
	}

	if res := e.post("/api/publish", map[string]any{"channel": id, "data": "hello"}); res.status != http.StatusOK {
		t.Fatalf("publish: %d %s", res.status, res.body)
	}
	res = e.post("/api/publish", map[string]any{"channel": id, "data": "buy spam"})
	expectError(t, res, http.StatusUnprocessableEntity, "rejected")
	if msg := res.json(t)["message"]; msg != "no spam" {
		t.Errorf("message = %q, want the backend's reason", msg)
	}
	if got := e.readAll(id); len(got) != 1 || got[0] != `{"from":"server","text":"hello"}` {
		t.Errorf("bus = %q, want the signed message only", got)
	}
	// The backend is told the bus id, the fresh one included.
	if got := string(backend.requests()[0]["bus"]); got != `"`+id+`"` {
		t.Errorf("bus field = %s, want %q", got, id)
	}
}

func TestBuses_FilterDown(t *testing.T) {
	down := httptest.NewServer(http.NotFoundHandler())
	url := down.URL
	down.Close()
	e := newEnv(t, halley.Config{}, httpapi.Options{Hooks: hooks.Options{Client: &http.Client{Transport: &http.Transport{}}}})
	if res := e.post("/api/buses", map[string]any{"name": "chat", "filter_url": url}); res.status != http.StatusCreated {
		t.Fatalf("create: %d %s", res.status, res.body)
	}
	res := e.post("/api/publish", map[string]any{"channel": "chat", "data": "hello"})
	expectError(t, res, http.StatusUnprocessableEntity, "rejected")
	if msg := res.json(t)["message"]; msg != hooks.ReasonUnavailable {
		t.Errorf("message = %q, want %q", msg, hooks.ReasonUnavailable)
	}
}
