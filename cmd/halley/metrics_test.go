package main

import (
	"bufio"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// scrape returns the samples of GET /metrics, by series ("name{labels}"
// as Prometheus writes it).
func (s *testServer) scrape() map[string]float64 {
	s.t.Helper()
	res := s.do(http.MethodGet, "/metrics", "", "")
	if res.status != http.StatusOK {
		s.t.Fatalf("/metrics: %d %s", res.status, res.body)
	}
	out := make(map[string]float64)
	sc := bufio.NewScanner(strings.NewReader(res.body))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			s.t.Fatalf("/metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

func TestServe_Metrics(t *testing.T) {
	secret := strings.Repeat("s", 32)
	s := startRun(t, "--addr", "127.0.0.1:0", "--demo=false", "--token-hmac-secret", secret)
	m := s.scrape()
	for series, want := range map[string]float64{
		`halley_connections{transport="sse"}`:                 0,
		`halley_messages_published_total`:                     0,
		`halley_token_refusals_total{reason="invalid_token"}`: 0,
		`halley_active`: 1,
	} {
		if got, ok := m[series]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", series, got, ok, want)
		}
	}
	if _, ok := m["go_goroutines"]; !ok {
		t.Error("no go_goroutines")
	}
	if _, ok := m["process_resident_memory_bytes"]; !ok {
		t.Error("no process_resident_memory_bytes")
	}

	if res := s.do(http.MethodPost, "/api/channels", "application/json", `{"name":"news","public":true}`); res.status != http.StatusCreated {
		t.Fatalf("create: %d %s", res.status, res.body)
	}
	// A token that does not verify is refused, and counted.
	if res := s.do(http.MethodGet, "/sse?channel=news&token=not.a.jwt", "", ""); res.status != http.StatusUnauthorized {
		t.Fatalf("bad token: %d %s", res.status, res.body)
	}

	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, s.url+"/sse?channel=news", nil)
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	events := bufio.NewReader(resp.Body)
	readUntil := func(want string) {
		t.Helper()
		for {
			line, err := events.ReadString('\n')
			if err != nil {
				t.Fatalf("stream: %v, before %q", err, want)
			}
			if strings.Contains(line, want) {
				return
			}
		}
	}
	readUntil(`"type":"subscribed"`)
	s.waitListeners("news", 1)
	if res := s.do(http.MethodPost, "/api/publish", "application/json", `{"channel":"news","data":"hi"}`); res.status != http.StatusOK {
		t.Fatalf("publish: %d %s", res.status, res.body)
	}
	readUntil(`"data":"hi"`)

	m = s.scrape()
	for series, want := range map[string]float64{
		`halley_connections{transport="sse"}`:                             1,
		`halley_sessions`:                                                 1,
		`halley_channels{kind="broadcast"}`:                               1,
		`halley_messages_published_total`:                                 1,
		`halley_messages_delivered_total`:                                 1,
		`halley_write_latency_seconds_count`:                              1,
		`halley_stream_writes_total{kind="at_once"}`:                      1,
		`halley_stream_writes_total{kind="gathered"}`:                     0,
		`halley_token_refusals_total{reason="invalid_token"}`:             1,
		`halley_refusals_total{reason="invalid_token"}`:                   1,
		`halley_api_requests_total{code="200",route="/api/publish"}`:      1,
		`halley_api_requests_total{code="201",route="/api/channels"}`:     1,
		`halley_api_request_duration_seconds_count{route="/api/publish"}`: 1,
	} {
		if got, ok := m[series]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", series, got, ok, want)
		}
	}
	if m["halley_bytes_written_total"] <= 0 {
		t.Errorf("bytes written %v", m["halley_bytes_written_total"])
	}
}

func TestServe_MetricsAccess(t *testing.T) {
	s := startRun(t, "--addr", "127.0.0.1:0", "--demo=false", "--api-key", strings.Repeat("k", 32))
	if res := s.do(http.MethodGet, "/metrics", "", ""); res.status != http.StatusUnauthorized {
		t.Fatalf("/metrics without the key: %d", res.status)
	}
	s.key = strings.Repeat("k", 32)
	if _, ok := s.scrape()["halley_sessions"]; !ok {
		t.Fatal("no halley_sessions with the key")
	}
}

func TestServe_MetricsAddr(t *testing.T) {
	s := startRun(t, "--addr", "127.0.0.1:0", "--demo=false", "--metrics-addr", "127.0.0.1:0", "--debug-addr", "127.0.0.1:0")
	// The first line stays the listening line; the others follow.
	if _, next := s.log.wait(t, 0, "halley: listening on "); next != 1 {
		t.Fatalf("the listening line is line %d, want the first", next)
	}
	s.log.wait(t, 0, "halley: profiler at ")
	line, _ := s.log.wait(t, 0, "halley: metrics at ")
	if res := s.do(http.MethodGet, "/metrics", "", ""); res.status != http.StatusNotFound {
		t.Fatalf("/metrics on the main address with --metrics-addr: %d", res.status)
	}
	res, err := s.client.Get(strings.TrimPrefix(line, "halley: metrics at "))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("metrics address: %d", res.StatusCode)
	}
}
