package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/halleyhq/halley/internal/redistest"
)

// The failures of a cluster, end to end: nodes are real halley processes
// (so that one can be killed), Redis a real redis-server of the test's own.

var buildOnce struct {
	sync.Once
	bin string
	err error
	dir string
}

// halleyBinary builds cmd/halley once for the package's tests.
func halleyBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		buildOnce.dir, buildOnce.err = os.MkdirTemp("", "halley-bin-")
		if buildOnce.err != nil {
			return
		}
		buildOnce.bin = filepath.Join(buildOnce.dir, "halley")
		out, err := exec.Command("go", "build", "-o", buildOnce.bin, ".").CombinedOutput()
		if err != nil {
			buildOnce.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildOnce.err != nil {
		t.Fatal(buildOnce.err)
	}
	return buildOnce.bin
}

// plainClient keeps no idle connection behind it. Its timeout is far above
// any answer's (a long poll waits 5 s at most): it turns a server that
// never answers into a failure that says where, not a hung test.
var plainClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: time.Minute}

// procNode is a halley process.
type procNode struct {
	url  string
	cmd  *exec.Cmd
	done chan struct{}
}

// startProc starts the halley binary with args and waits until it listens.
func startProc(t *testing.T, args ...string) *procNode {
	t.Helper()
	cmd := exec.Command(halleyBinary(t), args...)
	cmd.SysProcAttr = childAttr()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &procNode{cmd: cmd, done: make(chan struct{})}
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "halley: listening on "); ok {
				listening <- u
			}
		}
		_ = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		<-p.done
	})
	select {
	case p.url = <-listening:
	case <-p.done:
		t.Fatalf("halley %v exited before listening", args)
	}
	return p
}

// kill ends the process with SIGKILL: no shutdown, no goodbye.
func (p *procNode) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done
}

// post sends a JSON body to the node and returns the status and body.
func (p *procNode) post(path, body string) (int, string) {
	res, err := plainClient.Post(p.url+path, "application/json", strings.NewReader(body))
	if err != nil {
		return 0, err.Error()
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// sseClient reads one channel's SSE stream from a node, reconnecting with
// Last-Event-ID to the node given when its stream breaks.
type sseClient struct {
	t      *testing.T
	ctx    context.Context
	path   string
	lastID string
	body   io.Closer
	sc     *bufio.Scanner
}

// newsStream opens an SSE stream of the channel news on the node at url,
// closed when the test ends.
func newsStream(t *testing.T, url string) *sseClient {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	sse := &sseClient{t: t, ctx: ctx, path: "/sse?channel=news"}
	sse.connect(url)
	t.Cleanup(func() {
		cancel()
		sse.body.Close()
	})
	return sse
}

func (c *sseClient) connect(url string) {
	c.t.Helper()
	req, _ := http.NewRequestWithContext(c.ctx, http.MethodGet, url+c.path, nil)
	if c.lastID != "" {
		req.Header.Set("Last-Event-ID", c.lastID)
	}
	res, err := plainClient.Do(req)
	if err != nil {
		c.t.Fatalf("SSE connect to %s: %v", url, err)
	}
	if res.StatusCode != http.StatusOK {
		c.t.Fatalf("SSE connect to %s: %d", url, res.StatusCode)
	}
	if c.body != nil {
		c.body.Close()
	}
	c.body, c.sc = res.Body, bufio.NewScanner(res.Body)
}

// next returns the next frame, or nil when the stream broke.
func (c *sseClient) next() map[string]any {
	for c.sc.Scan() {
		line := c.sc.Text()
		if id, ok := strings.CutPrefix(line, "id: "); ok {
			c.lastID = id
			continue
		}
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			continue
		}
		var f map[string]any
		if json.Unmarshal([]byte(data), &f) == nil {
			return f
		}
	}
	return nil
}

func TestCluster_NodeKilledMidStream(t *testing.T) {
	rs := redistest.Start(t, redistest.Options{})
	file := filepath.Join(t.TempDir(), "halley.json")
	writeFile(t, file, `{"demo": false, "channels": [{"name": "news", "size": 1000}]}`)
	var nodes [3]*procNode
	for i := range nodes {
		nodes[i] = startProc(t, "--addr", "127.0.0.1:0", "--config", file, "--redis", rs.URL(), "--poll-timeout", "5s")
	}
	a, b, c := nodes[0], nodes[1], nodes[2]
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()

	// An SSE client of node A.
	sse := &sseClient{t: t, ctx: ctx, path: "/sse?channel=news"}
	sse.connect(a.url)
	if f := sse.next(); f == nil || f["type"] != "hello" {
		t.Fatalf("first frame %v", f)
	}
	// A long-polling client of node A, reading its session channel,
	// which node C's API writes.
	res, err := plainClient.Post(a.url+"/poll", "application/json", strings.NewReader(`{"channels":["news"]}`))
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("first poll: %v", err)
	}
	session := res.Header.Get("Halley-Session")
	res.Body.Close()
	status, body := c.post("/api/channels", `{"kind":"session","session":"`+session+`","size":1000}`)
	var ch struct{ ID string }
	if status != http.StatusCreated || json.Unmarshal([]byte(body), &ch) != nil {
		t.Fatalf("session channel through C: %d %s", status, body)
	}

	// 300 messages on each, published through C while A dies.
	const n = 300
	published := make(chan error, 1)
	go func() {
		for i := 1; i <= n; i++ {
			for _, target := range []string{"news", ch.ID} {
				if status, body := c.post("/api/publish", fmt.Sprintf(`{"channel":%q,"data":"m%d"}`, target, i)); status != http.StatusOK {
					published <- fmt.Errorf("publish %d to %s: %d %s", i, target, status, body)
					return
				}
			}
		}
		published <- nil
	}()

	// The session's poll loop starts on A.
	cursor := ""
	var polled []string
	pollNode := func(node *procNode) bool {
		q := `{"channels":["` + ch.ID + `"],"last":1000}`
		if cursor != "" {
			q = `{"cursor":"` + cursor + `"}`
		}
		req, _ := http.NewRequest(http.MethodPost, node.url+"/poll", strings.NewReader(q))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Halley-Session", session)
		res, err := plainClient.Do(req)
		if err != nil {
			return false // the node died under the poll: try the next
		}
		defer res.Body.Close()
		var a struct {
			Cursor string           `json:"cursor"`
			Frames []map[string]any `json:"frames"`
		}
		if res.StatusCode != http.StatusOK || json.NewDecoder(res.Body).Decode(&a) != nil {
			t.Errorf("poll of %s: %d", node.url, res.StatusCode)
			return false
		}
		if got := res.Header.Get("Halley-Session"); got != "" && got != session {
			t.Errorf("node %s gave the session a new one", node.url)
		}
		for _, f := range a.Frames {
			switch f["type"] {
			case "msg":
				polled = append(polled, fmt.Sprint(f["data"]))
			case "subscribed":
			default:
				t.Errorf("poll of %s: frame %v", node.url, f)
			}
		}
		cursor = a.Cursor
		return true
	}

	var streamed []string
	killed := false
	for len(streamed) < n {
		f := sse.next()
		if f == nil {
			if !killed {
				t.Fatalf("the stream of A broke before A was killed, after %d messages", len(streamed))
			}
			sse.connect(b.url) // the client moves to another node
			continue
		}
		switch f["type"] {
		case "msg":
			streamed = append(streamed, fmt.Sprint(f["data"]))
		case "subscribed", "hello":
		default:
			t.Fatalf("SSE frame %v after %d messages", f, len(streamed))
		}
		if len(streamed) == n/3 && !killed {
			for len(polled) < 10 && pollNode(a) {
			}
			a.kill(t)
			killed = true
		}
	}
	for empty := 0; len(polled) < n; {
		before := len(polled)
		if !pollNode(b) && !pollNode(c) {
			t.Fatal("neither B nor C answers the session's poll")
		}
		if len(polled) > before {
			empty = 0
			continue
		}
		// A poll answers empty after --poll-timeout (5 s) without a
		// message: three in a row, long after the last publication,
		// mean the rest will not come.
		if empty++; empty == 3 || t.Failed() {
			t.Fatalf("session client: %d of %d messages, then three empty polls: the rest is lost", len(polled), n)
		}
	}
	if err := <-published; err != nil {
		t.Fatal(err)
	}
	for i := range n {
		want := fmt.Sprintf("m%d", i+1)
		if streamed[i] != want {
			t.Fatalf("SSE client: message %d is %q, want %q: lost, duplicated or out of order", i+1, streamed[i], want)
		}
		if polled[i] != want {
			t.Fatalf("session client: message %d is %q, want %q: lost, duplicated or out of order", i+1, polled[i], want)
		}
	}
	if len(polled) != n {
		t.Fatalf("session client: %d messages, want %d", len(polled), n)
	}
}

func TestCluster_RedisRestartedWithoutPersistence(t *testing.T) {
	rs, nodes := startCluster(t, 2)
	a, b := nodes[0], nodes[1]
	sse := newsStream(t, a.url)
	next := func() map[string]any {
		t.Helper()
		for {
			f := sse.next()
			switch {
			case f == nil:
				t.Fatalf("A's stream broke: %v", sse.sc.Err())
			case f["type"] != "hello" && f["type"] != "subscribed":
				return f
			}
		}
	}
	publish := func(i int) int {
		res := b.do(http.MethodPost, "/api/publish", "application/json", fmt.Sprintf(`{"channel":"news","data":"m%d"}`, i))
		return res.status
	}
	// A channel that only node A holds, made through its API.
	if res := a.do(http.MethodPost, "/api/channels", "application/json", `{"name":"extra"}`); res.status != http.StatusCreated {
		t.Fatalf("create on A: %d %s", res.status, res.body)
	}
	for i := 1; i <= 5; i++ {
		if st := publish(i); st != http.StatusOK {
			t.Fatalf("publish %d: %d", i, st)
		}
		if f := next(); f["type"] != "msg" || f["data"] != fmt.Sprintf("m%d", i) {
			t.Fatalf("before the restart, frame %v; want m%d", f, i)
		}
	}

	// Redis goes away and comes back empty. Meanwhile both nodes say they
	// are not ready, and publishing fails loudly, never silently.
	rs.Stop()
	for _, node := range nodes {
		if res := node.do(http.MethodGet, "/readyz", "", ""); res.status != http.StatusServiceUnavailable {
			t.Fatalf("/readyz of %s with Redis down: %d %s", node.url, res.status, res.body)
		}
	}
	if st := publish(6); st != http.StatusServiceUnavailable {
		t.Fatalf("publish with Redis down: %d, want 503", st)
	}
	rs.Start()
	retry(t, "both nodes ready again", func() bool {
		return a.do(http.MethodGet, "/readyz", "", "").status == http.StatusOK &&
			b.do(http.MethodGet, "/readyz", "", "").status == http.StatusOK
	})
	// Node A records again what it holds: node B finds A's channel.
	retry(t, "A's channel recorded again", func() bool {
		return b.do(http.MethodGet, "/api/channels/extra", "", "").status == http.StatusOK
	})
	// The stream stayed open; the client learns that the history it had
	// is gone (an explicit gap of reason unknown_position, the new
	// epoch), then gets every new message.
	for i := 6; i <= 10; i++ {
		if st := publish(i); st != http.StatusOK {
			t.Fatalf("publish %d after the restart: %d", i, st)
		}
	}
	f := next()
	if f["type"] != "gap" || f["reason"] != "unknown_position" {
		t.Fatalf("first frame after the restart: %v; want a gap of reason unknown_position", f)
	}
	for i := 6; i <= 10; i++ {
		if f := next(); f["type"] != "msg" || f["data"] != fmt.Sprintf("m%d", i) || f["offset"] != float64(i-5) {
			t.Fatalf("after the restart, frame %v; want m%d at offset %d of the new epoch", f, i, i-5)
		}
	}
}

// retryFor is retry with its own bound, for what Sentinel takes seconds to
// do.
func retryFor(t *testing.T, d time.Duration, what string, try func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	for !try() {
		select {
		case <-ctx.Done():
			t.Fatalf("gave up waiting for %s", what)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func TestCluster_SentinelFailoverMidStream(t *testing.T) {
	const master = "halley-e2e"
	primary := redistest.Start(t, redistest.Options{})
	replica := redistest.Start(t, redistest.Options{ReplicaOf: primary})
	sentinel := redistest.StartSentinel(t, primary, master)
	retryFor(t, 30*time.Second, "Sentinel sees the replica", func() bool {
		reply, err := sentinel.Do("SENTINEL", "REPLICAS", master)
		return err == nil && strings.Contains(reply, "\n"+strconv.Itoa(replica.Port())+"\n")
	})
	file := filepath.Join(t.TempDir(), "halley.json")
	writeFile(t, file, `{"demo": false, "channels": [{"name": "news"}]}`)
	var nodes []*testServer
	for range 2 {
		s := startRun(t, "--addr", "127.0.0.1:0", "--config", file, "--redis-sentinel", sentinel.Addr(), "--redis-master", master, "--poll-timeout", "5s")
		s.log.wait(t, 0, "broker: Redis")
		nodes = append(nodes, s)
	}
	a, b := nodes[0], nodes[1]
	sse := newsStream(t, a.url)

	// Published through B: each message until it is accepted. One whose
	// answer was lost in the failover may be there twice; none may be
	// missing unless a gap says so.
	ambiguous := map[string]bool{}
	publish := func(i int) {
		data := fmt.Sprintf("m%d", i)
		retryFor(t, 30*time.Second, "publish "+data, func() bool {
			res := b.do(http.MethodPost, "/api/publish", "application/json", `{"channel":"news","data":"`+data+`"}`)
			if res.status != http.StatusOK && !strings.Contains(res.body, "broker_unavailable") {
				ambiguous[data] = true
			}
			return res.status == http.StatusOK
		})
	}
	for i := 1; i <= 10; i++ {
		publish(i)
	}
	// The replica has them all before the primary dies.
	retryFor(t, 10*time.Second, "the replica in sync", func() bool {
		top, err := replica.Do("HGET", "{halley:news}:meta", "top")
		return err == nil && top == "10"
	})

	primary.Kill()
	sawDown := false
	retryFor(t, 30*time.Second, "A ready again on the promoted replica", func() bool {
		st := a.do(http.MethodGet, "/readyz", "", "").status
		sawDown = sawDown || st == http.StatusServiceUnavailable
		return sawDown && st == http.StatusOK
	})
	for i := 11; i <= 20; i++ {
		publish(i)
	}

	// The SSE client of A: m1..m20, in order, the stream never closed.
	var got []string
	var last float64
	for len(got) < 20 || got[len(got)-1] != "m20" {
		f := sse.next()
		if f == nil {
			t.Fatalf("A's stream broke after %v", got)
		}
		switch f["type"] {
		case "msg":
			if off := f["offset"].(float64); off <= last {
				t.Fatalf("offset %v after %v", off, last)
			}
			last = f["offset"].(float64)
			got = append(got, f["data"].(string))
		case "gap":
			t.Fatalf("a gap although the replica had everything: %v", f)
		}
	}
	seen := map[string]int{}
	for _, d := range got {
		seen[d]++
	}
	for i := 1; i <= 20; i++ {
		d := fmt.Sprintf("m%d", i)
		if seen[d] == 0 || seen[d] > 1 && !ambiguous[d] {
			t.Fatalf("the client got %v: %s %d times", got, d, seen[d])
		}
	}
}
