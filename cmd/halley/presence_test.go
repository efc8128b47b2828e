package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/halleyhq/halley/internal/redistest"
)

// sseFrames opens an SSE stream on node s and returns a function giving
// its next frame of one of types.
func sseFrames(t *testing.T, s *testServer, query string) (next func(types ...string) map[string]any, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.url+"/sse?"+query, nil)
	resp, err := s.client.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	stop = func() {
		cancel()
		resp.Body.Close()
	}
	t.Cleanup(stop)
	sc := bufio.NewScanner(resp.Body)
	next = func(types ...string) map[string]any {
		t.Helper()
		for sc.Scan() {
			line, ok := strings.CutPrefix(sc.Text(), "data: ")
			if !ok {
				continue
			}
			var f map[string]any
			if json.Unmarshal([]byte(line), &f) != nil {
				continue
			}
			for _, typ := range types {
				if f["type"] == typ {
					return f
				}
			}
		}
		t.Fatalf("stream ended waiting for %v: %v", types, sc.Err())
		return nil
	}
	return next, stop
}

// Two nodes declare a presence channel in their config file: a subscriber
// of node A sees a client of node B join and leave, and A's
// /api/channels/room/presence counts it.
func TestCluster_Presence(t *testing.T) {
	rs := redistest.Start(t, redistest.Options{})
	file := filepath.Join(t.TempDir(), "halley.json")
	writeFile(t, file, `{"demo": false, "channels": [{"name": "room", "presence": true}]}`)
	var nodes [2]*testServer
	for i := range nodes {
		nodes[i] = startRun(t, "--addr", "127.0.0.1:0", "--config", file, "--redis", rs.URL())
		nodes[i].log.wait(t, 0, "broker: Redis")
	}
	a, b := nodes[0], nodes[1]

	watch, _ := sseFrames(t, a, "channel=room&presence=1")
	watch("subscribed")
	bob, stopBob := sseFrames(t, b, "channel=room")
	bob("subscribed")
	if f := watch("join", "leave"); f["type"] != "join" || f["channel"] != "room" || f["session"] != nil {
		t.Fatalf("frame %v, want a join without a session id", f)
	}

	presence := func() map[string]any {
		t.Helper()
		res := a.do(http.MethodGet, "/api/channels/room/presence", "", "")
		var p map[string]any
		if res.status != http.StatusOK || json.Unmarshal([]byte(res.body), &p) != nil {
			t.Fatalf("GET presence: %d %s", res.status, res.body)
		}
		return p
	}
	if p := presence(); p["presence"] != true || p["connections"] != float64(2) || p["sessions"] != float64(2) {
		t.Fatalf("presence %v, want 2 connections of 2 sessions over the nodes", p)
	}
	if m, _ := presence()["members"].([]any); len(m) != 2 {
		t.Fatalf("members %v, want 2", m)
	}

	stopBob()
	if f := watch("join", "leave"); f["type"] != "leave" {
		t.Fatalf("frame %v, want the leave", f)
	}
	if p := presence(); p["connections"] != float64(1) {
		t.Fatalf("presence %v, want 1 connection", p)
	}
}
