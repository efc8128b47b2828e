package bench

import (
	"fmt"
	"io"
	"math"
	"strings"
)

// Result is what a run measured. Figures that could not be measured (the
// server's, without Config.ServerPID; latencies, without deliveries) are
// nil, and null in JSON.
type Result struct {
	// Case names the standard case of the run (RunCases), if any.
	Case string `json:"case,omitempty"`
	// The configuration, defaults filled in.
	Transport   string  `json:"transport"`
	Subscribers int     `json:"subscribers"`
	Channels    int     `json:"channels"`
	Messages    int     `json:"messages"`
	Size        int     `json:"size"`
	Rate        float64 `json:"rate"`
	Publishers  int     `json:"publishers"`
	Batch       int     `json:"batch"`
	Stream      bool    `json:"stream,omitempty"`
	// Raw: the subscribers were raw SSE readers (Config.Raw); Peer, the
	// kind of server when not Halley (Config.Peer).
	Raw  bool   `json:"raw,omitempty"`
	Peer string `json:"peer,omitempty"`

	// Connected counts the subscribers whose subscription started;
	// ConnectMS is the time until all of them had (or until the run
	// stopped waiting), and ConnectsPerS their rate over it.
	Connected    int     `json:"connected"`
	ConnectMS    float64 `json:"connect_ms"`
	ConnectsPerS float64 `json:"connects_per_s"`

	// Published counts the publications the server accepted, in
	// PublishS seconds from the first to the end of the last.
	Published     int     `json:"published"`
	PublishErrors int     `json:"publish_errors"`
	PublishS      float64 `json:"publish_s"`
	PublishesPerS float64 `json:"publishes_per_s"`

	// Deliveries counts the messages the subscribers received, in
	// DeliverS seconds from the first publication to the last delivery.
	Deliveries         uint64   `json:"deliveries"`
	ExpectedDeliveries uint64   `json:"expected_deliveries"`
	DeliverS           float64  `json:"deliver_s"`
	DeliveriesPerS     float64  `json:"deliveries_per_s"`
	LatencyMS          *Latency `json:"latency_ms"`

	// Lost counts the messages a subscriber never got (skipped by a gap,
	// after an ended event, or still missing at the end); Duplicated
	// those it got again or late, OutOfOrder the ones that came before
	// an earlier one. BadPayloads are messages that were not the bench's.
	Lost        uint64 `json:"lost"`
	Duplicated  uint64 `json:"duplicated"`
	OutOfOrder  uint64 `json:"out_of_order"`
	BadPayloads uint64 `json:"bad_payloads"`
	// Gaps and Ended count those events; Reconnects the streams the
	// server closed (each followed by a resume).
	Gaps       uint64 `json:"gaps"`
	Ended      uint64 `json:"ended"`
	Reconnects uint64 `json:"reconnects"`
	// TimedOut: Config.Timeout, or the end of Run's context, stopped the
	// run. QuietEnd: the run ended after Config.Quiet without a delivery,
	// messages missing.
	TimedOut bool `json:"timed_out"`
	QuietEnd bool `json:"quiet_end"`
	// Error is the first publication error, if any.
	Error string `json:"error,omitempty"`

	// CPU times (user + system) in seconds: the connection phase, then
	// the delivery phase (first publication to last delivery). The
	// server's come from /proc/PID/stat in ticks of 10 ms (USER_HZ=100),
	// the bench's from /proc/self/stat.
	//
	// ServerCPUUsPerConnect is the server's CPU time over the connection
	// phase divided by Connected: the cost of one connection (its
	// handshake, token check and subscription), to compare with and
	// without tokens.
	//
	// With several servers, the server figures here are totals: the
	// CPU times and memory of all servers summed, divided by all
	// connections, deliveries and publications; Servers has each
	// server's.
	ServerCPUConnectS     *float64 `json:"server_cpu_connect_s"`
	ServerCPUUsPerConnect *float64 `json:"server_cpu_us_per_connect"`
	ServerCPUS            *float64 `json:"server_cpu_s"`
	// ServerCPUUserS is the part of ServerCPUS spent in the server's own
	// code (user time); the rest is the kernel's, on its behalf (its
	// system calls and the loopback's deliveries charged to it).
	ServerCPUUserS         *float64 `json:"server_cpu_user_s"`
	ServerCPUUsPerDelivery *float64 `json:"server_cpu_us_per_delivery"`
	ServerCPUUsPerPublish  *float64 `json:"server_cpu_us_per_publish"`
	BenchCPUConnectS       *float64 `json:"bench_cpu_connect_s"`
	BenchCPUS              *float64 `json:"bench_cpu_s"`
	BenchCPUUsPerDelivery  *float64 `json:"bench_cpu_us_per_delivery"`
	// HostStealPct is the share of the machine's processor time, in
	// percent, that its hypervisor gave to other guests while this one
	// had work (steal in /proc/stat), over the delivery phase: on a
	// shared virtual machine, the runs with more of it are slower and
	// dearer whatever the server (nil: not known, such as off Linux).
	HostStealPct *float64 `json:"host_steal_pct"`

	// The server's resident memory (VmRSS) before the subscribers
	// connect, once all are connected, and at the end; the growth per
	// connection. BenchRSSPeakKB is the bench's own peak (VmHWM).
	ServerRSSBeforeKB    *int64   `json:"server_rss_before_kb"`
	ServerRSSConnectedKB *int64   `json:"server_rss_connected_kb"`
	ServerRSSEndKB       *int64   `json:"server_rss_end_kb"`
	ServerRSSKBPerConn   *float64 `json:"server_rss_kb_per_conn"`
	BenchRSSPeakKB       *int64   `json:"bench_rss_peak_kb"`

	// Servers has the figures of each server, in the order of
	// Config.Servers.
	Servers []ServerResult `json:"servers"`
}

// ServerResult holds the figures of one server of a run: its
// subscribers, the deliveries to them and the publications made through
// it, and, with its pid, its CPU time and memory over the same phases as
// Result's. Its CPU per delivery divides its CPU time by the deliveries
// to its own subscribers, and per publish by the publications made
// through it: with a shared broker, a server also works for the
// publications of the others, so these are shares of the totals, not
// costs that add up.
type ServerResult struct {
	URL              string   `json:"url"`
	PID              int      `json:"pid,omitempty"`
	Subscribers      int      `json:"subscribers"`
	Connected        int      `json:"connected"`
	Published        int      `json:"published"`
	Deliveries       uint64   `json:"deliveries"`
	CPUConnectS      *float64 `json:"cpu_connect_s"`
	CPUUsPerConnect  *float64 `json:"cpu_us_per_connect"`
	CPUS             *float64 `json:"cpu_s"`
	CPUUserS         *float64 `json:"cpu_user_s"`
	CPUUsPerDelivery *float64 `json:"cpu_us_per_delivery"`
	CPUUsPerPublish  *float64 `json:"cpu_us_per_publish"`
	RSSBeforeKB      *int64   `json:"rss_before_kb"`
	RSSConnectedKB   *int64   `json:"rss_connected_kb"`
	RSSEndKB         *int64   `json:"rss_end_kb"`
	RSSKBPerConn     *float64 `json:"rss_kb_per_conn"`
}

// Latency holds delivery latencies in milliseconds: receive time minus
// publication time, on the machine's one clock. The percentiles are
// exact to within 1%.
type Latency struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// OK reports whether the run went through: every subscriber connected,
// every message published and delivered once and in order, within the
// timeout.
func (r *Result) OK() bool {
	return r.Connected == r.Subscribers && !r.TimedOut &&
		r.Lost == 0 && r.Duplicated == 0 && r.OutOfOrder == 0 &&
		r.BadPayloads == 0 && r.PublishErrors == 0
}

// WriteSummary writes the result for humans.
func (r *Result) WriteSummary(w io.Writer) {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("halley bench: ")
	if r.Peer != "" {
		p("%s, ", r.Peer)
	}
	p("%s", r.Transport)
	if r.Raw {
		p(" (raw)")
	}
	p(", %d subscribers on %d channels", r.Subscribers, r.Channels)
	if r.Messages > 0 {
		p(", %d messages of %d bytes", r.Messages, r.Size)
	}
	p("\n  connect:    %d/%d in %.0f ms (%.0f/s)", r.Connected, r.Subscribers, r.ConnectMS, r.ConnectsPerS)
	if r.ServerRSSKBPerConn != nil {
		p("; server RSS %d -> %d kB, %.1f kB per connection", *r.ServerRSSBeforeKB, *r.ServerRSSConnectedKB, *r.ServerRSSKBPerConn)
	}
	if r.ServerCPUConnectS != nil {
		p("\n              CPU: server %.2f s (%.1f µs per connection), bench %.2f s",
			*r.ServerCPUConnectS, deref(r.ServerCPUUsPerConnect), deref(r.BenchCPUConnectS))
	}
	if r.Messages > 0 {
		p("\n  publish:    %d in %.3f s: %.0f/s (%d publishers", r.Published, r.PublishS, r.PublishesPerS, r.Publishers)
		if r.Stream {
			p(", over publish streams")
		}
		if r.Batch > 1 {
			p(", batches of %d", r.Batch)
		}
		if r.Rate > 0 {
			p(", rate %.0f/s", r.Rate)
		}
		p(")")
		if r.PublishErrors > 0 {
			p(", %d errors: %s", r.PublishErrors, r.Error)
		}
		p("\n  deliver:    %d/%d in %.3f s: %.0f/s", r.Deliveries, r.ExpectedDeliveries, r.DeliverS, r.DeliveriesPerS)
		if l := r.LatencyMS; l != nil {
			p("\n  latency:    p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms", l.P50, l.P90, l.P99, l.Max)
		}
		p("\n  errors:     lost %d, duplicated %d, out of order %d, bad payloads %d (gaps %d, ended %d, reconnects %d)",
			r.Lost, r.Duplicated, r.OutOfOrder, r.BadPayloads, r.Gaps, r.Ended, r.Reconnects)
		if r.ServerCPUS != nil {
			p("\n  server CPU: %.2f s (%.2f s user): %.2f µs per delivery, %.1f µs per publish", *r.ServerCPUS, deref(r.ServerCPUUserS), deref(r.ServerCPUUsPerDelivery), deref(r.ServerCPUUsPerPublish))
		}
		if r.BenchCPUS != nil {
			p("\n  bench CPU:  %.2f s: %.2f µs per delivery", *r.BenchCPUS, deref(r.BenchCPUUsPerDelivery))
		}
		if r.HostStealPct != nil {
			p("\n  machine:    %.1f%% of the processors' time stolen by the host", *r.HostStealPct)
		}
	}
	if len(r.Servers) > 1 {
		for _, s := range r.Servers {
			p("\n  %s: %d/%d subscribers, %d deliveries, %d publications", s.URL, s.Connected, s.Subscribers, s.Deliveries, s.Published)
			if s.CPUS != nil {
				p("; CPU %.2f s (%.2f µs per delivery, %.1f µs per publish)", *s.CPUS, deref(s.CPUUsPerDelivery), deref(s.CPUUsPerPublish))
			}
		}
	}
	if r.BenchRSSPeakKB != nil {
		p("\n  bench RSS:  peak %d kB", *r.BenchRSSPeakKB)
	}
	switch {
	case r.TimedOut:
		p("\n  stopped by the timeout")
	case r.QuietEnd:
		p("\n  stopped: nothing delivered for a while after the last publication")
	}
	if r.OK() {
		p("\n  OK\n")
	} else {
		p("\n  FAILED\n")
	}
	_, _ = io.WriteString(w, b.String())
}

func deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}

func ptr[T any](v T) *T { return &v }

// round rounds x to d decimals, for readable JSON.
func round(x float64, d int) float64 {
	p := math.Pow10(d)
	return math.Round(x*p) / p
}
