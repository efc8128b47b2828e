package httpapi_test

import (
	"net/http"
	"net/http/httptest"
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
