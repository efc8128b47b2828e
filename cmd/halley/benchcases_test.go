package main

import (
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
)

// benchServer is the part of a JSON line's "servers" entries the tests
// check.
type benchServer struct {
	URL         string   `json:"url"`
	PID         int      `json:"pid"`
	Subscribers int      `json:"subscribers"`
	Connected   int      `json:"connected"`
	Published   int      `json:"published"`
	Deliveries  uint64   `json:"deliveries"`
	CPUS        *float64 `json:"cpu_s"`
	CPUPerDel   *float64 `json:"cpu_us_per_delivery"`
}

// TestBench_Servers benchmarks three nodes on one Redis: subscribers and
// publications spread over them, each node's figures beside the totals.
func TestBench_Servers(t *testing.T) {
	_, nodes := startCluster(t, 3)
	pid := strconv.Itoa(os.Getpid()) // the nodes run in the test's process
	var stdout, stderr syncBuffer
	code := run(t.Context(), []string{"bench", "--json",
		"--server", nodes[0].url + "," + nodes[1].url, "--server", nodes[2].url,
		"--server-pid", pid + "," + pid, "--server-pid", pid,
		"--subscribers", "30", "--channels", "3", "--messages", "60"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
	var res struct {
		benchResult
		Servers []benchServer `json:"servers"`
	}
	if err := json.Unmarshal([]byte(stdout.String()), &res); err != nil {
		t.Fatalf("stdout %q: %v", stdout.String(), err)
	}
	// Each channel gets 20 messages and has 10 subscribers, all on one
	// node (subscriber j reads channel j % 3 on node j % 3), and its
	// messages go through the three nodes in turn.
	if res.Connected != 30 || res.Published != 60 || res.Deliveries != 600 || res.ExpectedDeliveries != 600 ||
		res.Lost != 0 || res.Duplicated != 0 || res.OutOfOrder != 0 {
		t.Errorf("totals %+v: want 30 connected, 60 published, 600 delivered, nothing lost", res.benchResult)
	}
	if res.ServerCPUS == nil || res.ServerCPUPerDel == nil {
		t.Errorf("total server CPU %v, per delivery %v: want figures", res.ServerCPUS, res.ServerCPUPerDel)
	}
	if len(res.Servers) != 3 {
		t.Fatalf("%d servers in the JSON line, want 3", len(res.Servers))
	}
	for k, s := range res.Servers {
		if s.URL != nodes[k].url || s.PID != os.Getpid() || s.Subscribers != 10 || s.Connected != 10 ||
			s.Published != 20 || s.Deliveries != 200 {
			t.Errorf("server %d: %+v: want %s, 10 subscribers, 20 publications, 200 deliveries", k, s, nodes[k].url)
		}
		if s.CPUS == nil || s.CPUPerDel == nil {
			t.Errorf("server %d: CPU %v, per delivery %v: want figures", k, s.CPUS, s.CPUPerDel)
		}
	}
	if strings.Count(stdout.String(), "\n") != 1 {
		t.Errorf("stdout %q: want one line", stdout.String())
	}
}

func TestBench_ServersErrors(t *testing.T) {
	s := startRun(t, "--addr", "127.0.0.1:0", "--demo=false")
	pid := strconv.Itoa(os.Getpid())
	tests := []struct {
		name   string
		args   []string
		stderr string
	}{
		{name: "pids for fewer servers", args: []string{"--server", s.url + "," + s.url, "--server-pid", pid}, stderr: "1 server pids for 2 servers"},
		{name: "one not loopback", args: []string{"--server", s.url, "--server", "http://192.0.2.1:8080"}, stderr: "not on a loopback address"},
		{name: "bad pid", args: []string{"--server", s.url, "--server-pid", "x"}, stderr: `"x" is not a process id`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr syncBuffer
			code := run(t.Context(), append([]string{"bench", "--subscribers", "1"}, tt.args...), &stdout, &stderr)
			if code != 2 || !strings.Contains(stderr.String(), tt.stderr) || stdout.String() != "" {
				t.Errorf("exit %d, stdout %q, stderr %q: want 2, nothing, %q", code, stdout.String(), stderr.String(), tt.stderr)
			}
		})
	}
}

func TestBench_Cases(t *testing.T) {
	s := startRun(t, "--addr", "127.0.0.1:0", "--demo=false")
	pid := strconv.Itoa(os.Getpid())

	t.Run("json", func(t *testing.T) {
		var stdout, stderr syncBuffer
		code := run(t.Context(), []string{"bench", "--cases", "--scale", "0.005", "--json",
			"--server", s.url, "--server-pid", pid}, &stdout, &stderr)
		if code != 0 || stderr.String() != "" {
			t.Fatalf("exit %d, stderr %q: want 0 and nothing", code, stderr.String())
		}
		lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
		// At scale 0.005: 5 subscribers x 5 messages; 5 x 3 (2.5
		// rounded); 50 x 1; 98 (97.5 rounded) x 1; 10 channels x 1 subscriber x 100, over
		// requests then streams; 1 x 1.
		want := []struct {
			name       string
			deliveries uint64
		}{{"fanout-1k", 25}, {"paced-1k", 15}, {"fanout-10k", 50}, {"fanout-19.5k", 98}, {"publish-2k", 100}, {"stream-2k", 100}, {"light", 1}}
		if len(lines) != len(want) {
			t.Fatalf("%d lines %q, want %d", len(lines), stdout.String(), len(want))
		}
		for i, line := range lines {
			var res struct {
				benchResult
				Case string `json:"case"`
			}
			if err := json.Unmarshal([]byte(line), &res); err != nil {
				t.Fatalf("line %q: %v", line, err)
			}
			if res.Case != want[i].name || res.Deliveries != want[i].deliveries || res.ExpectedDeliveries != want[i].deliveries ||
				res.Lost != 0 || res.Duplicated != 0 || res.OutOfOrder != 0 {
				t.Errorf("line %d: %+v (case %q): want case %s, %d deliveries, nothing lost", i, res.benchResult, res.Case, want[i].name, want[i].deliveries)
			}
			if res.ServerCPUPerDel == nil || res.LatencyMS == nil {
				t.Errorf("case %s: server CPU per delivery %v, latency %v: want both", res.Case, res.ServerCPUPerDel, res.LatencyMS)
			}
		}
	})

	t.Run("table", func(t *testing.T) {
		var stdout, stderr syncBuffer
		code := run(t.Context(), []string{"bench", "--cases", "--only", "light,fanout-1k", "--scale", "0.01",
			"--server", s.url}, &stdout, &stderr)
		if code != 0 {
			t.Fatalf("exit %d, stderr %q", code, stderr.String())
		}
		lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
		if len(lines) != 3 || !strings.Contains(lines[0], "deliveries/s") || !strings.Contains(lines[0], "srv µs/publish") ||
			!strings.HasPrefix(strings.TrimSpace(lines[1]), "fanout-1k ") || !strings.HasPrefix(strings.TrimSpace(lines[2]), "light ") {
			t.Errorf("table %q: want a header, then fanout-1k and light (the standard order)", stdout.String())
		}
		// 10 x 10 and 1 x 2 deliveries, none lost.
		if !strings.Contains(lines[1], " 0/0/0") || !strings.Contains(lines[2], " 0/0/0") {
			t.Errorf("table %q: want nothing lost, duplicated or out of order", stdout.String())
		}
		if !strings.Contains(stderr.String(), "bench: case light: OK") {
			t.Errorf("stderr %q: want the progress of each case", stderr.String())
		}
	})
}

func TestBench_CasesErrors(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		stderr string
	}{
		{name: "subscribers", args: []string{"--cases", "--subscribers", "5"}, stderr: "--subscribers and --cases"},
		{name: "rate", args: []string{"--cases", "--rate", "5"}, stderr: "--rate and --cases"},
		{name: "unknown case", args: []string{"--cases", "--only", "fanout-1k,nope"}, stderr: `no case "nope"`},
		{name: "zero scale", args: []string{"--cases", "--scale", "0"}, stderr: "--scale must be positive"},
		{name: "only without cases", args: []string{"--subscribers", "1", "--only", "light"}, stderr: "go with --cases"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr syncBuffer
			code := run(t.Context(), append([]string{"bench"}, tt.args...), &stdout, &stderr)
			if code != 2 || !strings.Contains(stderr.String(), tt.stderr) || stdout.String() != "" {
				t.Errorf("exit %d, stdout %q, stderr %q: want 2, nothing, %q", code, stdout.String(), stderr.String(), tt.stderr)
			}
		})
	}
}

// TestBench_Batch publishes in batches: every message arrives once, each
// publisher's in order, the last batch of each publisher shorter.
func TestBench_Batch(t *testing.T) {
	s := startRun(t, "--addr", "127.0.0.1:0", "--demo=false")
	for _, tr := range []string{"sse", "ws"} {
		t.Run(tr, func(t *testing.T) {
			code, res, stderr := runBenchCmd(t, "--server", s.url, "--transport", tr, "--batch", "7", "--publishers", "3",
				"--subscribers", "9", "--channels", "3", "--messages", "100")
			if code != 0 || res.Published != 100 || res.Deliveries != 300 || res.ExpectedDeliveries != 300 ||
				res.Lost != 0 || res.Duplicated != 0 || res.OutOfOrder != 0 {
				t.Errorf("exit %d, %+v: want 100 published, 300 delivered once and in order (stderr %q)", code, res, stderr)
			}
			if !strings.Contains(stderr, "batches of 7") {
				t.Errorf("stderr %q: want the batch size in the summary", stderr)
			}
		})
	}
	code, _, stderr := runBenchCmd(t, "--server", s.url, "--batch", "1001", "--subscribers", "1")
	if code != 2 || !strings.Contains(stderr, "batch must be at most 1000") {
		t.Errorf("--batch 1001: exit %d, stderr %q: want 2", code, stderr)
	}
}

// TestBench_Stream publishes over publish streams: every message arrives
// once, each publisher's in order; --stream with --batch is refused.
func TestBench_Stream(t *testing.T) {
	s := startRun(t, "--addr", "127.0.0.1:0", "--demo=false")
	code, res, stderr := runBenchCmd(t, "--server", s.url, "--stream", "--publishers", "3",
		"--subscribers", "9", "--channels", "3", "--messages", "100")
	if code != 0 || res.Published != 100 || res.Deliveries != 300 || res.Lost != 0 || res.Duplicated != 0 || res.OutOfOrder != 0 || !res.Stream {
		t.Errorf("exit %d, %+v: want 100 published over streams, 300 delivered once and in order (stderr %q)", code, res, stderr)
	}
	if !strings.Contains(stderr, "over publish streams") {
		t.Errorf("stderr %q: want the streams in the summary", stderr)
	}
	code, _, stderr = runBenchCmd(t, "--server", s.url, "--stream", "--batch", "2", "--subscribers", "1")
	if code != 2 || !strings.Contains(stderr, "not with batch") {
		t.Errorf("--stream --batch 2: exit %d, stderr %q: want 2", code, stderr)
	}
}
