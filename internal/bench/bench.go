// Package bench is the load generator of "halley bench": it connects many
// subscribers (Go clients) to a Halley server on the same machine,
// publishes through the server's HTTP API, and measures connection time,
// throughput, delivery latency, losses, and the server's CPU time and
// memory.
//
// Use Run with a Config; it returns a Result.
//
// # Cost
//
// The bench shares the machine with the server, so it keeps to what the
// client library costs: its own work per delivery is a payload scan
// without allocation, two atomic additions and a clock read; latencies go
// to a fixed-size histogram. Result reports its CPU time beside the
// server's.
package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/halleyhq/halley/client"
)

// eventBuffer is the capacity of each subscriber's Events channel: small,
// since the subscriber reads it at once and thousands of them exist.
const eventBuffer = 64

// cleanupTimeout bounds the deletion of the channels at the end.
const cleanupTimeout = 10 * time.Second

// Run runs the benchmark cfg describes and returns its figures. It writes
// a progress line to progress (nil: nowhere) every second. It returns an
// error, wrapping ErrConfig for a bad cfg, when the run could not take
// place: the channels could not be made, a subscriber was refused. Losses
// and timeouts are figures of the Result, not errors. Run stops
// everything it started before it returns, within cfg.Timeout plus a few
// seconds of clean-up.
func Run(ctx context.Context, cfg Config, progress io.Writer) (Result, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return Result{}, err
	}
	if progress == nil {
		progress = io.Discard
	}
	r := &runner{
		cfg:          cfg,
		out:          &lockedWriter{w: progress},
		hist:         new(hist),
		allConnected: make(chan struct{}),
		allDone:      make(chan struct{}),
		failed:       make(chan error, 1),
	}
	for _, pid := range cfg.ServerPIDs {
		if _, err := procCPU(pid); err != nil {
			return Result{}, fmt.Errorf("%w: server pid %d: %v", ErrConfig, pid, err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	return r.run(ctx)
}

// runner is one run.
type runner struct {
	cfg Config
	out io.Writer
	// lanes is the number of publishers whose messages a channel gets:
	// the k-th message of a channel (its seq) is message
	// i = (k-1)·Channels + c, published by publisher i % Publishers, so
	// the lane of seq k is (k-1) % lanes, and a lane's seqs go up by
	// lanes.
	lanes uint64
	log   *slog.Logger
	apis  []*client.API // one per server
	ids   []string
	subs  []*subscriber
	addrs *spread // the subscribers' local addresses
	// poller reads raw subscribers' sockets (Config.Raw, on Linux).
	poller *rawPoller
	sem    chan struct{}
	hist   *hist

	connected    atomic.Int64
	allConnected chan struct{}
	remaining    atomic.Int64 // subscribers still waiting for messages
	allDone      chan struct{}
	delivered    atomic.Uint64
	published    atomic.Int64
	pubPer       []atomic.Int64 // publications accepted, per server
	pubErrors    atomic.Int64
	failed       chan error // the first subscriber refused for good

	pubStart time.Time
	errMu    sync.Mutex
	firstErr string
}

// perChannel returns the number of messages channel c gets.
func (r *runner) perChannel(c int) uint64 {
	m, n := r.cfg.Messages, r.cfg.Channels
	k := m / n
	if c < m%n {
		k++
	}
	return uint64(k)
}

func (r *runner) run(ctx context.Context) (res Result, err error) {
	cfg := r.cfg
	res = Result{
		Transport:   string(cfg.Transport),
		Subscribers: cfg.Subscribers,
		Channels:    cfg.Channels,
		Messages:    cfg.Messages,
		Size:        cfg.Size,
		Rate:        cfg.Rate,
		Publishers:  cfg.Publishers,
		Batch:       cfg.Batch,
		Stream:      cfg.Stream,
		Raw:         cfg.Raw,
		Peer:        cfg.Peer,
	}
	r.log = slog.New(slog.NewTextHandler(r.out, &slog.HandlerOptions{Level: slog.LevelWarn}))
	// The publishers' connections are kept alive: every publisher has
	// one to each server, reused from one publication to the next.
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
		MaxIdleConnsPerHost: cfg.Publishers + 4,
		IdleConnTimeout:     90 * time.Second,
	}
	defer tr.CloseIdleConnections()
	for _, srv := range cfg.Servers {
		r.apis = append(r.apis, &client.API{URL: srv, Key: cfg.APIKey, HTTPClient: &http.Client{Transport: tr}})
	}
	r.pubPer = make([]atomic.Int64, len(cfg.Servers))

	// Set-up: the channels, deleted at the end whatever happens.
	if cfg.Peer != "" {
		r.peerChannels()
	} else {
		created, err := r.createChannels(ctx)
		defer r.deleteChannels(ctx, created)
		if err != nil {
			return res, err
		}
	}
	r.lanes = uint64(cfg.Publishers / gcd(cfg.Publishers, cfg.Channels))
	for j := range cfg.Subscribers {
		s := &subscriber{id: j, channel: j % cfg.Channels}
		s.want = r.perChannel(s.channel)
		if cfg.Messages > 0 {
			s.next = make([]uint64, r.lanes)
			s.resync = make([]bool, r.lanes)
			for l := range s.next {
				s.next[l] = uint64(l) + 1
			}
		}
		res.ExpectedDeliveries += s.want
		if s.want > 0 {
			r.remaining.Add(1)
		}
		r.subs = append(r.subs, s)
	}
	if cfg.Messages == 0 {
		res.ExpectedDeliveries = 0
	}

	// Each subscriber holds a socket: warn when they cannot all be open.
	if l := fdLimit(); l > 0 && uint64(cfg.Subscribers)+64 > l {
		fmt.Fprintf(r.out, "bench: warning: %d subscribers need as many open files, and the limit is %d\n", cfg.Subscribers, l)
	}

	start := time.Now()
	stopProgress := r.startProgress(start, res.ExpectedDeliveries)
	defer stopProgress()

	// The subscribers run under subCtx until stopSubs, which waits for
	// them; their counters are read after that.
	subCtx, cancelSubs := context.WithCancel(ctx)
	var wg sync.WaitGroup
	r.addrs = newSpread(cfg.Servers, cfg.Subscribers)
	if cfg.Raw && rawPolling {
		if r.poller, err = newRawPoller(r.fail, &wg); err != nil {
			cancelSubs()
			return res, err
		}
		context.AfterFunc(subCtx, r.poller.close)
	}
	stopSubs := sync.OnceFunc(func() {
		cancelSubs()
		wg.Wait()
		r.addrs.close()
	})
	defer stopSubs()

	// Connection.
	rss0 := r.readRSS()
	cpu0 := r.readCPU()
	t0 := time.Now()
	if err := r.connect(ctx, subCtx, &wg); err != nil {
		return res, err
	}
	connectTime := time.Since(t0)
	res.ConnectMS = round(float64(connectTime)/1e6, 1)
	res.Connected = int(r.connected.Load())
	if res.Connected > 0 && connectTime > 0 {
		res.ConnectsPerS = round(float64(res.Connected)/connectTime.Seconds(), 1)
	}
	rss1 := r.readRSS()
	cpu1 := r.readCPU()
	if cpu0.benchOK && cpu1.benchOK {
		res.BenchCPUConnectS = ptr(round((cpu1.bench - cpu0.bench).Seconds(), 2))
	}
	res.TimedOut = ctx.Err() != nil

	// Publication and delivery.
	var cpu2 cpu
	if cfg.Messages > 0 && !res.TimedOut {
		var pubEnd time.Time
		pubEnd, res.QuietEnd, err = r.publishAll(ctx)
		if err != nil {
			return res, err
		}
		cpu2 = r.readCPU()
		res.TimedOut = ctx.Err() != nil
		res.Published = int(r.published.Load())
		res.PublishErrors = int(r.pubErrors.Load())
		res.Error = r.firstErr
		if !pubEnd.IsZero() {
			res.PublishS = round(pubEnd.Sub(r.pubStart).Seconds(), 3)
			if d := pubEnd.Sub(r.pubStart).Seconds(); d > 0 {
				res.PublishesPerS = round(float64(res.Published)/d, 1)
			}
		}
	}
	rss2 := r.readRSS()
	stopSubs()
	stopProgress()

	// The figures.
	var last, maxLat int64
	for _, s := range r.subs {
		res.Deliveries += s.deliveries
		res.Duplicated += s.dup
		res.OutOfOrder += s.ooo
		res.BadPayloads += s.bad
		res.Gaps += s.gaps
		res.Ended += s.ended
		res.Reconnects += s.closes
		if cfg.Messages > 0 && s.got < s.want {
			res.Lost += s.want - s.got
		}
		last = max(last, s.last)
		maxLat = max(maxLat, s.maxLat)
	}
	if res.Deliveries > 0 {
		d := time.Unix(0, last).Sub(r.pubStart).Seconds()
		res.DeliverS = round(d, 3)
		if d > 0 {
			res.DeliveriesPerS = round(float64(res.Deliveries)/d, 1)
		}
		q := r.hist.Quantiles(0.50, 0.90, 0.99)
		ms := func(ns int64) float64 { return round(float64(ns)/1e6, 3) }
		res.LatencyMS = &Latency{P50: ms(q[0]), P90: ms(q[1]), P99: ms(q[2]), Max: ms(maxLat)}
	}
	// Each server's figures, then the totals.
	n := len(cfg.Servers)
	per := make([]ServerResult, n)
	for k := range per {
		per[k].URL = cfg.Servers[k]
		if len(cfg.ServerPIDs) > 0 {
			per[k].PID = cfg.ServerPIDs[k]
		}
		per[k].Published = int(r.pubPer[k].Load())
	}
	for _, s := range r.subs {
		k := s.id % n
		per[k].Subscribers++
		if s.connected {
			per[k].Connected++
		}
		per[k].Deliveries += s.deliveries
	}
	total := ServerResult{Subscribers: cfg.Subscribers, Connected: res.Connected, Deliveries: res.Deliveries, Published: res.Published}
	for k := -1; k < n; k++ {
		f := &total
		if k >= 0 {
			f = &per[k]
		}
		if cpu0.serverOK && cpu1.serverOK {
			s := serverSince(cpu0, cpu1, k).Seconds()
			f.CPUConnectS = ptr(round(s, 2))
			if f.Connected > 0 {
				f.CPUUsPerConnect = ptr(round(s*1e6/float64(f.Connected), 2))
			}
		}
		if cfg.Messages > 0 && cpu1.serverOK && cpu2.serverOK {
			s := serverSince(cpu1, cpu2, k).Seconds()
			f.CPUS = ptr(round(s, 2))
			f.CPUUserS = ptr(round(userSince(cpu1, cpu2, k).Seconds(), 2))
			// Per server, a delivery is one to that server's
			// subscribers; a publication one made through it.
			if f.Deliveries > 0 {
				f.CPUUsPerDelivery = ptr(round(s*1e6/float64(f.Deliveries), 2))
			}
			if f.Published > 0 {
				f.CPUUsPerPublish = ptr(round(s*1e6/float64(f.Published), 2))
			}
		}
		if rss0 != nil && rss1 != nil {
			if k >= 0 {
				f.RSSBeforeKB, f.RSSConnectedKB = &rss0[k], &rss1[k]
				if rss2 != nil {
					f.RSSEndKB = &rss2[k]
				}
			} else {
				f.RSSBeforeKB, f.RSSConnectedKB, f.RSSEndKB = sumKB(rss0), sumKB(rss1), sumKB(rss2)
			}
			if f.Connected > 0 {
				f.RSSKBPerConn = ptr(round(float64(*f.RSSConnectedKB-*f.RSSBeforeKB)/float64(f.Connected), 1))
			}
		}
	}
	res.ServerCPUConnectS, res.ServerCPUUsPerConnect = total.CPUConnectS, total.CPUUsPerConnect
	res.ServerCPUS, res.ServerCPUUsPerDelivery, res.ServerCPUUsPerPublish = total.CPUS, total.CPUUsPerDelivery, total.CPUUsPerPublish
	res.ServerCPUUserS = total.CPUUserS
	res.ServerRSSBeforeKB, res.ServerRSSConnectedKB, res.ServerRSSEndKB = total.RSSBeforeKB, total.RSSConnectedKB, total.RSSEndKB
	res.ServerRSSKBPerConn = total.RSSKBPerConn
	res.Servers = per
	if cfg.Messages > 0 {
		res.HostStealPct = stealPct(cpu1, cpu2)
	}
	if cfg.Messages > 0 && cpu1.benchOK && cpu2.benchOK {
		s := (cpu2.bench - cpu1.bench).Seconds()
		res.BenchCPUS = ptr(round(s, 2))
		if res.Deliveries > 0 {
			res.BenchCPUUsPerDelivery = ptr(round(s*1e6/float64(res.Deliveries), 2))
		}
	}
	if kb, err := procStatusKB(os.Getpid(), "VmHWM"); err == nil {
		res.BenchRSSPeakKB = &kb
	}
	return res, nil
}

// createChannels makes the broadcast channels, by name, with rings that
// hold every message of the run, and returns the ids made on each server.
// Several servers are nodes of one cluster: channel i is made through
// server i % servers and exists on all of them.
func (r *runner) createChannels(ctx context.Context) ([][]string, error) {
	cfg := r.cfg
	size := max(1000, cfg.Messages/cfg.Channels+100)
	prefix := "bench-" + strconv.FormatUint(rand.Uint64()>>1, 36) + "-"
	n := len(r.apis)
	r.ids = make([]string, cfg.Channels)
	for i := range r.ids {
		r.ids[i] = prefix + strconv.Itoa(i)
	}
	ok := make([]bool, cfg.Channels)
	err := parallel(ctx, cfg.Channels, cfg.Publishers, func(ctx context.Context, i int) error {
		k := i % n
		id, err := r.apis[k].CreateChannel(ctx, r.ids[i], "broadcast", size)
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		ok[i] = true
		if id != r.ids[i] {
			return fmt.Errorf("bench: server %s made channel %q as %q", cfg.Servers[k], r.ids[i], id)
		}
		return nil
	})
	created := make([][]string, n)
	for i, done := range ok {
		if done {
			created[i%n] = append(created[i%n], r.ids[i])
		}
	}
	return created, err
}

// deleteChannels deletes the channels made on each server, even when ctx
// is done.
func (r *runner) deleteChannels(ctx context.Context, ids [][]string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	for k, ids := range ids {
		err := parallel(ctx, len(ids), r.cfg.Publishers, func(ctx context.Context, i int) error {
			return r.apis[k].DeleteChannel(ctx, ids[i])
		})
		if err != nil {
			fmt.Fprintf(r.out, "bench: deleting the channels of %s: %v\n", r.cfg.Servers[k], err)
		}
	}
}

// startProgress prints a progress line every second until the returned
// function is called (which may be called again).
func (r *runner) startProgress(start time.Time, expected uint64) func() {
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		var prev uint64
		for {
			select {
			case <-stop:
				return
			case now := <-t.C:
				n := r.delivered.Load()
				fmt.Fprintf(r.out, "bench: %3.0fs connected %d/%d published %d/%d delivered %d/%d (%d/s)\n",
					now.Sub(start).Seconds(), r.connected.Load(), r.cfg.Subscribers,
					r.published.Load(), r.cfg.Messages, n, expected, n-prev)
				prev = n
			}
		}
	}()
	return sync.OnceFunc(func() {
		close(stop)
		<-done
	})
}

// parallel calls f(ctx, i) for i in [0, n) on up to workers goroutines,
// and returns the first error, which stops the others.
func parallel(ctx context.Context, n, workers int, f func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(max(workers, 1), n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := f(ctx, i); err != nil {
					cancel(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// lockedWriter serializes writes.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
