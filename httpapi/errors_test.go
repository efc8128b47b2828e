package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/httpapi"
)

func TestBadJSON(t *testing.T) {
	e := newEnv(t, halley.Config{}, httpapi.Options{})
	expectError(t, e.do(http.MethodPost, "/api/channels", "application/json", `{"name":`), http.StatusBadRequest, "bad_json")
}

func TestUnsupportedMediaType(t *testing.T) {
	e := newEnv(t, halley.Config{}, httpapi.Options{})
	expectError(t, e.do(http.MethodPost, "/api/publish", "text/plain", `{"channel":"x","data":1}`), http.StatusUnsupportedMediaType, "unsupported_media_type")
}

func TestBodyTooLarge(t *testing.T) {
	e := newEnv(t, halley.Config{MaxMessageSize: 16}, httpapi.Options{MaxBody: 64})
	id := e.createChannel(nil)
	// A publication's body may exceed MaxBody, up to twice the message
	// limit and 4 KiB: a message over the hub's limit is said to be so.
	big := `{"channel":"` + id + `","data":"` + strings.Repeat("x", 100) + `"}`
	res := e.do(http.MethodPost, "/api/publish", "application/json", big)
	expectError(t, res, http.StatusRequestEntityTooLarge, "message_too_large")
	if !strings.Contains(string(res.body), "the limit is 16") {
		t.Errorf("message_too_large without the limit: %s", res.body)
	}
	huge := `{"channel":"` + id + `","data":"` + strings.Repeat("x", 5000) + `"}`
	expectError(t, e.do(http.MethodPost, "/api/publish", "application/json", huge), http.StatusRequestEntityTooLarge, "body_too_large")
	expectError(t, e.do(http.MethodPost, "/api/command", "application/json", `{"command":"`+strings.Repeat(" ", 65)+`"}`), http.StatusRequestEntityTooLarge, "body_too_large")
	keyed := newEnv(t, halley.Config{}, httpapi.Options{MaxBody: 64, APIKey: "k"})
	expectError(t, keyed.do(http.MethodPost, "/api/command", "text/plain", strings.Repeat(" ", 65)), http.StatusRequestEntityTooLarge, "body_too_large")
}

func TestCreateChannel_EmptyName(t *testing.T) {
	e := newEnv(t, halley.Config{}, httpapi.Options{})
	expectError(t, e.do(http.MethodPost, "/api/channels", "application/json", `{"name":""}`), http.StatusBadRequest, "invalid_name")
	if n := e.hub.ChannelCount(); n != 0 {
		t.Fatalf("%d channels after an empty name, want none", n)
	}
}

func TestMethodNotAllowed(t *testing.T) {
	tests := []struct {
		name   string
		method string
		path   string
		allow  string
	}{
		{name: "PUT channels", method: http.MethodPut, path: "/api/channels", allow: "GET, POST"},
		{name: "PUT channel", method: http.MethodPut, path: "/api/channels/x", allow: "DELETE, GET"},
		{name: "GET publish", method: http.MethodGet, path: "/api/publish", allow: "POST"},
		{name: "DELETE sessions", method: http.MethodDelete, path: "/api/sessions", allow: "GET, POST"},
		{name: "GET session", method: http.MethodGet, path: "/api/sessions/x", allow: "DELETE"},
		{name: "GET command", method: http.MethodGet, path: "/api/command", allow: "POST"},
		{name: "POST stats", method: http.MethodPost, path: "/api/stats", allow: "GET"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, halley.Config{}, httpapi.Options{})
			res := e.do(tt.method, tt.path, "", "")
			expectError(t, res, http.StatusMethodNotAllowed, "method_not_allowed")
			if got := res.header.Get("Allow"); got != tt.allow {
				t.Errorf("Allow = %q, want %q", got, tt.allow)
			}
		})
	}
}

func TestNotFound(t *testing.T) {
	e := newEnv(t, halley.Config{}, httpapi.Options{})
	for _, path := range []string{"/api/", "/api/nope", "/api/channels/", "/api/channels/a/b", "/api/stats/x"} {
		expectError(t, e.do(http.MethodGet, path, "", ""), http.StatusNotFound, "not_found")
	}
}

// TestMalformed sends inputs a careless or hostile client might: each gets
// a 4xx JSON answer with a reason, never a 5xx or a dropped connection.
func TestMalformed(t *testing.T) {
	tests := []struct {
		name        string
		method      string
		path        string
		contentType string
		body        string
		status      int
		reason      string
	}{
		{name: "array body", method: "POST", path: "/api/channels", contentType: "application/json", body: `[]`, status: 400, reason: "bad_json"},
		{name: "string body", method: "POST", path: "/api/publish", contentType: "application/json", body: `"x"`, status: 400, reason: "bad_json"},
		{name: "null body", method: "POST", path: "/api/publish", contentType: "application/json", body: `null`, status: 400, reason: "bad_json"},
		{name: "unknown field", method: "POST", path: "/api/channels", contentType: "application/json", body: `{"nom":"x"}`, status: 400, reason: "bad_json"},
		{name: "two objects", method: "POST", path: "/api/channels", contentType: "application/json", body: `{}{}`, status: 400, reason: "bad_json"},
		{name: "trailing garbage", method: "POST", path: "/api/channels", contentType: "application/json", body: `{} x`, status: 400, reason: "bad_json"},
		{name: "size as string", method: "POST", path: "/api/channels", contentType: "application/json", body: `{"size":"10"}`, status: 400, reason: "bad_json"},
		{name: "size overflow", method: "POST", path: "/api/channels", contentType: "application/json", body: `{"size":1e100}`, status: 400, reason: "bad_json"},
		{name: "kind as number", method: "POST", path: "/api/channels", contentType: "application/json", body: `{"kind":2}`, status: 400, reason: "bad_json"},
		{name: "channel as number", method: "POST", path: "/api/publish", contentType: "application/json", body: `{"channel":1,"data":1}`, status: 400, reason: "bad_json"},
		{name: "NUL in name", method: "POST", path: "/api/channels", contentType: "application/json", body: `{"name":"a\u0000"}`, status: 400, reason: "invalid_name"},
		{name: "bad media type", method: "POST", path: "/api/channels", contentType: "application/json; charset", body: `{}`, status: 415, reason: "unsupported_media_type"},
		{name: "no media type", method: "POST", path: "/api/channels", body: `{}`, status: 415, reason: "unsupported_media_type"},
		{name: "json suffix", method: "POST", path: "/api/channels", contentType: "application/problem+json", body: `{}`, status: 415, reason: "unsupported_media_type"},
		{name: "truncated data", method: "POST", path: "/api/publish", contentType: "application/json", body: `{"channel":"x","data":{"a":`, status: 400, reason: "bad_json"},
		{name: "blank data", method: "POST", path: "/api/publish", contentType: "application/json", body: `{"channel":"x","data":}`, status: 400, reason: "bad_json"},
		{name: "binary command", method: "POST", path: "/api/command", contentType: "application/json", body: `{"command":"\u0000\u00ff\u0001"}`, status: 400, reason: "unknown_command"},
		{name: "text command without key", method: "POST", path: "/api/command", body: "\x00\xff\x01", status: 415, reason: "unsupported_media_type"},
		{name: "unknown session id", method: "DELETE", path: "/api/sessions/%00", status: 404, reason: "unknown_session"},
		{name: "unknown channel id", method: "GET", path: "/api/channels/%2F%2E%2E", status: 404, reason: "unknown_channel"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, halley.Config{}, httpapi.Options{})
			expectError(t, e.do(tt.method, tt.path, tt.contentType, tt.body), tt.status, tt.reason)
		})
	}
}
