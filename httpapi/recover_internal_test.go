package httpapi

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRecover(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		status  int
		body    string
	}{
		{name: "panic before answering", handler: func(http.ResponseWriter, *http.Request) { panic("boom") },
			status: http.StatusInternalServerError, body: `"error":"internal"`},
		{name: "panic after answering", handler: func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusAccepted)
			panic("boom")
		}, status: http.StatusAccepted, body: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			a := &api{log: slog.New(slog.NewTextHandler(&logs, nil))}
			rec := httptest.NewRecorder()
			a.recover(tt.handler).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/x", nil))
			if rec.Code != tt.status || !strings.Contains(rec.Body.String(), tt.body) {
				t.Errorf("answer = %d %q, want %d with %q", rec.Code, rec.Body, tt.status, tt.body)
			}
			if tt.body != "" && !json.Valid(rec.Body.Bytes()) {
				t.Errorf("body %q is not JSON", rec.Body)
			}
			if !strings.Contains(logs.String(), "boom") {
				t.Errorf("the panic was not logged: %q", logs.String())
			}
		})
	}
}

func TestRecover_AbortHandler(t *testing.T) {
	a := &api{log: slog.New(slog.DiscardHandler)}
	defer func() {
		if v := recover(); v != http.ErrAbortHandler {
			t.Errorf("recovered %v, want http.ErrAbortHandler passed on", v)
		}
	}()
	a.recover(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) })).
		ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
}
