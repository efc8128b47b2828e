package bench

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
)

// Case is one of the standard runs: a name and the shape of its load.
type Case struct {
	// Name identifies the case (RunCases' only, halley bench --only).
	Name string
	// About says what the case measures, for the table's readers.
	About string
	// Subscribers, Channels, Messages and Rate are those of Config.
	Subscribers int
	Channels    int
	Messages    int
	Rate        float64
	// Stream is Config.Stream: publish over publish streams.
	Stream bool
}

// Cases returns the standard cases of the performance work (issue 9), in
// the order RunCases runs them.
func Cases() []Case {
	return []Case{
		{Name: "fanout-1k", About: "1 000 subscribers x 1 000 messages, as fast as possible",
			Subscribers: 1000, Channels: 1, Messages: 1000},
		{Name: "paced-1k", About: "50 messages/s to 1 000 subscribers, 10 s (nothing to gather)",
			Subscribers: 1000, Channels: 1, Messages: 500, Rate: 50},
		{Name: "fanout-10k", About: "10 000 subscribers x 200 messages, as fast as possible",
			Subscribers: 10000, Channels: 1, Messages: 200},
		{Name: "fanout-19.5k", About: "19 500 subscribers x 100 messages, as fast as possible (the fd limit is 20 000 here)",
			Subscribers: 19500, Channels: 1, Messages: 100},
		{Name: "publish-2k", About: "2 000 channels x 1 subscriber, 20 000 HTTP publishes",
			Subscribers: 2000, Channels: 2000, Messages: 20000},
		{Name: "stream-2k", About: "the same over publish streams (POST /api/publish/stream)",
			Subscribers: 2000, Channels: 2000, Messages: 20000, Stream: true},
		{Name: "light", About: "100 subscribers, 20 messages/s, 10 s (light load)",
			Subscribers: 100, Channels: 1, Messages: 200, Rate: 20},
	}
}

// CaseNames returns the names of the standard cases.
func CaseNames() []string {
	var names []string
	for _, c := range Cases() {
		names = append(names, c.Name)
	}
	return names
}

// SelectCases returns the standard cases named in names, in the standard
// order; all of them for no names.
func SelectCases(names []string) ([]Case, error) {
	all := Cases()
	if len(names) == 0 {
		return all, nil
	}
	for _, n := range names {
		if !slices.ContainsFunc(all, func(c Case) bool { return c.Name == n }) {
			return nil, fmt.Errorf("%w: no case %q (the cases: %s)", ErrConfig, n, strings.Join(CaseNames(), ", "))
		}
	}
	return slices.DeleteFunc(all, func(c Case) bool { return !slices.Contains(names, c.Name) }), nil
}

// Config returns base with the case's load, its subscribers, channels and
// messages multiplied by scale (each at least 1; scale 0 counts as 1),
// the rate kept: a small scale runs the same shapes quickly.
func (c Case) Config(base Config, scale float64) Config {
	if scale <= 0 {
		scale = 1
	}
	n := func(v int) int { return max(1, int(math.Round(float64(v)*scale))) }
	cfg := base
	cfg.Subscribers = n(c.Subscribers)
	cfg.Channels = min(n(c.Channels), cfg.Subscribers)
	cfg.Messages = n(c.Messages)
	cfg.Rate = c.Rate
	cfg.Stream = c.Stream
	return cfg
}

// RunCases runs cases one after the other against the servers of base,
// whose load fields (Subscribers, Channels, Messages, Rate) it replaces,
// each scaled by scale (see Case.Config). It writes a line to progress
// (nil: nowhere) as each case starts and ends. It returns the results of
// the cases that ran; an error (a server that refused a run) stops it.
func RunCases(ctx context.Context, base Config, cases []Case, scale float64, progress io.Writer) ([]Result, error) {
	if progress == nil {
		progress = io.Discard
	}
	var out []Result
	for _, c := range cases {
		if c.Stream && base.Peer != "" {
			fmt.Fprintf(progress, "bench: case %s: skipped: a peer has no publish stream\n", c.Name)
			continue
		}
		cfg := c.Config(base, scale)
		fmt.Fprintf(progress, "bench: case %s: %d subscribers, %d channels, %d messages", c.Name, cfg.Subscribers, cfg.Channels, cfg.Messages)
		if cfg.Rate > 0 {
			fmt.Fprintf(progress, " at %g/s", cfg.Rate)
		}
		fmt.Fprintln(progress)
		res, err := Run(ctx, cfg, nil)
		res.Case = c.Name
		if err != nil {
			return out, fmt.Errorf("case %s: %w", c.Name, err)
		}
		out = append(out, res)
		state := "OK"
		if !res.OK() {
			state = "FAILED"
		}
		fmt.Fprintf(progress, "bench: case %s: %s\n", c.Name, state)
		if ctx.Err() != nil {
			break
		}
	}
	return out, nil
}

// WriteTable writes one line per result: its case, load, rates, the
// servers' CPU time per delivery and per publication (totals over all
// servers), latencies, the host's steal, and whether it went through.
func WriteTable(w io.Writer, results []Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "case\tsubs\tchannels\tmessages\trate/s\tdeliveries/s\tpublishes/s\tsrv µs/delivery\tsrv µs/publish\tbench µs/delivery\tp50 ms\tp99 ms\tsteal %\tlost/dup/ooo\t")
	for _, r := range results {
		rate := "max"
		if r.Rate > 0 {
			rate = fmt.Sprintf("%g", r.Rate)
		}
		p50, p99 := "-", "-"
		if l := r.LatencyMS; l != nil {
			p50, p99 = fmt.Sprintf("%.2f", l.P50), fmt.Sprintf("%.2f", l.P99)
		}
		state := fmt.Sprintf("%d/%d/%d", r.Lost, r.Duplicated, r.OutOfOrder)
		if !r.OK() {
			state += " FAILED"
		}
		steal := "-"
		if r.HostStealPct != nil {
			steal = fmt.Sprintf("%.1f", *r.HostStealPct)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%.0f\t%.0f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n",
			r.Case, r.Subscribers, r.Channels, r.Messages, rate, r.DeliveriesPerS, r.PublishesPerS,
			optional(r.ServerCPUUsPerDelivery), optional(r.ServerCPUUsPerPublish), optional(r.BenchCPUUsPerDelivery),
			p50, p99, steal, state)
	}
	return tw.Flush()
}

// optional formats a figure that may be unknown.
func optional(v *float64) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf("%.2f", *v)
}
