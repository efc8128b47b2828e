package metrics_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/httpapi"
	"github.com/halleyhq/halley/metrics"
)

// value returns the value of the metric name whose labels include want
// (name=value pairs), and whether there is one.
func value(t testing.TB, g prometheus.Gatherer, name string, want ...string) (float64, bool) {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if !hasLabels(m, want) {
				continue
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue(), true
			case m.Gauge != nil:
				return m.Gauge.GetValue(), true
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount()), true
			}
		}
	}
	return 0, false
}

func hasLabels(m *dto.Metric, want []string) bool {
	for i := 0; i+1 < len(want); i += 2 {
		found := false
		for _, l := range m.GetLabel() {
			if l.GetName() == want[i] && l.GetValue() == want[i+1] {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func mustValue(t testing.TB, g prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	v, ok := value(t, g, name, labels...)
	if !ok {
		t.Fatalf("no metric %s%v", name, labels)
	}
	return v
}

// newHub returns an in-memory hub, shut down when the test ends.
func newHub(t *testing.T) *halley.Hub {
	t.Helper()
	h, err := halley.New(halley.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = h.Shutdown(ctx)
	})
	return h
}

func TestCollector(t *testing.T) {
	h := newHub(t)
	reg, col := metrics.Registry(h)
	api := httptest.NewServer(httpapi.New(h, httpapi.Options{Observer: col.API()}))
	t.Cleanup(api.Close)

	if v := mustValue(t, reg, "halley_channels", "kind", "broadcast"); v != 0 {
		t.Fatalf("broadcast channels %v before any", v)
	}
	for _, body := range []string{`{"name":"news"}`, `{"name":"news"}`} {
		resp, err := http.Post(api.URL+"/api/channels", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if v := mustValue(t, reg, "halley_channels", "kind", "broadcast"); v != 1 {
		t.Fatalf("broadcast channels %v, want 1", v)
	}
	if v := mustValue(t, reg, "halley_api_requests_total", "route", "/api/channels", "code", "201"); v != 1 {
		t.Fatalf("201 answers %v, want 1", v)
	}
	if v := mustValue(t, reg, "halley_api_requests_total", "route", "/api/channels", "code", "409"); v != 1 {
		t.Fatalf("409 answers %v, want 1", v)
	}
	if v := mustValue(t, reg, "halley_api_request_duration_seconds", "route", "/api/channels"); v != 2 {
		t.Fatalf("timed requests %v, want 2", v)
	}
	c, _ := h.Channel("news")
	if _, err := c.Write(t.Context(), []byte("x")); err != nil {
		t.Fatal(err)
	}
	if v := mustValue(t, reg, "halley_messages_published_total"); v != 1 {
		t.Fatalf("published %v, want 1", v)
	}
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total", "halley_write_latency_seconds", "halley_active", "halley_connections"} {
		if _, ok := value(t, reg, name); !ok {
			t.Errorf("no %s", name)
		}
	}
	if _, ok := value(t, reg, "halley_broker_operations_total"); ok {
		t.Error("broker operations exported for the memory broker, which does not count them")
	}
}

// TestAPIObserver_Publish: publishes are counted in their series like
// every other request, whichever answer they get.
func TestAPIObserver_Publish(t *testing.T) {
	h := newHub(t)
	reg, col := metrics.Registry(h)
	obs := col.API()
	for range 3 {
		obs.ObserveRequest("/api/publish", http.StatusOK, time.Millisecond)
	}
	obs.ObserveRequest("/api/publish", http.StatusNotFound, time.Millisecond)
	obs.ObserveRequest("/api/stats", http.StatusOK, time.Millisecond)
	for _, c := range []struct {
		route, code string
		want        float64
	}{{"/api/publish", "200", 3}, {"/api/publish", "404", 1}, {"/api/stats", "200", 1}} {
		if v := mustValue(t, reg, "halley_api_requests_total", "route", c.route, "code", c.code); v != c.want {
			t.Errorf("%s %s: %v answers, want %v", c.route, c.code, v, c.want)
		}
	}
	if v := mustValue(t, reg, "halley_api_request_duration_seconds", "route", "/api/publish"); v != 4 {
		t.Errorf("timed publishes %v, want 4", v)
	}
}

// BenchmarkObserveRequest measures the counting of a publish's answer,
// the API's busiest, from every core at once.
func BenchmarkObserveRequest(b *testing.B) {
	h, err := halley.New(halley.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer h.Shutdown(context.Background())
	_, col := metrics.Registry(h)
	obs := col.API()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			obs.ObserveRequest("/api/publish", http.StatusOK, time.Millisecond)
		}
	})
}
