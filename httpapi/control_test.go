package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/httpapi"
)

func TestCommand(t *testing.T) {
	tests := []struct {
		name        string
		line        string
		contentType string
		active      bool
		timeout     string
	}{
		{name: "deactivate", line: "comet:deactivate", contentType: "text/plain", active: false, timeout: "20s"},
		{name: "set timeout", line: "  comet:set_timeout 5 KILL\n", active: true, timeout: "5s"},
		{name: "form media type", line: "comet:set_timeout 2.5", contentType: "application/x-www-form-urlencoded", active: true, timeout: "2.5s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, halley.Config{}, httpapi.Options{})
			res := e.do(http.MethodPost, "/api/command", tt.contentType, tt.line)
			if res.status != http.StatusOK || res.json(t)["ok"] != true {
				t.Fatalf("answer = %d %s, want 200 {\"ok\":true}", res.status, res.body)
			}
			if e.hub.Active() != tt.active || e.hub.PollTimeout().String() != tt.timeout {
				t.Errorf("hub active %v timeout %v, want %v %s", e.hub.Active(), e.hub.PollTimeout(), tt.active, tt.timeout)
			}
		})
	}
}

func TestCommand_Unknown(t *testing.T) {
	tests := []struct {
		name string
		line string
	}{
		{name: "empty", line: ""},
		{name: "other op", line: "comet:restart"},
		{name: "bad timeout", line: "comet:set_timeout soon"},
		{name: "zero timeout", line: "comet:set_timeout 0"},
		{name: "two lines", line: "comet:activate\ncomet:deactivate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, halley.Config{}, httpapi.Options{})
			expectError(t, e.do(http.MethodPost, "/api/command", "text/plain", tt.line), http.StatusBadRequest, "unknown_command")
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
	if len(got) != len(want) {
		t.Errorf("answer = %s, want exactly %v", res.body, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
}
