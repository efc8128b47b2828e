package httpapi_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/httpapi"
)

// FuzzAPI sends arbitrary requests: the API must answer every one with a
// status below 500 and, for errors, a JSON reason.
func FuzzAPI(f *testing.F) {
	f.Add("POST", "/api/channels", "application/json", `{"name":"news","kind":"newest","size":3}`)
	f.Add("POST", "/api/publish", "application/json", `{"channel":"news","data":{"a":[1,2]}}`)
	f.Add("POST", "/api/publish", "application/json", `{"channel":"news","data":"\u00e9\ud800"}`)
	f.Add("POST", "/api/sessions", "", "")
	f.Add("POST", "/api/command", "text/plain", "comet:set_timeout 1e308")
	f.Add("POST", "/api/command", "application/json", `{"command":"comet:set_timeout 1e308"}`)
	f.Add("GET", "/api/channels/news", "", "")
	f.Add("DELETE", "/api/sessions/%ff", "", "")
	f.Add("PATCH", "/api/stats", "", "")

	// Once the cap is reached, creates get 429: still a client error.
	hub, err := halley.New(halley.Config{Logger: slog.New(slog.DiscardHandler), MaxChannels: 100})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = hub.Shutdown(f.Context()) })
	h := httpapi.New(hub, httpapi.Options{Logger: slog.New(slog.DiscardHandler), MaxBody: 4096})
	if _, err := hub.NewChannel(f.Context(), halley.ChannelOptions{Name: "news"}); err != nil {
		f.Fatal(err)
	}

	f.Fuzz(func(t *testing.T, method, path, contentType, body string) {
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		req, err := http.NewRequest(method, "http://localhost"+path, strings.NewReader(body))
		if err != nil {
			return // not a request a server could receive
		}
		req.RemoteAddr = "127.0.0.1:1234"
		req.Header.Set("Content-Type", contentType)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s %q: %d %s", method, path, body, rec.Code, rec.Body)
		}
		if rec.Code >= 400 {
			var e struct{ Error string }
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error == "" {
				t.Fatalf("%s %s: %d %q is not a JSON error", method, path, rec.Code, rec.Body)
			}
		}
	})
}
