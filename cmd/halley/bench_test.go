package main

import (
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
)

// benchResult is the part of the JSON line the tests check.
type benchResult struct {
	Transport          string   `json:"transport"`
	Subscribers        int      `json:"subscribers"`
	Connected          int      `json:"connected"`
	Published          int      `json:"published"`
	Deliveries         uint64   `json:"deliveries"`
	ExpectedDeliveries uint64   `json:"expected_deliveries"`
	Lost               uint64   `json:"lost"`
	Duplicated         uint64   `json:"duplicated"`
	OutOfOrder         uint64   `json:"out_of_order"`
	Stream             bool     `json:"stream"`
	ServerCPUS         *float64 `json:"server_cpu_s"`
	ServerCPUPerDel    *float64 `json:"server_cpu_us_per_delivery"`
	ServerRSSKBPerConn *float64 `json:"server_rss_kb_per_conn"`
	ServerCPUPerConn   *float64 `json:"server_cpu_us_per_connect"`
	ConnectsPerS       float64  `json:"connects_per_s"`
	BenchCPUS          *float64 `json:"bench_cpu_s"`
	LatencyMS          *struct {
		P50, P90, P99, Max float64
	} `json:"latency_ms"`
}

// runBenchCmd runs "halley bench" and returns its exit code, its one
// stdout line decoded, and its stderr.
func runBenchCmd(t *testing.T, args ...string) (int, benchResult, string) {
	t.Helper()
	var stdout, stderr syncBuffer
	code := run(t.Context(), append([]string{"bench"}, args...), &stdout, &stderr)
	var res benchResult
	if out := stdout.String(); out != "" {
		if strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") {
			t.Fatalf("stdout %q: want one line", out)
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("stdout %q: %v", out, err)
		}
	}
	return code, res, stderr.String()
}

func TestBench(t *testing.T) {
	s := startRun(t, "--addr", "127.0.0.1:0", "--demo=false")
	for _, tr := range []string{"ws", "sse", "poll"} {
		t.Run(tr, func(t *testing.T) {
			code, res, stderr := runBenchCmd(t, "--server", s.url, "--transport", tr,
				"--subscribers", "10", "--channels", "2", "--messages", "60")
			if code != 0 {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			if res.Transport != tr || res.Connected != 10 || res.Published != 60 ||
				res.Deliveries != 300 || res.ExpectedDeliveries != 300 {
				t.Errorf("result %+v: want 10 connected, 60 published, 300 delivered", res)
			}
			if res.Lost != 0 || res.Duplicated != 0 || res.OutOfOrder != 0 {
				t.Errorf("lost %d, duplicated %d, out of order %d: want none", res.Lost, res.Duplicated, res.OutOfOrder)
			}
			if res.LatencyMS == nil || res.ServerCPUS != nil {
				t.Errorf("latency %v, server CPU %v: want a latency, and no server figure without --server-pid", res.LatencyMS, res.ServerCPUS)
			}
			if !strings.Contains(stderr, "halley bench: "+tr+", 10 subscribers") || !strings.Contains(stderr, "OK") {
				t.Errorf("stderr %q: want the summary", stderr)
			}
		})
	}
}

// TestBench_ServerPID measures the in-process server: its pid is the test's.
func TestBench_ServerPID(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc:", err)
	}
	s := startRun(t, "--addr", "127.0.0.1:0", "--demo=false")
	code, res, stderr := runBenchCmd(t, "--server", s.url, "--json", "--server-pid", strconv.Itoa(os.Getpid()),
		"--subscribers", "5", "--messages", "20")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if stderr != "" {
		t.Errorf("stderr %q: want nothing with --json", stderr)
	}
	for name, v := range map[string]*float64{
		"server_cpu_s": res.ServerCPUS, "server_cpu_us_per_delivery": res.ServerCPUPerDel,
		"server_cpu_us_per_connect": res.ServerCPUPerConn, "bench_cpu_s": res.BenchCPUS,
	} {
		if v == nil || *v < 0 {
			t.Errorf("%s = %v, want a non-negative figure", name, v)
		}
	}
	if res.ServerRSSKBPerConn == nil {
		t.Error("server_rss_kb_per_conn missing")
	}
}

func TestBench_Idle(t *testing.T) {
	s := startRun(t, "--addr", "127.0.0.1:0", "--demo=false")
	code, res, stderr := runBenchCmd(t, "--server", s.url, "--subscribers", "25", "--messages", "0")
	if code != 0 || res.Connected != 25 || res.Deliveries != 0 || res.ConnectsPerS <= 0 {
		t.Errorf("exit %d, connected %d, deliveries %d, %v connects/s: want 0, 25, 0, a rate (stderr %q)",
			code, res.Connected, res.Deliveries, res.ConnectsPerS, stderr)
	}
	if res.ServerCPUPerConn != nil {
		t.Errorf("server_cpu_us_per_connect = %v without --server-pid, want null", *res.ServerCPUPerConn)
	}
}

func TestBench_Token(t *testing.T) {
	h := newTokenHub(t)
	tok := mintToken(t, []string{"bench-*"}, nil, nil)
	code, res, stderr := runBenchCmd(t, "--server", h.url, "--token", tok, "--transport", "ws", "--subscribers", "5", "--messages", "0")
	if code != 0 || res.Connected != 5 {
		t.Errorf("exit %d, connected %d: want 0, 5 (stderr %q)", code, res.Connected, stderr)
	}
	t.Setenv(tokenEnv, tok)
	code, res, stderr = runBenchCmd(t, "--server", h.url, "--transport", "sse", "--subscribers", "5", "--messages", "10")
	if code != 0 || res.Connected != 5 || res.Deliveries != 50 {
		t.Errorf("$%s: exit %d, connected %d, deliveries %d: want 0, 5, 50 (stderr %q)", tokenEnv, code, res.Connected, res.Deliveries, stderr)
	}
	code, _, stderr = runBenchCmd(t, "--server", h.url, "--token", "not-a-jwt", "--transport", "poll", "--subscribers", "2", "--messages", "0")
	if code != 1 || !strings.Contains(stderr, "invalid_token") {
		t.Errorf("bad token: exit %d, stderr %q: want 1 and invalid_token", code, stderr)
	}
}

func TestBench_Errors(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{name: "not loopback", args: []string{"--server", "http://192.0.2.1:8080", "--subscribers", "1"}, code: 2, stderr: "not on a loopback address"},
		{name: "public name", args: []string{"--server", "http://example.com", "--subscribers", "1"}, code: 2, stderr: "not on a loopback address"},
		{name: "no subscribers", args: []string{"--messages", "10"}, code: 2, stderr: "--subscribers is required"},
		{name: "zero subscribers", args: []string{"--subscribers", "0"}, code: 2, stderr: "at least one subscriber"},
		{name: "bad transport", args: []string{"--subscribers", "1", "--transport", "pigeon"}, code: 2, stderr: `unknown transport "pigeon"`},
		{name: "negative rate", args: []string{"--subscribers", "1", "--rate", "-5"}, code: 2, stderr: "rate must not be negative"},
		{name: "zero timeout", args: []string{"--subscribers", "1", "--timeout", "0s"}, code: 2, stderr: "--timeout must be positive"},
		{name: "extra argument", args: []string{"--subscribers", "1", "now"}, code: 2, stderr: `unexpected argument "now"`},
		{name: "unknown flag", args: []string{"--nope"}, code: 2, stderr: "flag provided but not defined"},
		{name: "two floors", args: []string{"--subscribers", "1", "--messages", "1", "--floor", "--floor-publish"}, code: 2, stderr: "give one"},
		{name: "publish floor without publishers", args: []string{"--subscribers", "1", "--messages", "1", "--floor-publish", "--publishers", "0"}, code: 2, stderr: "--publishers of 1 or more"},
		{name: "help", args: []string{"-h"}, code: 0, stderr: "usage: halley bench"},
		// Port 1 on loopback: nothing listens there.
		{name: "server down", args: []string{"--server", "http://127.0.0.1:1", "--subscribers", "1"}, code: 1, stderr: "halley bench: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr syncBuffer
			if code := run(t.Context(), append([]string{"bench"}, tt.args...), &stdout, &stderr); code != tt.code {
				t.Errorf("exit code = %d, want %d (stderr %q)", code, tt.code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("stderr = %q, want it to contain %q", stderr.String(), tt.stderr)
			}
			if stdout.String() != "" {
				t.Errorf("stdout = %q, want nothing", stdout.String())
			}
		})
	}
}
