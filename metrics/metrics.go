// Package metrics exports a Halley hub's counters as Prometheus metrics.
//
// The hub counts with atomics and knows nothing of Prometheus (see
// halley.Hub.Stats); this package reads those counts at each scrape, so an
// embedding program that does not import it does not link client_golang.
// Use New for a Collector of one hub, Registry for a registry with it and
// the Go runtime and process collectors, and Collector.API as the
// httpapi.Options.Observer that counts the HTTP API's requests.
//
//	reg, col := metrics.Registry(hub)
//	api := httpapi.New(hub, httpapi.Options{Observer: col.API()})
//	mux.Handle("GET /metrics", httpapi.Protect(key, metrics.Handler(reg)))
//
// # Metrics
//
// Every name starts with halley_; counters end in _total; durations are
// in seconds, sizes in bytes.
//
//	halley_connections{transport}             gauge: client connections open (comet, poll, sse, ws)
//	halley_sessions                           gauge: live sessions
//	halley_channels{kind}                     gauge: live channels (broadcast, newest, session, lazy)
//	halley_active                             gauge: 1 while push is active (not deactivated)
//	halley_messages_published_total           messages written to channels on this node
//	halley_messages_delivered_total           messages written to client connections
//	halley_bytes_written_total                bytes written to clients by the transports
//	halley_gaps_total{reason}                 gaps told to clients (channel_full, unknown_position)
//	halley_ends_total{reason}                 ended frames (channel_ended, channel_full, unknown_channel, forbidden)
//	halley_slow_clients_total                 connections cut off as slow clients
//	halley_stream_writes_total{kind}          the streams' writes of messages: at_once, gathered (written with what piled up while behind)
//	halley_refusals_total{reason}             every refusal, by the reason the client was told
//	halley_token_refusals_total{reason}       the refusals of a client's token (invalid_token, token_expired, forbidden)
//	halley_limit_refusals_total{limit}        the refusals of a limit (too_many_connections, rate_limited, …)
//	halley_write_latency_seconds              histogram: a message's arrival at the hub to its being taken for a client's write
//	halley_broker_operations_total{op}        broker calls (brokers that count them: broker/redis)
//	halley_broker_errors_total{op}            broker calls that failed
//	halley_api_requests_total{route,code}     HTTP API requests (with Collector.API)
//	halley_api_request_duration_seconds{route} histogram of their durations
//
// and, from Registry, Go's go_* and the process's process_* metrics.
package metrics

import (
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/broker"
)

// Collector is a prometheus.Collector of one hub's counters, read from
// halley.Hub.Stats at each scrape (one snapshot per scrape). It is safe for
// concurrent use.
type Collector struct {
	hub *halley.Hub

	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	// published is the series of the API's busiest answer, a publish's
	// 200, once it has one: found without hashing its labels.
	published atomic.Pointer[apiSeries]
}

// apiSeries is the count and the duration of one route's answers of one
// code.
type apiSeries struct {
	count    prometheus.Counter
	duration prometheus.Observer
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("halley_"+name, help, labels, nil)
}

var (
	connectionsDesc = desc("connections", "Client connections open now, by transport.", "transport")
	sessionsDesc    = desc("sessions", "Live sessions.")
	channelsDesc    = desc("channels", "Live channels, by kind (buses among broadcast).", "kind")
	activeDesc      = desc("active", "1 while push is active, 0 while deactivated.")
	publishedDesc   = desc("messages_published_total", "Messages written to channels on this node.")
	deliveredDesc   = desc("messages_delivered_total", "Messages written to client connections (one per connection).")
	bytesDesc       = desc("bytes_written_total", "Bytes the transports wrote to clients (bodies and frames).")
	gapsDesc        = desc("gaps_total", "Gaps told to clients, by reason.", "reason")
	endsDesc        = desc("ends_total", "Ended frames sent to clients, by reason.", "reason")
	slowDesc        = desc("slow_clients_total", "Client connections cut off because their socket took no data in time.")
	writesDesc      = desc("stream_writes_total", "Writes of messages by the SSE and WebSocket streams: at_once, as soon as a stream had them; gathered, with what piled up while it was behind.", "kind")
	refusalsDesc    = desc("refusals_total", "Refused requests, subscriptions and frames, by reason.", "reason")
	tokenDesc       = desc("token_refusals_total", "Refusals of a client's token, by reason.", "reason")
	limitDesc       = desc("limit_refusals_total", "Refusals of a limit, by limit.", "limit")
	latencyDesc     = desc("write_latency_seconds", "Time from a message's arrival at the hub to its being taken for the write to a client (the oldest message of each batch, the stream's write delay included).")
	brokerOpsDesc   = desc("broker_operations_total", "Broker operations, by operation.", "op")
	brokerErrDesc   = desc("broker_errors_total", "Broker operations that failed, by operation.", "op")
)

// tokenReasons are the refusal reasons that are a token's.
var tokenReasons = map[string]string{
	"invalid_token": "invalid_token",
	"token_expired": "token_expired",
	"forbidden":     "forbidden",
	"comet_401":     "invalid_token",
	"comet_403":     "forbidden",
}

// limitReasons maps the refusal reasons that are a limit's to the limit.
var limitReasons = map[string]string{
	"too_many_connections":   "too_many_connections",
	"comet_429":              "too_many_connections",
	"rate_limited":           "rate_limited",
	"too_many_sessions":      "too_many_sessions",
	"too_many_channels":      "too_many_channels",
	"too_many_listens":       "too_many_listens",
	"too_many_subscriptions": "too_many_subscriptions",
	"body_too_large":         "body_too_large",
	"comet_413":              "body_too_large",
	"body_timeout":           "body_timeout",
	"comet_408":              "body_timeout",
	"message_too_large":      "message_too_large",
	"frame_too_large":        "frame_too_large",
}

// New returns a Collector of h's counters. Register it (and call API for
// the HTTP API's) with a prometheus.Registerer, or use Registry.
func New(h *halley.Hub) *Collector {
	return &Collector{
		hub: h,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "halley_api_requests_total",
			Help: "HTTP API requests, by route and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "halley_api_request_duration_seconds",
			Help:    "Duration of HTTP API requests, by route.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route"}),
	}
}

// Registry returns a new registry holding a Collector of h, Go's runtime
// collector and the process collector, and the Collector.
func Registry(h *halley.Hub) (*prometheus.Registry, *Collector) {
	reg := prometheus.NewRegistry()
	c := New(h)
	reg.MustRegister(c,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg, c
}

// Handler serves the metrics of g in Prometheus' text format.
func Handler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{})
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		connectionsDesc, sessionsDesc, channelsDesc, activeDesc, publishedDesc, deliveredDesc,
		bytesDesc, gapsDesc, endsDesc, slowDesc, writesDesc, refusalsDesc, tokenDesc, limitDesc, latencyDesc,
		brokerOpsDesc, brokerErrDesc,
	} {
		ch <- d
	}
	c.requests.Describe(ch)
	c.duration.Describe(ch)
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	st := c.hub.Stats()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	for t, n := range st.Connections {
		gauge(connectionsDesc, float64(n), t)
	}
	gauge(sessionsDesc, float64(st.Sessions))
	for k, n := range st.Channels {
		gauge(channelsDesc, float64(n), k)
	}
	active := 0.0
	if c.hub.Active() {
		active = 1
	}
	gauge(activeDesc, active)
	counter(publishedDesc, st.Published)
	counter(deliveredDesc, st.Delivered)
	counter(bytesDesc, st.BytesWritten)
	for r, n := range st.Gaps {
		counter(gapsDesc, n, r)
	}
	for r, n := range st.Ends {
		counter(endsDesc, n, r)
	}
	counter(slowDesc, st.SlowClients)
	wc := c.hub.WriteCounts()
	counter(writesDesc, wc.AtOnce, "at_once")
	counter(writesDesc, wc.Gathered, "gathered")

	tokens := map[string]uint64{"invalid_token": 0, "token_expired": 0, "forbidden": 0}
	limits := make(map[string]uint64)
	for _, l := range limitReasons {
		limits[l] = 0
	}
	for r, n := range st.Refusals {
		counter(refusalsDesc, n, r)
		if t, ok := tokenReasons[r]; ok {
			tokens[t] += n
		}
		if l, ok := limitReasons[r]; ok {
			limits[l] += n
		}
	}
	for r, n := range tokens {
		counter(tokenDesc, n, r)
	}
	for l, n := range limits {
		counter(limitDesc, n, l)
	}

	lat := st.WriteLatency
	buckets := make(map[float64]uint64, len(lat.Bounds))
	for i, b := range lat.Bounds {
		buckets[b] = lat.Counts[i]
	}
	ch <- prometheus.MustNewConstHistogram(latencyDesc, lat.Count, lat.Sum, buckets)

	if bc, ok := c.hub.Broker().(broker.Counter); ok {
		for _, oc := range bc.OpCounts() {
			counter(brokerOpsDesc, oc.Calls, oc.Op)
			counter(brokerErrDesc, oc.Errors, oc.Op)
		}
	}
	c.requests.Collect(ch)
	c.duration.Collect(ch)
}

// API returns the observer of the HTTP API's requests, for
// httpapi.Options.Observer: it counts them in halley_api_requests_total
// and times them in halley_api_request_duration_seconds.
func (c *Collector) API() APIObserver { return APIObserver{c} }

// APIObserver counts the HTTP API's requests (an httpapi.RequestObserver).
type APIObserver struct{ c *Collector }

// ObserveRequest counts one request.
func (o APIObserver) ObserveRequest(route string, code int, elapsed time.Duration) {
	route = strings.TrimPrefix(route, "GET ") // patterns may carry a method
	if route == publishRoute && code == http.StatusOK {
		s := o.c.published.Load()
		if s == nil {
			s = &apiSeries{
				count:    o.c.requests.WithLabelValues(route, strconv.Itoa(code)),
				duration: o.c.duration.WithLabelValues(route),
			}
			o.c.published.Store(s)
		}
		s.count.Inc()
		s.duration.Observe(elapsed.Seconds())
		return
	}
	o.c.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
	o.c.duration.WithLabelValues(route).Observe(elapsed.Seconds())
}

// publishRoute is the route of POST /api/publish.
const publishRoute = "/api/publish"
