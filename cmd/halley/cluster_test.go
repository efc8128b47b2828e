package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/halleyhq/halley/internal/redistest"
)

// startCluster starts n halley servers sharing one Redis of the test's
// own, each declaring the channel "news" and the notifier "docs".
func startCluster(t *testing.T, n int) (*redistest.Server, []*testServer) {
	t.Helper()
	rs := redistest.Start(t, redistest.Options{})
	file := filepath.Join(t.TempDir(), "halley.json")
	writeFile(t, file, `{"demo": false, "channels": [{"name": "news"}], "notifiers": [{"name": "docs"}]}`)
	nodes := make([]*testServer, n)
	for i := range nodes {
		nodes[i] = startRun(t, "--addr", "127.0.0.1:0", "--config", file, "--redis", rs.URL(), "--poll-timeout", "5s")
		nodes[i].log.wait(t, 0, "broker: Redis")
	}
	return rs, nodes
}

// pollOnce posts one JSON long-poll to node s.
func pollOnce(t *testing.T, s *testServer, body string) (cursor string, frames []map[string]any) {
	t.Helper()
	res := s.do(http.MethodPost, "/poll", "application/json", body)
	if res.status != http.StatusOK {
		t.Fatalf("poll %s: %d %s", s.url, res.status, res.body)
	}
	var a struct {
		Cursor string           `json:"cursor"`
		Frames []map[string]any `json:"frames"`
	}
	if err := json.Unmarshal([]byte(res.body), &a); err != nil {
		t.Fatal(err)
	}
	return a.Cursor, a.Frames
}

func TestCluster_PublishOnOneNodeReadOnAll(t *testing.T) {
	_, nodes := startCluster(t, 3)
	a, b, c := nodes[0], nodes[1], nodes[2]

	// An SSE client of node A.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, a.url+"/sse?channel=news", nil)
	resp, err := a.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	next := func(typ string) map[string]any {
		t.Helper()
		for sc.Scan() {
			line, ok := strings.CutPrefix(sc.Text(), "data: ")
			if !ok {
				continue
			}
			var f map[string]any
			if json.Unmarshal([]byte(line), &f) == nil && f["type"] == typ {
				return f
			}
		}
		t.Fatalf("stream ended waiting for %s: %v", typ, sc.Err())
		return nil
	}
	next("subscribed")

	// One client's successive long-polls, answered round-robin by the
	// three nodes, from the start.
	cursor, _ := pollOnce(t, b, `{"channels":["news"]}`)

	// 30 messages, published through the three nodes in turn.
	const n = 30
	for i := 1; i <= n; i++ {
		node := nodes[i%3]
		if res := node.do(http.MethodPost, "/api/publish", "application/json", fmt.Sprintf(`{"channel":"news","data":"m%d"}`, i)); res.status != http.StatusOK {
			t.Fatalf("publish %d on %s: %d %s", i, node.url, res.status, res.body)
		}
	}
	for i := 1; i <= n; i++ {
		f := next("msg")
		if f["offset"] != float64(i) || f["data"] != fmt.Sprintf("m%d", i) {
			t.Fatalf("node A's SSE client got %v, want offset %d", f, i)
		}
	}
	var got []string
	for k := 0; len(got) < n; k++ {
		node := nodes[k%3]
		var frames []map[string]any
		cursor, frames = pollOnce(t, node, `{"cursor":"`+cursor+`"}`)
		for _, f := range frames {
			if f["type"] != "msg" {
				t.Fatalf("poll of %s: frame %v", node.url, f)
			}
			got = append(got, f["data"].(string))
		}
		if k > 3*n {
			t.Fatalf("no progress: %v", got)
		}
	}
	for i, d := range got {
		if d != fmt.Sprintf("m%d", i+1) {
			t.Fatalf("round-robin polls got %v: lost, duplicated or out of order at %d", got, i)
		}
	}
	_ = c
}

func TestCluster_CommandsAndNotificationsCrossNodes(t *testing.T) {
	_, nodes := startCluster(t, 3)
	a, b, c := nodes[0], nodes[1], nodes[2]

	// A listener on node B; the notification is sent through node A.
	res := b.do(http.MethodPost, "/listen", "application/json", `{"notifier":"docs","key":"42"}`)
	var l struct {
		Session string `json:"session"`
		Channel string `json:"channel"`
	}
	if res.status != http.StatusOK || json.Unmarshal([]byte(res.body), &l) != nil {
		t.Fatalf("listen on B: %d %s", res.status, res.body)
	}
	if res := a.do(http.MethodPost, "/api/notify", "application/json", `{"notifier":"docs","key":"42","data":{"v":2}}`); res.status != http.StatusOK {
		t.Fatalf("notify on A: %d %s", res.status, res.body)
	}
	// The notification reaches B through Redis after A has answered: a
	// first poll (answered at once with its subscribed frame) may come
	// before it, so B is polled again until it is there.
	var answer struct {
		Frames []map[string]any `json:"frames"`
	}
	retry(t, "the notification sent through A, on B", func() bool {
		req, _ := http.NewRequest(http.MethodPost, b.url+"/poll", strings.NewReader(`{"channels":["`+l.Channel+`"],"last":10}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Halley-Session", l.Session)
		resp, err := b.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		answer.Frames = nil
		_ = json.NewDecoder(resp.Body).Decode(&answer)
		resp.Body.Close()
		return len(answer.Frames) == 2 && answer.Frames[1]["type"] == "msg"
	})

	// comet:deactivate through node B's API deactivates every node.
	if res := b.do(http.MethodPost, "/api/command", "application/json", `{"command":"comet:deactivate"}`); res.status != http.StatusOK {
		t.Fatalf("command on B: %d %s", res.status, res.body)
	}
	for _, node := range []*testServer{a, c} {
		retry(t, "node deactivated by another's command", func() bool {
			return node.do(http.MethodGet, "/readyz", "", "").status == http.StatusServiceUnavailable
		})
	}
}

func TestCluster_RedisDownIsNotReady(t *testing.T) {
	rs, nodes := startCluster(t, 1)
	a := nodes[0]
	if res := a.do(http.MethodGet, "/readyz", "", ""); res.status != http.StatusOK {
		t.Fatalf("/readyz with Redis up: %d %s", res.status, res.body)
	}
	rs.Stop()
	if res := a.do(http.MethodGet, "/readyz", "", ""); res.status != http.StatusServiceUnavailable || !strings.Contains(res.body, "broker_unavailable") {
		t.Fatalf("/readyz with Redis down: %d %s, want 503 broker_unavailable", res.status, res.body)
	}
	if res := a.do(http.MethodPost, "/api/publish", "application/json", `{"channel":"news","data":"x"}`); res.status != http.StatusServiceUnavailable || !strings.Contains(res.body, "broker_unavailable") {
		t.Fatalf("publish with Redis down: %d %s, want 503 broker_unavailable", res.status, res.body)
	}
	rs.Start()
	retry(t, "ready again once Redis is back", func() bool {
		return a.do(http.MethodGet, "/readyz", "", "").status == http.StatusOK
	})
	if res := a.do(http.MethodPost, "/api/publish", "application/json", `{"channel":"news","data":"x"}`); res.status != http.StatusOK {
		t.Fatalf("publish with Redis back: %d %s", res.status, res.body)
	}
}
