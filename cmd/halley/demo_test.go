package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/internal/wire/ocsigen"
)

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestServe_DemoPage(t *testing.T) {
	s := startRun(t, "--addr", "127.0.0.1:0")
	res := s.do(http.MethodGet, "/", "", "")
	if res.status != http.StatusOK || !strings.HasPrefix(res.header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET / = %d %q, want 200 text/html", res.status, res.header.Get("Content-Type"))
	}
	for _, want := range []string{"<title>Halley demo</title>", `src="/demo/app.js"`, `id="chat-form"`} {
		if !strings.Contains(res.body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if csp := res.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "script-src 'unsafe-inline'") {
		t.Errorf("policy %q: want scripts of this origin only", csp)
	}
	for path, want := range map[string]string{"/demo/app.js": `"./client.js"`, "/demo/client.js": "export{"} {
		res := s.do(http.MethodGet, path, "", "")
		if res.status != http.StatusOK || !strings.HasPrefix(res.header.Get("Content-Type"), "text/javascript") || !strings.Contains(res.body, want) {
			t.Errorf("GET %s = %d %q, want the script", path, res.status, res.header.Get("Content-Type"))
		}
	}
	for name, kind := range map[string]string{"demo": "broadcast", "demo:counter": "newest", "demo:stats": "newest", "demo:lazy": "lazy", "demo:chat": "bus", "demo:burst": "bus"} {
		if res := s.do(http.MethodGet, "/api/channels/"+name, "", ""); res.status != http.StatusOK || !strings.Contains(res.body, `"kind":"`+kind+`"`) {
			t.Errorf("demo channel %s: %d %s, want kind %s", name, res.status, res.body, kind)
		}
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

// TestDemo_Filters checks the demo buses' filters: chat lines are checked
// and tagged with their writer (never its session id), and bursts are
// limited to one a second.
func TestDemo_Filters(t *testing.T) {
	hub, err := halley.New(halley.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Shutdown(context.Background())
	d := newDemo(true)
	if err := d.start(t.Context(), hub, discard()); err != nil {
		t.Fatal(err)
	}
	s1, _ := hub.NewSession()
	s2, _ := hub.NewSession()
	tag := func(s *halley.Session, in string) (chatLine, error) {
		out, err := d.chatFilter(t.Context(), halley.Writer{Bus: demoChat, Session: s}, []byte(in))
		var l chatLine
		if err == nil {
			err = json.Unmarshal(out, &l)
		}
		return l, err
	}
	a, err := tag(s1, `{"name":" Ann ","text":"hi"}`)
	if err != nil || a.Name != "Ann" || a.Text != "hi" || a.Writer == "" || strings.Contains(s1.ID(), a.Writer) {
		t.Fatalf("line = %+v, %v", a, err)
	}
	a2, _ := tag(s1, `{"text":"again"}`)
	b, _ := tag(s2, `{"text":"me too"}`)
	if a2.Writer != a.Writer || b.Writer == a.Writer || a2.Name != "anonymous" {
		t.Errorf("tags %q %q %q: want one per session", a.Writer, a2.Writer, b.Writer)
	}
	for _, bad := range []string{`{"text":"  "}`, `nope`, `{"text":"x","name":"` + strings.Repeat("n", 33) + `"}`, `{"text":"` + strings.Repeat("t", 501) + `"}`} {
		if _, err := tag(s1, bad); err == nil {
			t.Errorf("%s: accepted", bad)
		} else if _, ok := halley.RejectReason(err); !ok {
			t.Errorf("%s: %v, want a rejection", bad, err)
		}
	}
	if _, err := d.burstFilter(t.Context(), halley.Writer{Bus: demoBurst, Session: s1}, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if d.news.Offset() < demoRing+5 {
		t.Errorf("news offset %d after a burst, want at least %d", d.news.Offset(), demoRing+5)
	}
	if _, err := d.burstFilter(t.Context(), halley.Writer{Bus: demoBurst, Session: s2}, []byte(`{}`)); err == nil {
		t.Error("a second burst at once was accepted")
	}
}
