package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/httpapi"
)

// TestNotifiers_PrepareBatch creates a notifier with prepare_batch: its
// backend is asked once about all three listeners, makes alice's and
// carol's notifications and blocks bob.
func TestNotifiers_PrepareBatch(t *testing.T) {
	backend := newHookBackend(t, func(body map[string]json.RawMessage) (int, string) {
		var ls []struct {
			Session string `json:"session"`
			User    string `json:"user"`
		}
		if err := json.Unmarshal(body["listeners"], &ls); err != nil {
			t.Errorf("listeners = %s: %v", body["listeners"], err)
		}
		results := make([]string, len(ls))
		for i, l := range ls {
			results[i] = `{"data":{"for":"` + l.User + `","doc":` + string(body["data"]) + `}}`
			if l.User == "bob" {
				results[i] = "null"
			}
		}
		return http.StatusOK, `{"results":[` + strings.Join(results, ",") + `]}`
	})
	e := newEnv(t, halley.Config{}, httpapi.Options{Hooks: backend.hooks()})
	e.createNotifier(map[string]any{"name": "docs", "prepare_url": backend.srv.URL + "/prepare", "prepare_batch": true})
	chans := map[string]string{}
	for _, u := range []string{"alice", "bob", "carol"} {
		chans[u] = e.listen(e.newSession(u), "docs", "42")
	}
	if n := e.notify(`{"notifier":"docs","key":"42","data":{"v":2}}`); n != 2 {
		t.Errorf("listeners = %d, want 2 (alice and carol)", n)
	}
	reqs := backend.requests()
	if len(reqs) != 1 {
		t.Fatalf("backend asked %d times, want once for the batch", len(reqs))
	}
	if _, ok := reqs[0]["session"]; ok || reqs[0]["listeners"] == nil {
		t.Errorf("request = %v, want a batch request (listeners, no session)", reqs[0])
	}
	for _, u := range []string{"alice", "carol"} {
		want := `{"notifier":"docs","key":"42","json":{"for":"` + u + `","doc":{"v":2}}}`
		if got := e.readAll(chans[u]); len(got) != 1 || got[0] != want {
			t.Errorf("%s got %q, want %s", u, got, want)
		}
	}
	if c, _ := e.hub.Channel(chans["bob"]); c.Offset() != 0 {
		t.Errorf("bob got a notification")
	}
}

func TestNotifiers_CreateOptions(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		status int
		reason string // for errors
	}{
		{name: "public", body: `{"name":"docs","public":true}`, status: http.StatusCreated},
		{name: "not public", body: `{"name":"docs","public":false}`, status: http.StatusCreated},
		{name: "batch", body: `{"name":"docs","prepare_url":"http://127.0.0.1:9/prepare","prepare_batch":true}`, status: http.StatusCreated},
		{name: "batch off", body: `{"name":"docs","prepare_url":"http://127.0.0.1:9/prepare","prepare_batch":false}`, status: http.StatusCreated},
		{name: "batch without url", body: `{"name":"docs","prepare_batch":true}`, status: http.StatusBadRequest, reason: "invalid_options"},
		{name: "batch with bad url", body: `{"name":"docs","prepare_url":"/prepare","prepare_batch":true}`, status: http.StatusBadRequest, reason: "invalid_options"},
		{name: "public as string", body: `{"name":"docs","public":"yes"}`, status: http.StatusBadRequest, reason: "bad_json"},
		{name: "batch as number", body: `{"name":"docs","prepare_batch":1}`, status: http.StatusBadRequest, reason: "bad_json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, halley.Config{}, httpapi.Options{})
			res := e.do(http.MethodPost, "/api/notifiers", "application/json", tt.body)
			if tt.reason != "" {
				expectError(t, res, tt.status, tt.reason)
				if _, err := halley.NewSimpleNotifier[string, string](e.hub, "docs"); err != nil {
					t.Errorf("the refused notifier took the name: %v", err)
				}
				return
			}
			if res.status != tt.status || res.json(t)["name"] != "docs" {
				t.Fatalf("answer = %d %s, want %d and the name", res.status, res.body, tt.status)
			}
		})
	}
}

func TestChannels_Public(t *testing.T) {
	tests := []struct {
		name   string
		path   string // where to create it
		body   map[string]any
		public bool
	}{
		{name: "public broadcast", path: "/api/channels", body: map[string]any{"name": "c", "public": true}, public: true},
		{name: "public newest", path: "/api/channels", body: map[string]any{"name": "c", "kind": "newest", "public": true}, public: true},
		{name: "private by default", path: "/api/channels", body: map[string]any{"name": "c"}},
		{name: "public bus", path: "/api/buses", body: map[string]any{"name": "c", "public": true}, public: true},
		{name: "public session-scope bus", path: "/api/buses", body: map[string]any{"name": "c", "scope": "session", "public": true}, public: true},
		{name: "private bus", path: "/api/buses", body: map[string]any{"name": "c", "public": false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, halley.Config{}, httpapi.Options{})
			if res := e.post(tt.path, tt.body); res.status != http.StatusCreated {
				t.Fatalf("create: %d %s", res.status, res.body)
			}
			if c, _ := e.hub.Channel("c"); c.Public() != tt.public {
				t.Errorf("Channel.Public() = %v, want %v", c.Public(), tt.public)
			}
			res := e.do(http.MethodGet, "/api/channels/c", "", "")
			if got, ok := res.json(t)["public"].(bool); res.status != http.StatusOK || !ok || got != tt.public {
				t.Errorf("GET = %d %s, want \"public\": %v", res.status, res.body, tt.public)
			}
		})
	}
}

func TestChannels_PublicSessionChannel(t *testing.T) {
	e := newEnv(t, halley.Config{}, httpapi.Options{})
	sid := e.newSession("")
	res := e.post("/api/channels", map[string]any{"kind": "session", "session": sid, "public": true})
	expectError(t, res, http.StatusBadRequest, "invalid_options")
	if n := e.hub.ChannelCount(); n != 0 {
		t.Errorf("%d channels after a refused create, want 0", n)
	}
	// A private session channel is fine.
	if res := e.post("/api/channels", map[string]any{"kind": "session", "session": sid, "public": false}); res.status != http.StatusCreated {
		t.Errorf("private session channel: %d %s, want 201", res.status, res.body)
	}
}

func TestChannels_PublicBadType(t *testing.T) {
	e := newEnv(t, halley.Config{}, httpapi.Options{})
	expectError(t, e.do(http.MethodPost, "/api/channels", "application/json", `{"public":"true"}`), http.StatusBadRequest, "bad_json")
	expectError(t, e.do(http.MethodPost, "/api/buses", "application/json", `{"public":1}`), http.StatusBadRequest, "bad_json")
}
