package main

import (
	"strings"
	"testing"
)

func TestServe_DebugAddr(t *testing.T) {
	s := startRun(t, "--addr", "127.0.0.1:0", "--demo=false", "--debug-addr", "127.0.0.1:0")
	line, _ := s.log.wait(t, 0, "halley: profiler at ")
	url := strings.TrimPrefix(line, "halley: profiler at ")
	resp, err := s.client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
	// The public address does not serve the profiler.
	if r := s.do("GET", "/debug/pprof/", "", ""); r.status == 200 {
		t.Fatal("the profiler is served on the public address")
	}
	if code := s.stop(); code != 0 {
		t.Fatalf("exit %d", code)
	}
}

func TestServe_DebugAddrNotLoopback(t *testing.T) {
	var stdout, stderr syncBuffer
	code := run(t.Context(), []string{"--addr", "127.0.0.1:0", "--demo=false", "--debug-addr", "0.0.0.0:0"}, &stdout, &stderr)
	if code != 2 || !strings.Contains(stderr.String(), "not a loopback address") {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
}
