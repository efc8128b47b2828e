package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/halleyhq/halley/client"
)

// TestAdmin_Dashboard: the operator opens /admin, is asked for the API key
// (a wrong one is refused), and the page shows a load that the test runs
// (three Go clients, one per transport, reading a channel that the API
// publishes to): connections by transport and messages per second in the
// plots, the channel with its listeners and moving offset in the table,
// the sessions, the channel watched live through the browser client.
// Deactivate makes /readyz answer 503 until activate. The screenshot goes
// to $HALLEY_SCREENSHOT_DIR, or a temporary folder.
func TestAdmin_Dashboard(t *testing.T) {
	needBrowser(t)
	const key = "admin-s3cret"
	s := startHalley(t, "127.0.0.1:0", "--api-key", key, "--demo=false")
	hc := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(hc.CloseIdleConnections)
	api := &client.API{URL: s.url(), Key: key, HTTPClient: hc}
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })

	received := make([]int, 3)
	gaps := 0
	var mu sync.Mutex
	load := func() {
		if _, err := api.CreateChannel(ctx, "load", "broadcast", 50); err != nil {
			t.Errorf("create load: %v", err)
			return
		}
		if _, err := api.CreateChannel(ctx, "scores", "newest", 1); err != nil {
			t.Errorf("create scores: %v", err)
			return
		}
		// A session with a user, and a channel of its own.
		var sess struct{ ID string }
		if err := apiJSON(hc, s.url(), key, "/api/sessions", map[string]any{"user": "alice"}, &sess); err != nil {
			t.Errorf("create session: %v", err)
			return
		}
		if err := apiJSON(hc, s.url(), key, "/api/channels", map[string]any{"name": "alice-inbox", "kind": "session", "session": sess.ID}, nil); err != nil {
			t.Errorf("create alice-inbox: %v", err)
			return
		}
		// A reader that resumes after offset 1 of a ring of 10 that took
		// 20: a channel_full gap, for the gaps plot.
		if _, err := api.CreateChannel(ctx, "burst", "broadcast", 10); err != nil {
			t.Errorf("create burst: %v", err)
			return
		}
		for i := range 20 {
			if _, _, err := api.Publish(ctx, "burst", fmt.Appendf(nil, "%d", i)); err != nil {
				t.Errorf("publish burst: %v", err)
				return
			}
		}
		one := uint64(1)
		late := client.New(s.url(), client.Options{Transport: client.Poll, Logger: slog.New(slog.DiscardHandler)})
		late.Subscribe("burst", client.From{After: &one})
		wg.Go(func() { _ = late.Run(ctx) })
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case ev := <-late.Events():
					if ev.Type == client.EventGap {
						mu.Lock()
						gaps++
						mu.Unlock()
					}
				}
			}
		})
		for i, tr := range []client.Transport{client.WebSocket, client.SSE, client.Poll} {
			c := client.New(s.url(), client.Options{Transport: tr, Logger: slog.New(slog.DiscardHandler)})
			c.Subscribe("load", client.From{})
			wg.Go(func() { _ = c.Run(ctx) })
			wg.Go(func() {
				for {
					select {
					case <-ctx.Done():
						return
					case ev := <-c.Events():
						if ev.Type == client.EventMsg {
							mu.Lock()
							received[i]++
							mu.Unlock()
						}
					}
				}
			})
		}
		// A steady stream for the plots to move: the pace is load, not
		// synchronisation (every wait of the page is for what it shows).
		wg.Go(func() {
			tick := time.NewTicker(50 * time.Millisecond)
			defer tick.Stop()
			for n := 1; ; n++ {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				if _, _, err := api.Publish(ctx, "load", fmt.Appendf(nil, `{"n":%d,"text":"message %d"}`, n, n)); err != nil && ctx.Err() == nil {
					t.Errorf("publish: %v", err)
					return
				}
				if n%10 == 0 {
					_, _, _ = api.Publish(ctx, "scores", fmt.Appendf(nil, `{"blue":%d}`, n/10))
				}
			}
		})
	}
	readyz := func() int {
		res, err := hc.Get(s.url() + "/readyz")
		if err != nil {
			t.Fatalf("GET /readyz: %v", err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}

	dir := os.Getenv("HALLEY_SCREENSHOT_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	shot := filepath.Join(dir, "admin.png")
	var r struct {
		StoredKey string
		Row       []string
		Rows      []string
		Sessions  [][]string
		Watched   []string
		Plots     map[string]float64
		Nodes     []string
		Errors    []string
	}
	scenario(t, ctx, "admin", s.url()+"/admin", shot, []string{"HALLEY_API_KEY=" + key}, func(step string) {
		switch step {
		case "load":
			load()
		case "deactivated":
			if code := readyz(); code != http.StatusServiceUnavailable {
				t.Errorf("/readyz after Deactivate = %d, want 503", code)
			}
		case "activated":
			if code := readyz(); code != http.StatusOK {
				t.Errorf("/readyz after Activate = %d, want 200", code)
			}
		}
	}, &r)
	t.Logf("screenshot: %s", shot)

	if r.StoredKey != key {
		t.Errorf("sessionStorage holds %q, want the key", r.StoredKey)
	}
	// id, kind, listeners, offset, size, public, presence, button
	if len(r.Row) != 8 || r.Row[0] != "load" || r.Row[1] != "broadcast" || r.Row[4] != "50" || r.Row[5] != "no" {
		t.Errorf("the load row shows %q", r.Row)
	} else {
		if n, _ := strconv.Atoi(r.Row[2]); n < 3 {
			t.Errorf("load listeners %q, want the three clients", r.Row[2])
		}
		if p := r.Row[6]; p != "—" {
			if _, err := strconv.Atoi(p); err != nil {
				t.Errorf("presence %q, want a count or —", p)
			}
		}
	}
	if !slices.Equal(r.Rows, []string{"alice-inbox", "burst", "load", "scores"}) {
		t.Errorf("table rows %q, want the test's four channels, by id", r.Rows)
	}
	if r.Plots["gapsMax"] <= 0 || r.Plots["published"] <= 0 || r.Plots["delivered"] <= 0 || r.Plots["ws"] < 1 || r.Plots["sse"] < 1 || r.Plots["poll"] < 1 {
		t.Errorf("plots end with %v", r.Plots)
	}
	alice := false
	for _, row := range r.Sessions {
		alice = alice || len(row) == 3 && row[1] == "alice" && row[2] == "alice-inbox"
	}
	if len(r.Sessions) < 6 || !alice {
		t.Errorf("sessions table %q: want the four clients', alice's owning alice-inbox, and the page's", r.Sessions)
	}
	if len(r.Watched) < 3 || !strings.Contains(r.Watched[0], `"text":"message `) {
		t.Errorf("watched lines %q: want the load's messages", r.Watched)
	}
	if len(r.Nodes) != 1 || !strings.Contains(r.Nodes[0], "(this one)") {
		t.Errorf("nodes %q: want this node alone", r.Nodes)
	}
	if len(r.Errors) > 0 {
		t.Errorf("console errors: %q", r.Errors)
	}
	mu.Lock()
	defer mu.Unlock()
	if gaps == 0 {
		t.Error("the late reader of burst got no gap")
	}
	for i, n := range received {
		if n == 0 {
			t.Errorf("client %d received nothing", i)
		}
	}
	var st struct {
		PollTimeout string `json:"poll_timeout"`
	}
	req, _ := http.NewRequest(http.MethodGet, s.url()+"/api/stats", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if err := json.NewDecoder(res.Body).Decode(&st); err != nil || st.PollTimeout != "7s" {
		t.Errorf("poll timeout %q (%v) after setting 7 s from the page", st.PollTimeout, err)
	}
}

// apiJSON posts body to the API at path and decodes the answer into out
// (if not nil); a status other than 2xx is an error.
func apiJSON(hc *http.Client, base, key, path string, body, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequest(http.MethodPost, base+path, strings.NewReader(string(b)))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("POST %s: %d %s", path, res.StatusCode, data)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(data, out)
}

// TestAdmin_Keyless: without --api-key the dashboard, opened on a loopback
// address, needs no key: the API's key-less rules let its requests through.
func TestAdmin_Keyless(t *testing.T) {
	needBrowser(t)
	s := startHalley(t, "127.0.0.1:0", "--demo=false")
	hc := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(hc.CloseIdleConnections)
	if err := apiJSON(hc, s.url(), "", "/api/channels", map[string]any{"name": "news"}, nil); err != nil {
		t.Fatal(err)
	}
	var r struct {
		Login    bool
		Channels string
		Rows     []string
		Errors   []string
	}
	scenario(t, t.Context(), "adminKeyless", s.url()+"/admin", "", nil, noSteps, &r)
	if r.Login || r.Channels != "1" || !slices.Equal(r.Rows, []string{"news"}) {
		t.Errorf("login shown %v, channels %q, rows %q; want no login, the one channel", r.Login, r.Channels, r.Rows)
	}
	if len(r.Errors) > 0 {
		t.Errorf("console errors: %q", r.Errors)
	}
}
