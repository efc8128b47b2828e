package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/httpapi"
)

func TestAuth_APIKey(t *testing.T) {
	tests := []struct {
		name   string
		header string // Authorization; empty: none
		status int
	}{
		{name: "missing", status: http.StatusUnauthorized},
		{name: "wrong", header: "Bearer nope", status: http.StatusUnauthorized},
		{name: "prefix of the key", header: "Bearer s3cre", status: http.StatusUnauthorized},
		{name: "no scheme", header: "s3cret", status: http.StatusUnauthorized},
		{name: "basic", header: "Basic czNjcmV0", status: http.StatusUnauthorized},
		{name: "right", header: "Bearer s3cret", status: http.StatusOK},
		{name: "scheme is case-insensitive", header: "bearer s3cret", status: http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, halley.Config{}, httpapi.Options{APIKey: "s3cret"})
			req, err := http.NewRequest(http.MethodGet, e.srv.URL+"/api/stats", nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			res := e.send(req)
			if tt.status == http.StatusOK {
				if res.status != http.StatusOK {
					t.Fatalf("status = %d, want 200 (body %s)", res.status, res.body)
				}
				return
			}
			expectError(t, res, tt.status, "unauthorized")
			if res.header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
}

func TestAuth_NoKeyRemote(t *testing.T) {
	hub, err := halley.New(halley.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = hub.Shutdown(t.Context()) })
	h := httpapi.New(hub, httpapi.Options{})

	tests := []struct {
		name   string
		remote string
		status int
	}{
		{name: "private address", remote: "10.1.2.3:5555", status: http.StatusForbidden},
		{name: "public IPv6", remote: "[2001:db8::1]:5555", status: http.StatusForbidden},
		{name: "garbage", remote: "somewhere", status: http.StatusForbidden},
		{name: "IPv4 loopback", remote: "127.0.0.1:5555", status: http.StatusOK},
		{name: "other IPv4 loopback", remote: "127.8.9.10:5555", status: http.StatusOK},
		{name: "IPv6 loopback", remote: "[::1]:5555", status: http.StatusOK},
		{name: "mapped loopback", remote: "[::ffff:127.0.0.1]:5555", status: http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:8080/api/stats", nil)
			req.RemoteAddr = tt.remote
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			res := response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
			if tt.status == http.StatusOK {
				if res.status != http.StatusOK {
					t.Fatalf("status = %d, want 200 (body %s)", res.status, res.body)
				}
				return
			}
			expectError(t, res, tt.status, "api_key_required")
		})
	}
}

func TestCheckAPIKey(t *testing.T) {
	tests := []struct {
		name    string
		key     string
		wantErr string // "" when the key is fine
	}{
		{name: "no key", key: ""},
		{name: "plain", key: "s3cret"},
		{name: "inner space", key: "correct horse battery staple"},
		{name: "non-ASCII", key: "clé-été"},
		{name: "leading space", key: " s3cret", wantErr: "leading or trailing white space"},
		{name: "trailing newline", key: "s3cret\n", wantErr: "leading or trailing white space"},
		{name: "trailing tab", key: "s3cret\t", wantErr: "leading or trailing white space"},
		{name: "leading no-break space", key: "\u00a0s3cret", wantErr: "leading or trailing white space"},
		{name: "inner newline", key: "s3c\nret", wantErr: "control character"},
		{name: "inner tab", key: "s3c\tret", wantErr: "control character"},
		{name: "NUL", key: "s3c\x00ret", wantErr: "control character"},
		{name: "DEL", key: "s3cret\x7f", wantErr: "control character"},
		{name: "C1 control", key: "s3c\u0085ret", wantErr: "control character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := httpapi.CheckAPIKey(tt.key)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("CheckAPIKey(%q) = %v, want nil", tt.key, err)
				}
				if tt.key != "" {
					// A key it accepts works.
					e := newEnv(t, halley.Config{}, httpapi.Options{APIKey: tt.key})
					if res := e.do(http.MethodGet, "/api/stats", "", ""); res.status != http.StatusOK {
						t.Errorf("with the key: %d %s, want 200", res.status, res.body)
					}
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("CheckAPIKey(%q) = %v, want an error with %q", tt.key, err, tt.wantErr)
			}
			if strings.Contains(err.Error(), strings.TrimSpace(tt.key)) {
				t.Errorf("the error %q shows the key", err)
			}
		})
	}
}

// TestCheckAPIKey_WhiteSpaceNeverMatches shows why CheckAPIKey refuses
// white space around a key: a client sending it exactly is refused.
func TestCheckAPIKey_WhiteSpaceNeverMatches(t *testing.T) {
	for _, key := range []string{" s3cret", "s3cret "} {
		e := newEnv(t, halley.Config{}, httpapi.Options{APIKey: key})
		req, err := http.NewRequest(http.MethodGet, e.srv.URL+"/api/stats", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+key)
		expectError(t, e.send(req), http.StatusUnauthorized, "unauthorized")
	}
}
