package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
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
	if res.status != http.StatusOK || res.body != "ok" {
		t.Errorf("/healthz = %d %q, want 200 ok", res.status, res.body)
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
