package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// sessionPoll posts one JSON long-poll to node s as session (none: a new
// one), and returns the session that answered, the cursor and the frames.
func sessionPoll(t *testing.T, s *testServer, session, body string) (string, string, []map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.url+"/poll", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if session != "" {
		req.Header.Set("Halley-Session", session)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a struct {
		Cursor string           `json:"cursor"`
		Frames []map[string]any `json:"frames"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("poll %s: %d %v", s.url, resp.StatusCode, err)
	}
	if id := resp.Header.Get("Halley-Session"); id != "" {
		session = id
	}
	return session, a.Cursor, a.Frames
}

// readRoundRobin long-polls as session through the nodes in turn, from
// cursor (or, the first time, with the request body first when cursor is
// one), until it has want messages; it fails on any frame but msg and
// subscribed.
func readRoundRobin(t *testing.T, nodes []*testServer, session, cursor string, want int) []string {
	t.Helper()
	var got []string
	for k := 0; len(got) < want; k++ {
		node := nodes[k%len(nodes)]
		body := `{"cursor":"` + cursor + `"}`
		if strings.HasPrefix(cursor, "{") {
			body = cursor
		}
		var frames []map[string]any
		var again string
		again, cursor, frames = sessionPoll(t, node, session, body)
		if again != session {
			t.Fatalf("node %s gave the session %q a new one: %q", node.url, session, again)
		}
		for _, f := range frames {
			switch f["type"] {
			case "msg":
				v, ok := f["json"]
				if !ok {
					v = f["data"]
				}
				data, _ := json.Marshal(v)
				got = append(got, string(data))
			case "subscribed":
			default:
				t.Fatalf("poll of %s: frame %v", node.url, f)
			}
		}
		if k > 10*want {
			t.Fatalf("no progress: %v", got)
		}
	}
	return got
}

func TestCluster_SessionChannelWrittenOnBReadThroughA(t *testing.T) {
	_, nodes := startCluster(t, 3)
	a, b, c := nodes[0], nodes[1], nodes[2]

	// A client's session, made by node A.
	session, _, _ := sessionPoll(t, a, "", `{"channels":["news"]}`)
	if session == "" {
		t.Fatal("node A gave no session")
	}
	// Node B's API makes it a session channel and writes to it.
	res := b.do(http.MethodPost, "/api/channels", "application/json", `{"kind":"session","session":"`+session+`","size":10}`)
	var ch struct{ ID string }
	if res.status != http.StatusCreated || json.Unmarshal([]byte(res.body), &ch) != nil {
		t.Fatalf("session channel on B: %d %s", res.status, res.body)
	}
	_, cursor, _ := sessionPoll(t, a, session, `{"channels":["`+ch.ID+`"]}`)
	const n = 6
	for i := 1; i <= n; i++ {
		if res := b.do(http.MethodPost, "/api/publish", "application/json", fmt.Sprintf(`{"channel":%q,"data":"s%d"}`, ch.ID, i)); res.status != http.StatusOK {
			t.Fatalf("write %d on B: %d %s", i, res.status, res.body)
		}
	}
	got := readRoundRobin(t, []*testServer{a, c, b}, session, cursor, n)
	for i, d := range got {
		if d != fmt.Sprintf(`"s%d"`, i+1) {
			t.Fatalf("the session read %v: lost, duplicated or out of order at %d", got, i)
		}
	}

	// Another client, on any node, finds no such channel.
	_, _, frames := sessionPoll(t, c, "", `{"channels":["`+ch.ID+`"]}`)
	if len(frames) != 1 || frames[0]["type"] != "ended" || frames[0]["reason"] != "unknown_channel" {
		t.Fatalf("a stranger reading the session channel on C: %v, want ended unknown_channel", frames)
	}

	// Deleting it on C ends it for the session on A.
	if res := c.do(http.MethodDelete, "/api/channels/"+ch.ID, "", ""); res.status/100 != 2 {
		t.Fatalf("delete on C: %d %s", res.status, res.body)
	}
	retry(t, "the channel gone on A", func() bool {
		_, _, frames := sessionPoll(t, a, session, `{"channels":["`+ch.ID+`"]}`)
		return len(frames) == 1 && frames[0]["type"] == "ended"
	})
}

func TestCluster_NamesAndCapAcrossNodes(t *testing.T) {
	_, nodes := startCluster(t, 2, "--max-virtual-channels", "3")
	a, b := nodes[0], nodes[1]
	if res := a.do(http.MethodPost, "/api/channels", "application/json", `{"name":"one"}`); res.status != http.StatusCreated {
		t.Fatalf("create on A: %d %s", res.status, res.body)
	}
	if res := b.do(http.MethodPost, "/api/channels", "application/json", `{"name":"one"}`); res.status != http.StatusConflict || !strings.Contains(res.body, "name_taken") {
		t.Fatalf("the same name on B: %d %s, want 409 name_taken", res.status, res.body)
	}
	// news (declared by both), one, and one more: the cap of 3 is reached
	// across the two nodes.
	if res := b.do(http.MethodPost, "/api/channels", "application/json", `{"name":"two"}`); res.status != http.StatusCreated {
		t.Fatalf("create on B: %d %s", res.status, res.body)
	}
	if res := a.do(http.MethodPost, "/api/channels", "application/json", `{"name":"three"}`); !strings.Contains(res.body, "too_many_channels") {
		t.Fatalf("a fourth channel on A: %d %s, want too_many_channels", res.status, res.body)
	}
	// A channel made on A is there on B: published through B, read on A.
	if res := b.do(http.MethodGet, "/api/channels/one", "", ""); res.status != http.StatusOK {
		t.Fatalf("B's view of A's channel: %d %s", res.status, res.body)
	}
	// Deleted through B, it is gone on A too, and the name and the room
	// are free again.
	if res := b.do(http.MethodDelete, "/api/channels/one", "", ""); res.status/100 != 2 {
		t.Fatalf("delete on B: %d %s", res.status, res.body)
	}
	retry(t, "the channel gone on A", func() bool {
		return a.do(http.MethodGet, "/api/channels/one", "", "").status == http.StatusNotFound
	})
	if res := a.do(http.MethodPost, "/api/channels", "application/json", `{"name":"three"}`); res.status != http.StatusCreated {
		t.Fatalf("create after a delete: %d %s", res.status, res.body)
	}
}

func TestCluster_BusAndNotificationsFollowTheSession(t *testing.T) {
	_, nodes := startCluster(t, 3)
	a, b, c := nodes[0], nodes[1], nodes[2]

	// A bus made through A's API, which the client writes through B and
	// reads through C.
	if res := a.do(http.MethodPost, "/api/buses", "application/json", `{"name":"room"}`); res.status != http.StatusCreated {
		t.Fatalf("bus on A: %d %s", res.status, res.body)
	}
	session, cursor, _ := sessionPoll(t, c, "", `{"channels":["room"]}`)
	for i := 1; i <= 3; i++ {
		req, _ := http.NewRequest(http.MethodPost, b.url+"/write", strings.NewReader(fmt.Sprintf(`{"channel":"room","data":"w%d"}`, i)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Halley-Session", session)
		resp, err := b.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("write %d through B: %d", i, resp.StatusCode)
		}
	}
	if got := readRoundRobin(t, []*testServer{c, a, b}, session, cursor, 3); strings.Join(got, ",") != `"w1","w2","w3"` {
		t.Fatalf("the bus read round-robin: %v", got)
	}

	// The session listens through A; its notifications are read through
	// B and C, sent through C.
	req, _ := http.NewRequest(http.MethodPost, a.url+"/listen", strings.NewReader(`{"notifier":"docs","key":"7"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Halley-Session", session)
	resp, err := a.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var l struct {
		Session string `json:"session"`
		Channel string `json:"channel"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&l)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || l.Session != session || l.Channel == "" {
		t.Fatalf("listen through A: %d %+v", resp.StatusCode, l)
	}
	_, cursor, _ = sessionPoll(t, b, session, `{"channels":["`+l.Channel+`"]}`)
	for i := 1; i <= 3; i++ {
		if res := c.do(http.MethodPost, "/api/notify", "application/json", fmt.Sprintf(`{"notifier":"docs","key":"7","data":%d}`, i)); res.status != http.StatusOK {
			t.Fatalf("notify %d on C: %d %s", i, res.status, res.body)
		}
	}
	got := readRoundRobin(t, []*testServer{b, c, a}, session, cursor, 3)
	for i, d := range got {
		if !strings.Contains(d, fmt.Sprintf(`"json":%d`, i+1)) {
			t.Fatalf("notifications read round-robin: %v", got)
		}
	}
}

func TestCluster_StatsAddUp(t *testing.T) {
	_, nodes := startCluster(t, 3)
	a, b, c := nodes[0], nodes[1], nodes[2]
	// Two SSE readers of news on A, one on B.
	for _, node := range []*testServer{a, a, b} {
		newsStream(t, node.url)
	}
	type stats struct {
		Node    string `json:"node"`
		Cluster struct {
			Nodes     []struct{ Node string } `json:"nodes"`
			Channels  int                     `json:"channels"`
			Listeners int                     `json:"listeners"`
		} `json:"cluster"`
	}
	retry(t, "C's stats adding up the three nodes", func() bool {
		var st stats
		res := c.do(http.MethodGet, "/api/stats", "", "")
		if res.status != http.StatusOK || json.Unmarshal([]byte(res.body), &st) != nil {
			t.Fatalf("stats on C: %d %s", res.status, res.body)
		}
		return len(st.Cluster.Nodes) == 3 && st.Cluster.Listeners == 3 && st.Cluster.Channels == 1 && st.Node != ""
	})
	retry(t, "news's listeners over the nodes", func() bool {
		var info struct {
			Listeners     int `json:"listeners"`
			NodeListeners int `json:"node_listeners"`
		}
		res := c.do(http.MethodGet, "/api/channels/news", "", "")
		_ = json.Unmarshal([]byte(res.body), &info)
		return info.Listeners == 3 && info.NodeListeners == 0
	})
}

// cometPoll posts one legacy Ocsigen comet request to node s as session,
// registering id, and returns the answer's lines.
func cometPoll(t *testing.T, s *testServer, session, id string) []string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.url+"/comet", strings.NewReader("registration="+id))
	req.Header.Set("Content-Type", "application/x-ocsigen-comet")
	req.Header.Set("Halley-Session", session)
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("comet on %s: %d %s", s.url, resp.StatusCode, b)
	}
	if len(b) == 0 {
		return nil
	}
	return strings.Split(string(b), "\n")
}

// TestCluster_LegacyCometAcrossNodes: the Ocsigen protocol carries no
// position, so the server keeps what a session was given; a legacy
// client's successive requests answered by different nodes get each
// message of its session channel and session-scope bus once.
func TestCluster_LegacyCometAcrossNodes(t *testing.T) {
	_, nodes := startCluster(t, 3, "--poll-timeout", "300ms")
	a, b, c := nodes[0], nodes[1], nodes[2]
	session, _, _ := sessionPoll(t, a, "", `{"channels":["news"]}`)
	res := b.do(http.MethodPost, "/api/channels", "application/json", `{"kind":"session","session":"`+session+`","size":50}`)
	var ch struct{ ID string }
	if res.status != http.StatusCreated || json.Unmarshal([]byte(res.body), &ch) != nil {
		t.Fatalf("session channel on B: %d %s", res.status, res.body)
	}
	if res := a.do(http.MethodPost, "/api/buses", "application/json", `{"name":"inbox","scope":"session"}`); res.status != http.StatusCreated {
		t.Fatalf("bus on A: %d %s", res.status, res.body)
	}
	// The session's queue of the bus starts when it first reads it.
	if lines := cometPoll(t, c, session, "inbox"); lines != nil {
		t.Fatalf("a first read of an empty queue: %q", lines)
	}
	// Each message is published, then read through the next node.
	const n = 9
	got := map[string][]string{}
	for i := 1; i <= n; i++ {
		for _, target := range []string{ch.ID, "inbox"} {
			if res := nodes[i%3].do(http.MethodPost, "/api/publish", "application/json", fmt.Sprintf(`{"channel":%q,"data":"m%d"}`, target, i)); res.status != http.StatusOK {
				t.Fatalf("publish %d: %d %s", i, res.status, res.body)
			}
		}
		for _, id := range []string{ch.ID, "inbox"} {
			for tries := 0; len(got[id]) < i; tries++ {
				if tries > 50 {
					t.Fatalf("%s: no progress after %q", id, got[id])
				}
				for _, line := range cometPoll(t, nodes[(i+tries)%3], session, id) {
					data, ok := strings.CutPrefix(line, id+":")
					if !ok {
						t.Fatalf("%s: line %q", id, line)
					}
					got[id] = append(got[id], data)
				}
			}
		}
	}
	for id, msgs := range got {
		for i, d := range msgs {
			if d != fmt.Sprintf("m%d", i+1) || len(msgs) != n {
				t.Fatalf("%s read round-robin over /comet: %q: lost, duplicated or out of order at %d", id, msgs, i)
			}
		}
	}
}
