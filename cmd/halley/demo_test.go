package main

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/halleyhq/halley/internal/wire/ocsigen"
)

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestServe_DemoPage(t *testing.T) {
	s := startRun(t, "--addr", "127.0.0.1:0")
	res := s.do(http.MethodGet, "/", "", "")
	if res.status != http.StatusOK || !strings.HasPrefix(res.header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET / = %d %q, want 200 text/html", res.status, res.header.Get("Content-Type"))
	}
	for _, want := range []string{"<title>Halley demo</title>", "application/x-ocsigen-comet", "/api/publish", "lastIndexOf(\":\")"} {
		if !strings.Contains(res.body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if res := s.do(http.MethodGet, "/api/channels/demo", "", ""); res.status != http.StatusOK || !strings.Contains(res.body, `"kind":"broadcast"`) {
		t.Errorf("demo channel: %d %s", res.status, res.body)
	}
	if res := s.do(http.MethodGet, "/nope", "", ""); res.status != http.StatusNotFound {
		t.Errorf("GET /nope = %d, want 404", res.status)
	}
	if code := s.stop(); code != 0 {
		t.Errorf("exit code = %d, want 0", code)
	}
}

func TestServe_DemoTicks(t *testing.T) {
	cfg := defaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.demoTick = 5 * time.Millisecond
	s := startServe(t, cfg)

	r := waitPoll(t, s.poll("demo"))
	lines, err := ocsigen.ParseResponse([]byte(r.body))
	if err != nil || r.status != http.StatusOK || len(lines) == 0 {
		t.Fatalf("poll = %d %q (%v), want ticks", r.status, r.body, err)
	}
	var tk struct {
		Tick int    `json:"tick"`
		Time string `json:"time"`
	}
	if err := json.Unmarshal(lines[0].Value, &tk); err != nil {
		t.Fatalf("tick %q: %v", lines[0].Value, err)
	}
	if _, err := time.Parse(time.RFC3339, tk.Time); err != nil || tk.Tick < 1 {
		t.Errorf("tick = %+v, want a number and an RFC 3339 time", tk)
	}

	// Closing the demo channel stops the ticker, which shutdown then
	// finds stopped.
	if res := s.do(http.MethodDelete, "/api/channels/demo", "", ""); res.status != http.StatusNoContent {
		t.Fatalf("DELETE demo: %d %s", res.status, res.body)
	}
	if code := s.stop(); code != 0 {
		t.Errorf("exit code = %d, want 0", code)
	}
}
