package bench_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	neturl "net/url"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/auth/jwt"
	"github.com/halleyhq/halley/client"
	"github.com/halleyhq/halley/httpapi"
	"github.com/halleyhq/halley/internal/bench"
)

// newServer serves a hub's transports at / and its API at /api/, with
// wrap around the transports (nil: none).
func newServer(t testing.TB, wrap func(http.Handler) http.Handler) (*halley.Hub, string) {
	t.Helper()
	return newServerWith(t, halley.Config{}, wrap)
}

// newServerWith is newServer with a hub of cfg (its Logger discards).
func newServerWith(t testing.TB, cfg halley.Config, wrap func(http.Handler) http.Handler) (*halley.Hub, string) {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	cfg.Logger = quiet
	hub, err := halley.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var transports http.Handler = hub.Handler()
	if wrap != nil {
		transports = wrap(transports)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/", httpapi.New(hub, httpapi.Options{Logger: quiet}))
	mux.Handle("/", transports)
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := hub.Shutdown(ctx); err != nil {
			t.Errorf("hub shutdown: %v", err)
		}
	})
	return hub, ts.URL
}

// progress collects the progress lines.
type progress struct{ strings.Builder }

func TestRun(t *testing.T) {
	for _, tr := range []client.Transport{client.WebSocket, client.SSE, client.Poll} {
		t.Run(string(tr), func(t *testing.T) {
			hub, url := newServer(t, nil)
			cfg := bench.Config{
				Server:      url,
				Subscribers: 20,
				Channels:    3,
				Messages:    200,
				Transport:   tr,
				Timeout:     time.Minute,
			}
			res, err := bench.Run(t.Context(), cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			// Channels 0, 1, 2 get 67, 67 and 66 messages, and have 7, 7
			// and 6 subscribers.
			const want = 67*7 + 67*7 + 66*6
			if res.Deliveries != want || res.ExpectedDeliveries != want {
				t.Errorf("deliveries %d, expected %d, want %d", res.Deliveries, res.ExpectedDeliveries, want)
			}
			if res.Lost != 0 || res.Duplicated != 0 || res.OutOfOrder != 0 || res.BadPayloads != 0 {
				t.Errorf("lost %d, duplicated %d, out of order %d, bad %d: want none",
					res.Lost, res.Duplicated, res.OutOfOrder, res.BadPayloads)
			}
			if res.Connected != 20 || res.Published != 200 || res.PublishErrors != 0 {
				t.Errorf("connected %d, published %d (%d errors): want 20, 200, 0", res.Connected, res.Published, res.PublishErrors)
			}
			if !res.OK() || res.TimedOut || res.QuietEnd {
				t.Errorf("OK %v, timed out %v, quiet end %v: want a clean run", res.OK(), res.TimedOut, res.QuietEnd)
			}
			if l := res.LatencyMS; l == nil || l.P50 < 0 || l.P50 > l.P90 || l.P90 > l.P99 || l.Max < 0 {
				t.Errorf("latency %+v: want ordered non-negative percentiles", l)
			}
			if res.Transport != string(tr) || res.Publishers != 4 {
				t.Errorf("transport %q, publishers %d: want %q, 4", res.Transport, res.Publishers, tr)
			}
			// Without a server pid, the server's figures are unknown.
			if res.ServerCPUS != nil || res.ServerRSSKBPerConn != nil {
				t.Errorf("server figures without a pid: %v, %v", res.ServerCPUS, res.ServerRSSKBPerConn)
			}
			if n := hub.ChannelCount(); n != 0 {
				t.Errorf("%d channels left after the run, want 0", n)
			}
		})
	}
}

func TestRun_Idle(t *testing.T) {
	hub, url := newServer(t, nil)
	var out progress
	res, err := bench.Run(t.Context(), bench.Config{Server: url, Subscribers: 30, Channels: 4}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if res.Connected != 30 || !res.OK() {
		t.Errorf("connected %d (OK %v), want 30", res.Connected, res.OK())
	}
	if res.Deliveries != 0 || res.ExpectedDeliveries != 0 || res.Published != 0 || res.LatencyMS != nil {
		t.Errorf("idle run delivered %d/%d, published %d, latency %v: want nothing",
			res.Deliveries, res.ExpectedDeliveries, res.Published, res.LatencyMS)
	}
	if res.Transport != "sse" {
		t.Errorf("default transport %q, want sse", res.Transport)
	}
	if n := hub.ChannelCount(); n != 0 {
		t.Errorf("%d channels left after the run, want 0", n)
	}
}

// TestRun_ServerPID reads the test process's own /proc figures as the
// server's: they only have to be there and make sense.
func TestRun_ServerPID(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc:", err)
	}
	_, url := newServer(t, nil)
	cfg := bench.Config{Server: url, Subscribers: 5, Messages: 50, ServerPID: os.Getpid(), Rate: 5000}
	res, err := bench.Run(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK() || res.Deliveries != 250 {
		t.Errorf("OK %v, deliveries %d: want a clean run of 250", res.OK(), res.Deliveries)
	}
	for name, v := range map[string]*float64{
		"server_cpu_connect_s":       res.ServerCPUConnectS,
		"server_cpu_us_per_connect":  res.ServerCPUUsPerConnect,
		"server_cpu_s":               res.ServerCPUS,
		"server_cpu_us_per_delivery": res.ServerCPUUsPerDelivery,
		"server_cpu_us_per_publish":  res.ServerCPUUsPerPublish,
		"bench_cpu_connect_s":        res.BenchCPUConnectS,
		"bench_cpu_s":                res.BenchCPUS,
		"bench_cpu_us_per_delivery":  res.BenchCPUUsPerDelivery,
		"host_steal_pct":             res.HostStealPct,
	} {
		if v == nil || *v < 0 {
			t.Errorf("%s = %v, want a non-negative figure", name, v)
		}
	}
	for name, v := range map[string]*int64{
		"server_rss_before_kb":    res.ServerRSSBeforeKB,
		"server_rss_connected_kb": res.ServerRSSConnectedKB,
		"server_rss_end_kb":       res.ServerRSSEndKB,
		"bench_rss_peak_kb":       res.BenchRSSPeakKB,
	} {
		if v == nil || *v <= 0 {
			t.Errorf("%s = %v, want a positive figure", name, v)
		}
	}
	if res.ConnectsPerS <= 0 {
		t.Errorf("connects_per_s = %v, want a positive rate", res.ConnectsPerS)
	}
	// The process may shrink meanwhile: the growth may be negative.
	if res.ServerRSSKBPerConn == nil {
		t.Error("server_rss_kb_per_conn missing")
	}
}

func TestRun_Refused(t *testing.T) {
	tests := []struct {
		name string
		cfg  bench.Config
		want string
	}{
		{"not loopback", bench.Config{Server: "http://10.1.2.3:8080", Subscribers: 1}, "not on a loopback address"},
		{"public name", bench.Config{Server: "http://example.com", Subscribers: 1}, "not on a loopback address"},
		{"public v6", bench.Config{Server: "http://[2001:db8::1]:80", Subscribers: 1}, "not on a loopback address"},
		{"no scheme", bench.Config{Server: "127.0.0.1:8080", Subscribers: 1}, "server URL"},
		{"no subscriber", bench.Config{Server: "http://127.0.0.1:1"}, "at least one subscriber"},
		{"negative messages", bench.Config{Server: "http://127.0.0.1:1", Subscribers: 1, Messages: -1}, "messages"},
		{"negative rate", bench.Config{Server: "http://127.0.0.1:1", Subscribers: 1, Rate: -1}, "rate"},
		{"bad transport", bench.Config{Server: "http://127.0.0.1:1", Subscribers: 1, Transport: "pigeon"}, "pigeon"},
		{"dead pid", bench.Config{Server: "http://127.0.0.1:1", Subscribers: 1, ServerPID: 1 << 30}, "server pid"},
		{"no server", bench.Config{Subscribers: 1}, "no server"},
		{"second not loopback", bench.Config{Servers: []string{"http://127.0.0.1:1", "http://10.1.2.3:8080"}, Subscribers: 1}, "not on a loopback address"},
		{"pids for fewer servers", bench.Config{Server: "http://127.0.0.1:1", Servers: []string{"http://127.0.0.1:2"}, ServerPIDs: []int{os.Getpid()}, Subscribers: 1}, "1 server pids for 2 servers"},
		{"negative pid", bench.Config{Server: "http://127.0.0.1:1", Subscribers: 1, ServerPID: -1}, "server pid must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := bench.Run(t.Context(), tt.cfg, nil)
			if !errors.Is(err, bench.ErrConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Run: %v, want ErrConfig saying %q", err, tt.want)
			}
		})
	}
}

// TestRun_NoHub: subscribers refused for good make Run fail, and the
// channels are deleted.
func TestRun_NoHub(t *testing.T) {
	hub, url := newServer(t, func(http.Handler) http.Handler { return http.NotFoundHandler() })
	_, err := bench.Run(t.Context(), bench.Config{Server: url, Subscribers: 3, Messages: 10, Transport: client.Poll}, nil)
	if err == nil || !strings.Contains(err.Error(), "subscriber") {
		t.Errorf("Run: %v, want a subscriber's refusal", err)
	}
	if n := hub.ChannelCount(); n != 0 {
		t.Errorf("%d channels left after the run, want 0", n)
	}
}

// TestRun_Stopped: a server that never starts the streams cannot hold the
// bench once its context is done (as at the timeout, or on an interrupt).
func TestRun_Stopped(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var mu sync.Mutex
	hanging := 0
	hang := func(http.Handler) http.Handler {
		return http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			mu.Lock()
			if hanging++; hanging == 4 {
				cancel() // every subscriber is stuck
			}
			mu.Unlock()
			<-r.Context().Done()
		})
	}
	hub, url := newServer(t, hang)
	cfg := bench.Config{Server: url, Subscribers: 4, Messages: 10}
	res, err := bench.Run(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !res.TimedOut || res.OK() || res.Connected != 0 || res.Published != 0 {
		t.Errorf("timed out %v, OK %v, connected %d, published %d: want a stopped run with nothing done",
			res.TimedOut, res.OK(), res.Connected, res.Published)
	}
	if res.Lost != 40 {
		t.Errorf("lost %d, want the 40 expected deliveries", res.Lost)
	}
	if n := hub.ChannelCount(); n != 0 {
		t.Errorf("%d channels left after the run, want 0", n)
	}
}

func TestResult_WriteSummary(t *testing.T) {
	_, url := newServer(t, nil)
	res, err := bench.Run(t.Context(), bench.Config{Server: url, Subscribers: 2, Messages: 4, Transport: client.WebSocket}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	res.WriteSummary(&b)
	for _, want := range []string{"halley bench: ws, 2 subscribers on 1 channels", "deliver:    8/8", "lost 0", "OK\n"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, b.String())
		}
	}
}

// TestRun_Quiet: when messages stop coming after the last publication, the
// run ends by itself after Config.Quiet and counts them as lost. The
// publications here are answered without being made.
func TestRun_Quiet(t *testing.T) {
	hub, url := newServer(t, nil)
	fake := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"offset":1,"delivered":0}`))
	})
	mux := http.NewServeMux()
	mux.Handle("/api/publish", fake)
	mux.Handle("/", httputil.NewSingleHostReverseProxy(mustParse(t, url)))
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)

	cfg := bench.Config{Server: ts.URL, Subscribers: 3, Messages: 5, Quiet: 50 * time.Millisecond, Transport: client.WebSocket}
	res, err := bench.Run(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !res.QuietEnd || res.TimedOut || res.OK() {
		t.Errorf("quiet end %v, timed out %v, OK %v: want a quiet end", res.QuietEnd, res.TimedOut, res.OK())
	}
	if res.Published != 5 || res.Deliveries != 0 || res.Lost != 15 {
		t.Errorf("published %d, delivered %d, lost %d: want 5, 0, 15", res.Published, res.Deliveries, res.Lost)
	}
	if n := hub.ChannelCount(); n != 0 {
		t.Errorf("%d channels left after the run, want 0", n)
	}
}

func mustParse(t testing.TB, s string) *neturl.URL {
	t.Helper()
	u, err := neturl.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestRun_Token runs the bench against a hub that checks tokens: with a
// token that allows its channels every subscriber connects and reads;
// with a bad one, Run fails.
func TestRun_Token(t *testing.T) {
	secret := []byte("a test HMAC secret of at least 32 bytes")
	a, err := jwt.New(t.Context(), jwt.Options{HMACSecret: secret})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	hub, url := newServerWith(t, halley.Config{Authorizer: a}, nil)
	tok, err := jwt.Mint(secret, jwt.MintOptions{Subject: "bench", Channels: []string{"bench-*"}, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range []client.Transport{client.WebSocket, client.SSE, client.Poll} {
		t.Run(string(tr), func(t *testing.T) {
			for _, messages := range []int{0, 30} {
				cfg := bench.Config{Server: url, Subscribers: 6, Channels: 2, Messages: messages, Transport: tr, Token: tok, Timeout: 30 * time.Second}
				res, err := bench.Run(t.Context(), cfg, nil)
				if err != nil {
					t.Fatal(err)
				}
				if !res.OK() || res.Connected != 6 || res.Deliveries != uint64(3*messages) || res.ConnectsPerS <= 0 {
					t.Errorf("messages %d: OK %v, connected %d, delivered %d, %v connects/s: want a clean run",
						messages, res.OK(), res.Connected, res.Deliveries, res.ConnectsPerS)
				}
			}
			cfg := bench.Config{Server: url, Subscribers: 3, Transport: tr, Token: "not-a-jwt", Timeout: 30 * time.Second}
			if _, err := bench.Run(t.Context(), cfg, nil); err == nil || !strings.Contains(err.Error(), "invalid_token") {
				t.Errorf("Run with a bad token: %v, want a subscriber refused: invalid_token", err)
			}
		})
	}
	if n := hub.ChannelCount(); n != 0 {
		t.Errorf("%d channels left after the runs, want 0", n)
	}
}

// TestRun_WithinPerAddressLimits runs more subscribers than one client
// address may have against a server with the hub's default limits (256
// requests under way, new sessions in bursts of 100): the load tool
// spreads them over loopback addresses.
func TestRun_WithinPerAddressLimits(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("spreading over 127.0.0.0/8 needs Linux")
	}
	hub, url := newServerWith(t, halley.Config{}, nil)
	cfg := bench.Config{Server: url, Subscribers: 400, Channels: 4, Messages: 8, Timeout: 60 * time.Second}
	res, err := bench.Run(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK() || res.Connected != 400 || res.Deliveries != 400*2 {
		t.Fatalf("OK %v, connected %d, delivered %d: want 400 subscribers getting 2 messages each", res.OK(), res.Connected, res.Deliveries)
	}
	if n := hub.Refusals()["rate_limited"] + hub.Refusals()["too_many_connections"]; n != 0 {
		t.Fatalf("%d subscribers refused by the per-address limits", n)
	}
}
