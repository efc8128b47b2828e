package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/httpapi"
)

type channelPage struct {
	Channels []struct {
		ID        string `json:"id"`
		Kind      string `json:"kind"`
		Scope     string `json:"scope"`
		Listeners int    `json:"listeners"`
		Offset    uint64 `json:"offset"`
		Size      int    `json:"size"`
		Public    bool   `json:"public"`
	} `json:"channels"`
	Next string `json:"next"`
}

func (e *testEnv) channelPage(query string) channelPage {
	e.t.Helper()
	res := e.do(http.MethodGet, "/api/channels"+query, "", "")
	if res.status != http.StatusOK {
		e.t.Fatalf("GET /api/channels%s: %d %s", query, res.status, res.body)
	}
	var p channelPage
	if err := json.Unmarshal(res.body, &p); err != nil {
		e.t.Fatalf("GET /api/channels%s: %v in %s", query, err, res.body)
	}
	return p
}

func TestListChannels(t *testing.T) {
	e := newEnv(t, halley.Config{}, httpapi.Options{APIKey: "k"})
	var want []string
	for i := 6; i >= 0; i-- {
		want = append(want, e.createChannel(map[string]any{"name": fmt.Sprintf("c%d", i), "public": i == 2}))
	}
	slices.Sort(want)
	if res := e.post("/api/buses", map[string]any{"name": "zbus"}); res.status != http.StatusCreated {
		t.Fatalf("create bus: %d %s", res.status, res.body)
	}
	want = append(want, "zbus")
	if res := e.post("/api/publish", map[string]any{"channel": "c2", "data": "x"}); res.status != http.StatusOK {
		t.Fatalf("publish: %d %s", res.status, res.body)
	}

	t.Run("OK", func(t *testing.T) {
		p := e.channelPage("")
		var ids []string
		for _, c := range p.Channels {
			ids = append(ids, c.ID)
		}
		if !slices.Equal(ids, want) {
			t.Fatalf("ids = %v, want %v", ids, want)
		}
		if p.Next != "" {
			t.Errorf("next = %q on a page that is not full", p.Next)
		}
		c2, bus := p.Channels[2], p.Channels[len(p.Channels)-1]
		if c2.ID != "c2" || c2.Kind != "broadcast" || !c2.Public || c2.Offset != 1 || c2.Size == 0 {
			t.Errorf("c2 = %+v", c2)
		}
		if p.Channels[1].Public || p.Channels[1].Offset != 0 {
			t.Errorf("c1 = %+v", p.Channels[1])
		}
		if bus.Kind != "bus" || bus.Scope == "" {
			t.Errorf("bus = %+v", bus)
		}
	})
	t.Run("Paging", func(t *testing.T) {
		var ids []string
		after, pages := "", 0
		for {
			p := e.channelPage("?limit=3&after=" + after)
			pages++
			if len(p.Channels) > 3 {
				t.Fatalf("%d channels, limit 3", len(p.Channels))
			}
			for _, c := range p.Channels {
				ids = append(ids, c.ID)
			}
			if p.Next == "" {
				break
			}
			if p.Next != p.Channels[len(p.Channels)-1].ID {
				t.Fatalf("next = %q, last = %q", p.Next, p.Channels[len(p.Channels)-1].ID)
			}
			after = p.Next
		}
		if !slices.Equal(ids, want) || pages != 3 {
			t.Fatalf("paged %v in %d pages, want %v in 3", ids, pages, want)
		}
	})
	t.Run("ErrBadLimit", func(t *testing.T) {
		for _, q := range []string{"?limit=0", "?limit=-3", "?limit=ten", "?limit=1.5"} {
			expectError(t, e.do(http.MethodGet, "/api/channels"+q, "", ""), http.StatusBadRequest, "bad_request")
		}
	})
	t.Run("ErrUnauthorized", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/api/channels", nil)
		expectError(t, e.send(req), http.StatusUnauthorized, "unauthorized")
		req, _ = http.NewRequest(http.MethodGet, e.srv.URL+"/api/sessions", nil)
		req.Header.Set("Authorization", "Bearer wrong")
		expectError(t, e.send(req), http.StatusUnauthorized, "unauthorized")
	})
	t.Run("ErrMethod", func(t *testing.T) {
		res := e.do(http.MethodPut, "/api/channels", "", "")
		expectError(t, res, http.StatusMethodNotAllowed, "method_not_allowed")
		if got := res.header.Get("Allow"); got != "GET, POST" {
			t.Errorf("Allow = %q", got)
		}
	})
}

// The default page is 100 channels and the largest 1000, whatever limit asks.
func TestListChannels_Bounds(t *testing.T) {
	e := newEnv(t, halley.Config{MaxChannels: 2000}, httpapi.Options{})
	for i := range 1001 {
		if _, err := e.hub.NewChannel(t.Context(), halley.ChannelOptions{Name: fmt.Sprintf("c%04d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		query string
		n     int
		next  string
	}{
		{"", 100, "c0099"},
		{"?limit=1000", 1000, "c0999"},
		{"?limit=5000", 1000, "c0999"},
		{"?after=c0999&limit=5000", 1, ""},
		{"?after=zzz", 0, ""},
	} {
		p := e.channelPage(tt.query)
		if len(p.Channels) != tt.n || p.Next != tt.next {
			t.Errorf("%q: %d channels, next %q; want %d, %q", tt.query, len(p.Channels), p.Next, tt.n, tt.next)
		}
	}
	if p := e.channelPage("?after=zzz"); p.Channels == nil {
		t.Error("an empty page is null, want []")
	}
}

// Without a key, the list is the API's: loopback, not cross-site.
func TestListChannels_Keyless(t *testing.T) {
	e := newEnv(t, halley.Config{}, httpapi.Options{})
	for _, path := range []string{"/api/channels", "/api/sessions", "/api/stats?detail=1"} {
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		expectError(t, e.send(req), http.StatusForbidden, "cross_site")
		req, _ = http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		if res := e.send(req); res.status != http.StatusOK {
			t.Errorf("same-origin GET %s: %d %s", path, res.status, res.body)
		}
	}
}

func TestListSessions(t *testing.T) {
	e := newEnv(t, halley.Config{}, httpapi.Options{APIKey: "k"})
	users := map[string]string{}
	for i := range 5 {
		res := e.post("/api/sessions", map[string]any{"user": fmt.Sprintf("u%d", i)})
		if res.status != http.StatusCreated {
			t.Fatalf("create session: %d %s", res.status, res.body)
		}
		users[res.json(t)["id"].(string)] = fmt.Sprintf("u%d", i)
	}
	var first string
	for id := range users {
		if first == "" || id < first {
			first = id
		}
	}
	own := e.createChannel(map[string]any{"kind": "session", "session": first})
	type sessions struct {
		Count    int `json:"count"`
		Sessions []struct {
			ID       string   `json:"id"`
			User     string   `json:"user"`
			Channels []string `json:"channels"`
		} `json:"sessions"`
		Next string `json:"next"`
	}
	seen := map[string]bool{}
	after := ""
	for {
		res := e.do(http.MethodGet, "/api/sessions?limit=2&after="+after, "", "")
		if res.status != http.StatusOK {
			t.Fatalf("GET /api/sessions: %d %s", res.status, res.body)
		}
		var p sessions
		if err := json.Unmarshal(res.body, &p); err != nil {
			t.Fatal(err)
		}
		if p.Count != 5 || len(p.Sessions) > 2 {
			t.Fatalf("count %d, %d sessions in a page of 2", p.Count, len(p.Sessions))
		}
		for _, s := range p.Sessions {
			if s.ID <= after || seen[s.ID] {
				t.Fatalf("session %s out of order after %q", s.ID, after)
			}
			seen[s.ID] = true
			if s.User != users[s.ID] {
				t.Errorf("session %s: user %q, want %q", s.ID, s.User, users[s.ID])
			}
			wantCh := []string{}
			if s.ID == first {
				wantCh = []string{own}
			}
			if !slices.Equal(s.Channels, wantCh) {
				t.Errorf("session %s: channels %v, want %v", s.ID, s.Channels, wantCh)
			}
		}
		if p.Next == "" {
			break
		}
		after = p.Next
	}
	if len(seen) != 5 {
		t.Fatalf("listed %d sessions, want 5", len(seen))
	}
	expectError(t, e.do(http.MethodGet, "/api/sessions?limit=nope", "", ""), http.StatusBadRequest, "bad_request")
}

func TestStats_Detail(t *testing.T) {
	e := newEnv(t, halley.Config{}, httpapi.Options{})
	e.createChannel(map[string]any{"name": "news"})
	e.createChannel(map[string]any{"name": "score", "kind": "newest"})
	stats := func() map[string]any {
		t.Helper()
		res := e.do(http.MethodGet, "/api/stats?detail=1", "", "")
		if res.status != http.StatusOK {
			t.Fatalf("GET /api/stats?detail=1: %d %s", res.status, res.body)
		}
		return res.json(t)
	}
	before := stats()
	for range 3 {
		if res := e.post("/api/publish", map[string]any{"channel": "news", "data": 1}); res.status != http.StatusOK {
			t.Fatalf("publish: %d %s", res.status, res.body)
		}
	}
	after := stats()
	if d := after["published"].(float64) - before["published"].(float64); d != 3 {
		t.Errorf("published moved by %v, want 3", d)
	}
	if after["channels"] != 2.0 || after["active"] != true {
		t.Errorf("the plain fields went: %v", after)
	}
	conns, _ := after["connections"].(map[string]any)
	for _, tr := range []string{"comet", "poll", "sse", "ws"} {
		if _, ok := conns[tr]; !ok {
			t.Errorf("connections has no %s: %v", tr, after["connections"])
		}
	}
	kinds, _ := after["channel_kinds"].(map[string]any)
	if kinds["broadcast"] != 1.0 || kinds["newest"] != 1.0 {
		t.Errorf("channel_kinds = %v", after["channel_kinds"])
	}
	for _, k := range []string{"delivered", "bytes_written", "gaps", "ends", "slow_clients", "write_latency"} {
		if _, ok := after[k]; !ok {
			t.Errorf("no %s in %v", k, after)
		}
	}
	if _, ok := e.do(http.MethodGet, "/api/stats", "", "").json(t)["published"]; ok {
		t.Error("GET /api/stats without detail=1 has the detail")
	}
}
