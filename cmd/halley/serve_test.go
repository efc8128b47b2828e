package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/halleyhq/halley/internal/wire/ocsigen"
)

func TestServe_PublishAndPoll(t *testing.T) {
	s := startRun(t, "serve", "--addr", "127.0.0.1:0", "--demo=false")
	if _, i := s.log.wait(t, 0, "halley: no API key: the HTTP API answers loopback clients only"); i == 0 {
		t.Fatal("no API key warning")
	}
	res := s.do(http.MethodPost, "/api/channels", "application/json", `{"name":"news"}`)
	if res.status != http.StatusCreated {
		t.Fatalf("create: %d %s", res.status, res.body)
	}

	done := s.poll("news")
	// Once the poll is counted as a listener, a message reaches it.
	s.waitListeners("news", 1)
	res = s.do(http.MethodPost, "/api/publish", "application/json", `{"channel":"news","data":"hello world & more"}`)
	if res.status != http.StatusOK {
		t.Fatalf("publish: %d %s", res.status, res.body)
	}
	var out struct{ Offset, Delivered int }
	if err := json.Unmarshal([]byte(res.body), &out); err != nil {
		t.Fatal(err)
	}
	if out.Offset != 1 || out.Delivered != 1 {
		t.Errorf("publish = %s, want offset 1 delivered 1", res.body)
	}
	r := waitPoll(t, done)
	if r.status != http.StatusOK || r.body != "news:hello%20world%20%26%20more" {
		t.Errorf("poll = %d %q, want 200 %q", r.status, r.body, "news:hello%20world%20%26%20more")
	}
}

func TestServe_Healthz(t *testing.T) {
	s := startRun(t, "--addr", "127.0.0.1:0", "--demo=false")
	res := s.do(http.MethodGet, "/healthz", "", "")
	if res.status != http.StatusOK || res.body != `{"alive":true,"reason":"serving"}`+"\n" {
		t.Errorf("/healthz = %d %q, want 200 alive", res.status, res.body)
	}
	if res := s.do(http.MethodGet, "/", "", ""); res.status != http.StatusNotFound {
		t.Errorf("/ without demo = %d, want 404", res.status)
	}
}

func TestServe_APIKey(t *testing.T) {
	s := startRun(t, "--addr", "127.0.0.1:0", "--demo=false", "--api-key", "s3cret")
	if res := s.do(http.MethodGet, "/api/stats", "", ""); res.status != http.StatusUnauthorized || !strings.Contains(res.body, `"unauthorized"`) {
		t.Errorf("without key: %d %s, want 401 unauthorized", res.status, res.body)
	}
	s.key = "wrong"
	if res := s.do(http.MethodGet, "/api/stats", "", ""); res.status != http.StatusUnauthorized {
		t.Errorf("wrong key: %d %s, want 401", res.status, res.body)
	}
	s.key = "s3cret"
	if res := s.do(http.MethodGet, "/api/stats", "", ""); res.status != http.StatusOK {
		t.Errorf("right key: %d %s, want 200", res.status, res.body)
	}
	// The comet transport is for browsers: it needs no key.
	if r := waitPoll(t, s.poll("nope")); r.status != http.StatusOK || r.body != "nope:ENDED_CHANNEL" {
		t.Errorf("poll = %d %q, want the end of an unknown channel", r.status, r.body)
	}
}

func TestServe_APIKeyFromEnv(t *testing.T) {
	t.Setenv("HALLEY_API_KEY", "from-env")
	s := startRun(t, "--addr", "127.0.0.1:0", "--demo=false")
	if res := s.do(http.MethodGet, "/api/stats", "", ""); res.status != http.StatusUnauthorized {
		t.Errorf("without key: %d, want 401", res.status)
	}
	s.key = "from-env"
	if res := s.do(http.MethodGet, "/api/stats", "", ""); res.status != http.StatusOK {
		t.Errorf("with key: %d %s, want 200", res.status, res.body)
	}
}

func TestServe_MaxVirtualChannels(t *testing.T) {
	s := startRun(t, "--addr", "127.0.0.1:0", "--demo=false", "--max-virtual-channels", "1", "--poll-timeout", "7s")
	if res := s.do(http.MethodPost, "/api/channels", "", ""); res.status != http.StatusCreated {
		t.Fatalf("first channel: %d %s", res.status, res.body)
	}
	if res := s.do(http.MethodPost, "/api/channels", "", ""); res.status != http.StatusTooManyRequests {
		t.Errorf("second channel: %d %s, want 429", res.status, res.body)
	}
	if res := s.do(http.MethodGet, "/api/stats", "", ""); !strings.Contains(res.body, `"poll_timeout":"7s"`) {
		t.Errorf("stats = %s, want the poll timeout of the flag", res.body)
	}
}

func TestServe_ShutdownAnswersWaitingPoll(t *testing.T) {
	s := startRun(t, "--addr", "127.0.0.1:0", "--demo=false")
	if res := s.do(http.MethodPost, "/api/channels", "application/json", `{"name":"news"}`); res.status != http.StatusCreated {
		t.Fatalf("create: %d %s", res.status, res.body)
	}
	done := s.poll("news")
	s.waitListeners("news", 1)

	if code := s.stop(); code != 0 {
		t.Errorf("exit code = %d, want 0 (stderr %q)", code, s.stderr.String())
	}
	r := waitPoll(t, done)
	if r.status != http.StatusOK || r.body != "" {
		t.Errorf("poll = %d %q, want the empty answer of a timeout", r.status, r.body)
	}
	s.log.wait(t, 0, "halley: stopped")
}

func TestServe_AddressInUse(t *testing.T) {
	s := startRun(t, "--addr", "127.0.0.1:0", "--demo=false")
	var stdout, stderr syncBuffer
	addr := strings.TrimPrefix(s.url, "http://")
	if code := run(t.Context(), []string{"--addr", addr, "--demo=false"}, &stdout, &stderr); code != 1 {
		t.Errorf("exit code = %d, want 1 (stderr %q)", code, stderr.String())
	}
}

// TestServe_Declarations starts a server whose config file declares a
// channel, a bus filtered by a backend (an httptest server that rejects
// spam and signs messages with their writer) and a notifier.
func TestServe_Declarations(t *testing.T) {
	var hookCalls atomic.Int32
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hookCalls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("Authorization") != "Bearer hook-secret" {
			w.WriteHeader(http.StatusForbidden)
			_, _ = io.WriteString(w, `{"reason":"who are you?"}`)
			return
		}
		var req struct {
			Bus     string          `json:"bus"`
			Server  bool            `json:"server"`
			Session string          `json:"session"`
			JSON    json.RawMessage `json:"json"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Bus != "chat" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		var msg struct {
			Text string `json:"text"`
		}
		_ = json.Unmarshal(req.JSON, &msg)
		if strings.Contains(msg.Text, "spam") {
			w.WriteHeader(http.StatusUnprocessableEntity)
			_, _ = io.WriteString(w, `{"reason":"no spam here"}`)
			return
		}
		from := "server"
		if !req.Server && req.Session != "" {
			from = "client"
		}
		signed, _ := json.Marshal(map[string]string{"text": msg.Text, "from": from})
		fmt.Fprintf(w, `{"json":%s}`, signed)
	}))
	t.Cleanup(backend.Close)

	file := filepath.Join(t.TempDir(), "halley.json")
	writeFile(t, file, `{
		"addr": "127.0.0.1:0",
		"demo": false,
		"channels": [{"name": "news", "kind": "newest"}],
		"buses": [{"name": "chat", "size": 10, "filter_url": "`+backend.URL+`/filter"}],
		"notifiers": [{"name": "docs"}],
		"hook_headers": {"Authorization": "Bearer hook-secret"}
	}`)
	s := startRun(t, "--config", file)

	if res := s.do(http.MethodGet, "/api/channels/news", "", ""); !strings.Contains(res.body, `"kind":"newest"`) {
		t.Errorf("news = %d %s, want a newest channel", res.status, res.body)
	}
	if res := s.do(http.MethodGet, "/api/channels/chat", "", ""); !strings.Contains(res.body, `"kind":"bus","scope":"broadcast"`) || !strings.Contains(res.body, `"size":10`) {
		t.Errorf("chat = %d %s, want a broadcast bus of size 10", res.status, res.body)
	}

	done := s.poll("chat")
	s.waitListeners("chat", 1)
	res := s.do(http.MethodPost, "/api/publish", "application/json", `{"channel":"chat","data":{"text":"hello"}}`)
	if res.status != http.StatusOK || !strings.Contains(res.body, `"offset":1,`) {
		t.Fatalf("publish: %d %s", res.status, res.body)
	}
	r := waitPoll(t, done)
	lines, err := ocsigen.ParseResponse([]byte(r.body))
	if want := `{"from":"server","text":"hello"}`; err != nil || len(lines) != 1 || string(lines[0].Value) != want {
		t.Errorf("poll = %d %q (%v), want the enriched %s", r.status, r.body, err, want)
	}

	res = s.do(http.MethodPost, "/api/publish", "application/json", `{"channel":"chat","data":{"text":"cheap spam"}}`)
	if res.status != http.StatusUnprocessableEntity || res.body != `{"error":"rejected","message":"no spam here"}`+"\n" {
		t.Errorf("spam: %d %q, want 422 rejected with the backend's reason", res.status, res.body)
	}

	// A client writes through the Halley protocol's /write: the filter
	// sees its session.
	res = s.do(http.MethodPost, "/write", "application/json", `{"channel":"chat","json":{"text":"from a tab"}}`)
	if res.status != http.StatusOK || !strings.Contains(res.body, `"offset":2`) {
		t.Fatalf("/write: %d %s", res.status, res.body)
	}
	res = s.do(http.MethodGet, "/api/channels/chat", "", "")
	if !strings.Contains(res.body, `"offset":2,`) {
		t.Errorf("chat = %s, want offset 2: the spam never entered", res.body)
	}
	if got := hookCalls.Load(); got != 3 {
		t.Errorf("the filter was asked %d times, want 3", got)
	}

	// The declared notifier works through the API.
	sid := s.do(http.MethodPost, "/api/sessions", "application/json", `{"user":"alice"}`)
	var sess struct{ ID string }
	if err := json.Unmarshal([]byte(sid.body), &sess); err != nil {
		t.Fatalf("session: %s", sid.body)
	}
	if res := s.do(http.MethodPost, "/api/listen", "application/json", `{"session":"`+sess.ID+`","notifier":"docs","key":"42"}`); res.status != http.StatusOK {
		t.Fatalf("listen: %d %s", res.status, res.body)
	}
	if res := s.do(http.MethodPost, "/api/notify", "application/json", `{"notifier":"docs","key":"42","data":{"v":1}}`); res.body != `{"listeners":1}`+"\n" {
		t.Errorf("notify: %d %s, want 1 listener", res.status, res.body)
	}
}

// TestServe_FilterUnavailable checks that a bus whose backend is down
// refuses writes (fail closed).
func TestServe_FilterUnavailable(t *testing.T) {
	down := httptest.NewServer(http.NotFoundHandler())
	url := down.URL
	down.Close()
	cfg := defaultConfig()
	cfg.Addr, cfg.Demo = "127.0.0.1:0", false
	cfg.Buses = []busDecl{{Name: "chat", FilterURL: url}}
	s := startServe(t, cfg)
	res := s.do(http.MethodPost, "/api/publish", "application/json", `{"channel":"chat","data":"hi"}`)
	if res.status != http.StatusUnprocessableEntity || !strings.Contains(res.body, `"message":"filter_unavailable"`) {
		t.Errorf("publish = %d %s, want 422 filter_unavailable", res.status, res.body)
	}
	if code := s.stop(); code != 0 {
		t.Errorf("exit code = %d", code)
	}
	if !strings.Contains(s.stderr.String(), "bus filter unavailable") {
		t.Errorf("stderr = %q, want the failure logged", s.stderr.String())
	}
}

// TestServe_DeclarationFails checks that a declaration the hub refuses
// stops the start-up.
func TestServe_DeclarationFails(t *testing.T) {
	cfg := defaultConfig()
	cfg.Addr, cfg.Demo = "127.0.0.1:0", false
	// check() would refuse this config; the hub refuses it too.
	cfg.MaxVirtualChannels = 1
	cfg.Channels = []channelDecl{{Name: "a"}}
	cfg.Buses = []busDecl{{Name: "b"}}
	var stdout, stderr syncBuffer
	if code := serve(t.Context(), cfg, &stdout, &stderr); code != 1 {
		t.Fatalf("exit code = %d, want 1", code)
	}
	if !strings.Contains(stderr.String(), `halley: bus "b": halley: too many channels`) || strings.Contains(stdout.String(), "listening") {
		t.Errorf("stdout %q stderr %q", stdout.String(), stderr.String())
	}
}

func TestServe_Readyz(t *testing.T) {
	s := startRun(t, "--addr", "127.0.0.1:0", "--demo=false")
	if res := s.do(http.MethodGet, "/readyz", "", ""); res.status != http.StatusOK || !strings.Contains(res.body, `"ready":true`) {
		t.Fatalf("/readyz = %d %q, want 200 ready", res.status, res.body)
	}
	if res := s.do(http.MethodPost, "/api/command", "application/json", `{"command":"comet:deactivate"}`); res.status != http.StatusOK {
		t.Fatalf("deactivate: %d %s", res.status, res.body)
	}
	if res := s.do(http.MethodGet, "/readyz", "", ""); res.status != http.StatusServiceUnavailable || !strings.Contains(res.body, `"reason":"deactivated"`) {
		t.Fatalf("/readyz while deactivated = %d %q, want 503 deactivated", res.status, res.body)
	}
	// Alive all the same.
	if res := s.do(http.MethodGet, "/healthz", "", ""); res.status != http.StatusOK {
		t.Fatalf("/healthz while deactivated = %d", res.status)
	}
}
