package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/httpapi"
)

func TestCommand(t *testing.T) {
	tests := []struct {
		name    string
		command string
		active  bool
		timeout string
	}{
		{name: "deactivate", command: "comet:deactivate", active: false, timeout: "20s"},
		{name: "set timeout", command: "  comet:set_timeout 5 KILL\n", active: true, timeout: "5s"},
		{name: "decimal timeout", command: "comet:set_timeout 2.5", active: true, timeout: "2.5s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, halley.Config{}, httpapi.Options{})
			res := e.post("/api/command", map[string]any{"command": tt.command})
			if res.status != http.StatusOK || res.json(t)["ok"] != true {
				t.Fatalf("answer = %d %s, want 200 {\"ok\":true}", res.status, res.body)
			}
			if e.hub.Active() != tt.active || e.hub.PollTimeout().String() != tt.timeout {
				t.Errorf("hub active %v timeout %v, want %v %s", e.hub.Active(), e.hub.PollTimeout(), tt.active, tt.timeout)
			}
		})
	}
}

// TestAPI_WithKey_PlainCommandWorks sends the command as text, as
// operators do with curl --data: with a key, any media type is fine.
func TestAPI_WithKey_PlainCommandWorks(t *testing.T) {
	tests := []struct {
		name        string
		line        string
		contentType string
		active      bool
		timeout     string
	}{
		{name: "text", line: "comet:deactivate", contentType: "text/plain", active: false, timeout: "20s"},
		{name: "no media type", line: "  comet:set_timeout 5 KILL\n", active: true, timeout: "5s"},
		{name: "form media type", line: "comet:set_timeout 2.5", contentType: "application/x-www-form-urlencoded", active: true, timeout: "2.5s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, halley.Config{}, httpapi.Options{APIKey: "s3cret"})
			res := e.do(http.MethodPost, "/api/command", tt.contentType, tt.line)
			if res.status != http.StatusOK || res.json(t)["ok"] != true {
				t.Fatalf("answer = %d %s, want 200 {\"ok\":true}", res.status, res.body)
			}
			if e.hub.Active() != tt.active || e.hub.PollTimeout().String() != tt.timeout {
				t.Errorf("hub active %v timeout %v, want %v %s", e.hub.Active(), e.hub.PollTimeout(), tt.active, tt.timeout)
			}
		})
	}
	t.Run("json form too", func(t *testing.T) {
		e := newEnv(t, halley.Config{}, httpapi.Options{APIKey: "s3cret"})
		if res := e.post("/api/command", map[string]any{"command": "comet:deactivate"}); res.status != http.StatusOK || e.hub.Active() {
			t.Fatalf("answer = %d %s, active %v; want 200 and deactivated", res.status, res.body, e.hub.Active())
		}
	})
}

// TestAPI_NoKey_RefusesPlainCommand checks that without a key the text
// form is refused whatever its media type, even empty, and changes
// nothing.
func TestAPI_NoKey_RefusesPlainCommand(t *testing.T) {
	for _, ct := range []string{"text/plain", "", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"} {
		for _, line := range []string{"comet:deactivate", ""} {
			e := newEnv(t, halley.Config{}, httpapi.Options{})
			expectError(t, e.do(http.MethodPost, "/api/command", ct, line), http.StatusUnsupportedMediaType, "unsupported_media_type")
			if !e.hub.Active() {
				t.Errorf("%q as %q deactivated the hub", line, ct)
			}
		}
	}
}

func TestCommand_Unknown(t *testing.T) {
	tests := []struct {
		name string
		line string
	}{
		{name: "blank", line: "  "},
		{name: "other op", line: "comet:restart"},
		{name: "bad timeout", line: "comet:set_timeout soon"},
		{name: "zero timeout", line: "comet:set_timeout 0"},
		{name: "two lines", line: "comet:activate\ncomet:deactivate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, halley.Config{}, httpapi.Options{})
			expectError(t, e.post("/api/command", map[string]any{"command": tt.line}), http.StatusBadRequest, "unknown_command")
			keyed := newEnv(t, halley.Config{}, httpapi.Options{APIKey: "k"})
			expectError(t, keyed.do(http.MethodPost, "/api/command", "text/plain", tt.line), http.StatusBadRequest, "unknown_command")
		})
	}
	keyed := newEnv(t, halley.Config{}, httpapi.Options{APIKey: "k"})
	expectError(t, keyed.do(http.MethodPost, "/api/command", "text/plain", ""), http.StatusBadRequest, "unknown_command")
}

func TestCommand_BadJSON(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		status int
		reason string
	}{
		{name: "empty body", body: ``, status: http.StatusBadRequest, reason: "bad_request"},
		{name: "no command", body: `{}`, status: http.StatusBadRequest, reason: "bad_request"},
		{name: "empty command", body: `{"command":""}`, status: http.StatusBadRequest, reason: "bad_request"},
		{name: "command as number", body: `{"command":1}`, status: http.StatusBadRequest, reason: "bad_json"},
		{name: "unknown field", body: `{"command":"comet:deactivate","now":true}`, status: http.StatusBadRequest, reason: "bad_json"},
		{name: "line as JSON type", body: `comet:deactivate`, status: http.StatusBadRequest, reason: "bad_json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, halley.Config{}, httpapi.Options{})
			expectError(t, e.do(http.MethodPost, "/api/command", "application/json", tt.body), tt.status, tt.reason)
			if !e.hub.Active() {
				t.Error("a refused command deactivated the hub")
			}
		})
	}
}

func TestStats(t *testing.T) {
	e := newEnv(t, halley.Config{PollTimeout: 7_000_000_000}, httpapi.Options{})
	e.createChannel(nil)
	e.createChannel(nil)
	e.post("/api/sessions", nil)
	res := e.do(http.MethodGet, "/api/stats", "", "")
	if res.status != http.StatusOK {
		t.Fatalf("status = %d (body %s)", res.status, res.body)
	}
	want := map[string]any{"channels": 2.0, "sessions": 1.0, "active": true, "poll_timeout": "7s"}
	got := res.json(t)
	if r, ok := got["refused"].(map[string]any); !ok || len(r) != 0 {
		t.Errorf("refused = %v, want an empty object", got["refused"])
	}
	delete(got, "refused")
	if node, _ := got["node"].(string); node != e.hub.Node() {
		t.Errorf("node = %v, want the hub's id %q", got["node"], e.hub.Node())
	}
	delete(got, "node")
	if _, ok := got["cluster"]; ok {
		t.Errorf("a hub alone answered a cluster object: %s", res.body)
	}
	if w, ok := got["writes"].(map[string]any); !ok || w["at_once"] != 0.0 || w["gathered"] != 0.0 {
		t.Errorf("writes = %v, want zero counts", got["writes"])
	}
	delete(got, "writes")
	if len(got) != len(want) {
		t.Errorf("answer = %s, want exactly %v", res.body, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
}
