package httpapi_test

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/httpapi"
)

// header is one request header, for the tables below.
type header struct{ name, value string }

// sendWith sends a request with extra headers and, unless empty, the Host
// host, with the env's API key if any.
func (e *testEnv) sendWith(method, path, host, contentType, body string, headers ...header) response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatalf("NewRequest: %v", err)
	}
	if host != "" {
		req.Host = host
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for _, h := range headers {
		req.Header.Add(h.name, h.value)
	}
	if e.key != "" {
		req.Header.Set("Authorization", "Bearer "+e.key)
	}
	return e.send(req)
}

// origin is the Origin of a page served by the env's server itself.
func (e *testEnv) origin() string { return e.srv.URL }

// TestAPI_NoKey_RefusesTextPlainCommandFromPage sends what a page of
// another site can send without a preflight, fetch(…, {mode: "no-cors"})
// with a text body: refused, and the hub stays active, whether the
// browser marks the request as cross-site or (an old one) does not.
func TestAPI_NoKey_RefusesTextPlainCommandFromPage(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		headers     []header
		status      int
		reason      string
	}{
		{name: "modern browser", contentType: "text/plain;charset=UTF-8", headers: []header{{"Origin", "http://attacker.example"}, {"Sec-Fetch-Site", "cross-site"}, {"Sec-Fetch-Mode", "no-cors"}}, status: http.StatusForbidden, reason: "cross_site"},
		{name: "origin only", contentType: "text/plain", headers: []header{{"Origin", "http://attacker.example"}}, status: http.StatusForbidden, reason: "cross_site"},
		{name: "no fetch metadata", contentType: "text/plain", status: http.StatusUnsupportedMediaType, reason: "unsupported_media_type"},
		{name: "html form", contentType: "application/x-www-form-urlencoded", status: http.StatusUnsupportedMediaType, reason: "unsupported_media_type"},
		{name: "multipart form", contentType: "multipart/form-data; boundary=x", status: http.StatusUnsupportedMediaType, reason: "unsupported_media_type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, halley.Config{}, httpapi.Options{})
			res := e.sendWith(http.MethodPost, "/api/command", "", tt.contentType, "comet:deactivate", tt.headers...)
			expectError(t, res, tt.status, tt.reason)
			if !e.hub.Active() {
				t.Error("the page deactivated the hub")
			}
		})
	}
}

// TestAPI_NoKey_RefusesForeignHost plays DNS rebinding: the page's own
// name now resolves to 127.0.0.1, so its requests are same-origin JSON,
// but they name a foreign Host.
func TestAPI_NoKey_RefusesForeignHost(t *testing.T) {
	e := newEnv(t, halley.Config{}, httpapi.Options{})
	const host = "attacker.example:8080"
	page := []header{{"Origin", "http://" + host}, {"Sec-Fetch-Site", "same-origin"}}
	expectError(t, e.sendWith(http.MethodGet, "/api/stats", host, "", "", page...), http.StatusForbidden, "host_not_loopback")
	expectError(t, e.sendWith(http.MethodPost, "/api/command", host, "application/json", `{"command":"comet:deactivate"}`, page...), http.StatusForbidden, "host_not_loopback")
	expectError(t, e.sendWith(http.MethodPost, "/api/channels", host, "application/json", `{"name":"x"}`, page...), http.StatusForbidden, "host_not_loopback")
	if !e.hub.Active() || e.hub.ChannelCount() != 0 {
		t.Errorf("the rebound page changed the hub: active %v, %d channels", e.hub.Active(), e.hub.ChannelCount())
	}
}

// TestAPI_NoKey_Hosts checks which Host values count as loopback.
func TestAPI_NoKey_Hosts(t *testing.T) {
	hub, err := halley.New(halley.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = hub.Shutdown(t.Context()) })
	h := httpapi.New(hub, httpapi.Options{})
	tests := []struct {
		host string
		ok   bool
	}{
		{host: "localhost", ok: true},
		{host: "localhost:8080", ok: true},
		{host: "LocalHost:8080", ok: true},
		{host: "app.localhost", ok: true},
		{host: "a.b.localhost:1", ok: true},
		{host: "127.0.0.1", ok: true},
		{host: "127.0.0.1:8080", ok: true},
		{host: "127.255.3.4:80", ok: true},
		{host: "[::1]", ok: true},
		{host: "[::1]:8080", ok: true},
		{host: "::1", ok: true},
		{host: ""},
		{host: "attacker.example"},
		{host: "attacker.example:8080"},
		{host: "localhost.attacker.example"},
		{host: "localhostx"},
		{host: "xlocalhost"},
		{host: ".localhost"},
		{host: "127.0.0.1.nip.io"},
		{host: "127.1"},
		{host: "0.0.0.0:8080"},
		{host: "10.0.0.1"},
		{host: "128.0.0.1"},
		{host: "[::ffff:127.0.0.1]"},
		{host: "[::2]:8080"},
		{host: "[fe80::1%25lo]"},
	}
	for _, tt := range tests {
		req := httptest.NewRequest(http.MethodGet, "/api/stats", nil)
		req.Host = tt.host
		req.RemoteAddr = "127.0.0.1:5555"
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		res := response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
		if tt.ok {
			if res.status != http.StatusOK {
				t.Errorf("Host %q: %d %s, want 200", tt.host, res.status, res.body)
			}
			continue
		}
		t.Run(tt.host, func(t *testing.T) { expectError(t, res, http.StatusForbidden, "host_not_loopback") })
	}
}

func TestAPI_NoKey_RefusesCrossSiteOrigin(t *testing.T) {
	tests := []struct {
		name    string
		headers func(e *testEnv) []header
	}{
		{name: "cross-site", headers: func(*testEnv) []header { return []header{{"Sec-Fetch-Site", "cross-site"}} }},
		{name: "same-site", headers: func(*testEnv) []header { return []header{{"Sec-Fetch-Site", "same-site"}} }},
		{name: "unknown fetch site", headers: func(*testEnv) []header { return []header{{"Sec-Fetch-Site", "nearby"}} }},
		{name: "same-origin but foreign Origin", headers: func(*testEnv) []header {
			return []header{{"Sec-Fetch-Site", "same-origin"}, {"Origin", "http://attacker.example"}}
		}},
		{name: "foreign origin", headers: func(*testEnv) []header { return []header{{"Origin", "http://attacker.example"}} }},
		{name: "null origin", headers: func(*testEnv) []header { return []header{{"Origin", "null"}} }},
		{name: "empty origin", headers: func(*testEnv) []header { return []header{{"Origin", ""}} }},
		{name: "other port", headers: func(*testEnv) []header { return []header{{"Origin", "http://127.0.0.1:1"}} }},
		{name: "localhost page", headers: func(*testEnv) []header { return []header{{"Origin", "http://localhost:3000"}} }},
		{name: "https without TLS", headers: func(e *testEnv) []header {
			return []header{{"Origin", strings.Replace(e.origin(), "http://", "https://", 1)}}
		}},
		{name: "second origin", headers: func(e *testEnv) []header {
			return []header{{"Origin", e.origin()}, {"Origin", "http://attacker.example"}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, halley.Config{}, httpapi.Options{})
			hs := tt.headers(e)
			expectError(t, e.sendWith(http.MethodGet, "/api/stats", "", "", "", hs...), http.StatusForbidden, "cross_site")
			expectError(t, e.sendWith(http.MethodPost, "/api/channels", "", "application/json", `{"name":"x"}`, hs...), http.StatusForbidden, "cross_site")
			expectError(t, e.sendWith(http.MethodPost, "/api/command", "", "application/json", `{"command":"comet:deactivate"}`, hs...), http.StatusForbidden, "cross_site")
			if !e.hub.Active() || e.hub.ChannelCount() != 0 {
				t.Errorf("the page changed the hub: active %v, %d channels", e.hub.Active(), e.hub.ChannelCount())
			}
		})
	}
}

// TestAPI_NoKey_AcceptsSameOriginPage sends what a page served by the
// server itself sends (the demo publishes with fetch), and what a
// browser sends for a URL the user typed.
func TestAPI_NoKey_AcceptsSameOriginPage(t *testing.T) {
	e := newEnv(t, halley.Config{}, httpapi.Options{})
	e.createChannel(map[string]any{"name": "demo"})
	page := []header{{"Origin", e.origin()}, {"Sec-Fetch-Site", "same-origin"}, {"Sec-Fetch-Mode", "cors"}}
	res := e.sendWith(http.MethodPost, "/api/publish", "", "application/json", `{"channel":"demo","data":"hi"}`, page...)
	if res.status != http.StatusOK || res.json(t)["offset"] != 1.0 {
		t.Fatalf("publish from the page = %d %s, want 200 offset 1", res.status, res.body)
	}
	upper := []header{{"Origin", strings.ToUpper(e.origin())}}
	if res := e.sendWith(http.MethodGet, "/api/stats", "", "", "", upper...); res.status != http.StatusOK {
		t.Errorf("stats with an upper-case Origin = %d %s, want 200", res.status, res.body)
	}
	typed := []header{{"Sec-Fetch-Site", "none"}, {"Sec-Fetch-Mode", "navigate"}}
	if res := e.sendWith(http.MethodGet, "/api/channels/demo", "", "", "", typed...); res.status != http.StatusOK {
		t.Errorf("a typed URL = %d %s, want 200", res.status, res.body)
	}
	res = e.sendWith(http.MethodPost, "/api/command", "", "application/json", `{"command":"comet:deactivate"}`, page...)
	if res.status != http.StatusOK || e.hub.Active() {
		t.Errorf("command from the page = %d %s, active %v; want 200 and deactivated", res.status, res.body, e.hub.Active())
	}
	// curl, a backend: no browser headers at all.
	if res := e.sendWith(http.MethodPost, "/api/sessions", "", "", ""); res.status != http.StatusCreated {
		t.Errorf("session without a body = %d %s, want 201", res.status, res.body)
	}
}

// TestAPI_NoKey_AcceptsTLSOrigin checks that behind TLS the page's origin
// is https.
func TestAPI_NoKey_AcceptsTLSOrigin(t *testing.T) {
	hub, err := halley.New(halley.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = hub.Shutdown(t.Context()) })
	h := httpapi.New(hub, httpapi.Options{})
	for _, origin := range []string{"https://localhost:8443", "http://localhost:8443"} {
		req := httptest.NewRequest(http.MethodGet, "https://localhost:8443/api/stats", nil)
		req.RemoteAddr = "[::1]:5555"
		req.TLS = &tls.ConnectionState{}
		req.Header.Set("Origin", origin)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Errorf("Origin %s over TLS: %d %s, want 200", origin, rec.Code, rec.Body)
		}
	}
}

func TestAPI_NoKey_RefusesNonJSONBody(t *testing.T) {
	e := newEnv(t, halley.Config{}, httpapi.Options{})
	for _, path := range []string{"/api/channels", "/api/sessions", "/api/buses", "/api/notifiers"} {
		for _, ct := range []string{"", "text/plain", "application/x-www-form-urlencoded", "application/problem+json"} {
			expectError(t, e.do(http.MethodPost, path, ct, `{"name":"x"}`), http.StatusUnsupportedMediaType, "unsupported_media_type")
		}
	}
	if n := e.hub.ChannelCount() + e.hub.SessionCount(); n != 0 {
		t.Errorf("refused requests created %d channels and sessions", n)
	}
}

// TestAPI_NoKey_RemoteFirst checks that a remote client learns that a key
// is needed, whatever else is wrong with its request.
func TestAPI_NoKey_RemoteFirst(t *testing.T) {
	hub, err := halley.New(halley.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = hub.Shutdown(t.Context()) })
	req := httptest.NewRequest(http.MethodPost, "http://attacker.example/api/command", strings.NewReader("comet:deactivate"))
	req.RemoteAddr = "192.0.2.1:5555"
	req.Header.Set("Origin", "http://elsewhere.example")
	rec := httptest.NewRecorder()
	httpapi.New(hub, httpapi.Options{}).ServeHTTP(rec, req)
	expectError(t, response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}, http.StatusForbidden, "api_key_required")
}

// TestAPI_WithKey_SkipsPageChecks checks that with a key, which a page
// cannot send to another origin, none of the key-less checks apply.
func TestAPI_WithKey_SkipsPageChecks(t *testing.T) {
	e := newEnv(t, halley.Config{}, httpapi.Options{APIKey: "s3cret"})
	hs := []header{{"Origin", "http://elsewhere.example"}, {"Sec-Fetch-Site", "cross-site"}}
	if res := e.sendWith(http.MethodGet, "/api/stats", "halley.example:8080", "", "", hs...); res.status != http.StatusOK {
		t.Errorf("stats = %d %s, want 200", res.status, res.body)
	}
	if res := e.sendWith(http.MethodPost, "/api/command", "halley.example", "text/plain", "comet:deactivate", hs...); res.status != http.StatusOK || e.hub.Active() {
		t.Errorf("command = %d %s, active %v; want 200 and deactivated", res.status, res.body, e.hub.Active())
	}
	// The key is still needed.
	e.key = ""
	expectError(t, e.sendWith(http.MethodGet, "/api/stats", "", "", ""), http.StatusUnauthorized, "unauthorized")
}
