package halley

import (
	"net/http"
	"sync/atomic"
	"time"
)

// Transports, as Stats and Event name them.
const (
	TransportComet = "comet"
	TransportPoll  = "poll"
	TransportSSE   = "sse"
	TransportWS    = "ws"
)

var transportNames = [...]string{TransportComet, TransportPoll, TransportSSE, TransportWS}

// LatencyBounds are the upper bounds, in seconds, of the buckets of
// Stats.WriteLatency.
var LatencyBounds = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// gapReasons and endReasons are the reasons of the gap and ended frames,
// a fixed set, so that counting them is an index.
var (
	gapReasons = [...]string{reasonChannelFull, reasonUnknownPosition}
	endReasons = [...]string{reasonChannelFull, reasonChannelEnded, reasonUnknownChannel, reasonForbidden}
)

// stats are the hub's counters: atomics only, so that counting costs the
// hot path one uncontended-in-the-common-case add per batch, never a lock.
// Each transport counts once per batch it writes, not per message.
type stats struct {
	conns        [len(transportNames)]atomic.Int64
	published    atomic.Uint64
	delivered    atomic.Uint64
	bytesWritten atomic.Uint64
	gaps         [len(gapReasons)]atomic.Uint64
	ends         [len(endReasons)]atomic.Uint64
	slowClients  atomic.Uint64
	latency      histogram
}

// histogram counts durations in the buckets of LatencyBounds, plus one
// for what is above them.
type histogram struct {
	counts [15]atomic.Uint64 // len(LatencyBounds)+1
	sum    atomic.Int64      // nanoseconds
}

func (hg *histogram) observe(d time.Duration) {
	s := d.Seconds()
	i := 0
	for i < len(LatencyBounds) && s > LatencyBounds[i] {
		i++
	}
	hg.counts[i].Add(1)
	hg.sum.Add(int64(d))
}

// Histogram is a snapshot of a distribution of durations, as Prometheus
// histograms have them: Counts[i] is the number of observations at most
// Bounds[i] seconds (cumulative), Count all of them, Sum their total in
// seconds.
type Histogram struct {
	Bounds []float64
	Counts []uint64
	Count  uint64
	Sum    float64
}

func (hg *histogram) snapshot() Histogram {
	out := Histogram{Bounds: LatencyBounds, Counts: make([]uint64, len(LatencyBounds))}
	for i := range hg.counts {
		out.Count += hg.counts[i].Load()
		if i < len(LatencyBounds) {
			out.Counts[i] = out.Count
		}
	}
	out.Sum = time.Duration(hg.sum.Load()).Seconds()
	return out
}

// Stats is a snapshot of what the hub has done since it started, and of
// what it holds now: what a metrics exporter (package metrics) or an
// admin page reads. Taking one costs a few atomic loads and a walk of the
// channel registry under its read lock; the hot path only adds.
type Stats struct {
	// Connections are the client connections (streams and waiting
	// polls) open now, by transport: "comet", "poll", "sse", "ws".
	Connections map[string]int64
	// Sessions is the number of live sessions.
	Sessions int
	// Channels counts the live channels by kind ("broadcast",
	// "newest", "session", "lazy"), buses among the broadcast ones; the
	// hub's internal rings are not counted.
	Channels map[string]int
	// Published counts the messages written to channels on this node
	// (by server code, the HTTP API or clients writing to buses).
	Published uint64
	// Delivered counts the messages taken for writing to a client
	// connection, over all transports: one message read by ten
	// connections counts ten.
	Delivered uint64
	// BytesWritten counts the bytes the transports wrote to clients
	// (bodies and frames, not HTTP headers).
	BytesWritten uint64
	// Gaps counts the gaps told to clients, by reason
	// ("channel_full", "unknown_position"); Ends the ended frames of the
	// Halley protocol, by reason ("channel_full": a dead session queue;
	// "channel_ended"; "unknown_channel"; "forbidden").
	Gaps map[string]uint64
	Ends map[string]uint64
	// SlowClients counts the connections cut off because their socket
	// took no data for Config.WriteTimeout.
	SlowClients uint64
	// Refusals is Hub.Refusals.
	Refusals map[string]uint64
	// WriteLatency is the time from a message's arrival at the hub (its
	// publication, or its delivery by the broker from another node) to
	// its being taken for the write that carries it to a client (a
	// stream's pacing, Config.WriteDelay, included): for each batch, the
	// age of its oldest message.
	WriteLatency Histogram
}

// Stats returns a snapshot of the hub's counters and gauges.
func (h *Hub) Stats() Stats {
	st := &h.stats
	out := Stats{
		Connections:  make(map[string]int64, len(transportNames)),
		Sessions:     h.SessionCount(),
		Channels:     map[string]int{"broadcast": 0, "newest": 0, "session": 0, "lazy": 0},
		Published:    st.published.Load(),
		Delivered:    st.delivered.Load(),
		BytesWritten: st.bytesWritten.Load(),
		Gaps:         make(map[string]uint64, len(gapReasons)),
		Ends:         make(map[string]uint64, len(endReasons)),
		SlowClients:  st.slowClients.Load(),
		Refusals:     h.Refusals(),
		WriteLatency: st.latency.snapshot(),
	}
	for i, name := range transportNames {
		out.Connections[name] = st.conns[i].Load()
	}
	for i, r := range gapReasons {
		out.Gaps[r] = st.gaps[i].Load()
	}
	for i, r := range endReasons {
		out.Ends[r] = st.ends[i].Load()
	}
	h.mu.RLock()
	for _, c := range h.channels {
		if !c.internal {
			out.Channels[c.kind.String()]++
		}
	}
	h.mu.RUnlock()
	return out
}

// transportIndex returns the index of a transport in transportNames.
func transportIndex(name string) int {
	for i, n := range transportNames {
		if n == name {
			return i
		}
	}
	return 0
}

// connOpened counts a client connection of transport, and tells the
// observer. It returns the function that counts its end.
func (h *Hub) connOpened(transport string, s *Session) func() {
	i := transportIndex(transport)
	h.stats.conns[i].Add(1)
	ev := Event{Type: EventConnOpened, Transport: transport}
	if s != nil {
		ev.Session, ev.User = s.id, s.User()
	}
	h.observe(ev)
	return func() {
		h.stats.conns[i].Add(-1)
		ev.Type = EventConnClosed
		h.observe(ev)
	}
}

// visitTransport names the transport of a Halley-protocol request.
func visitTransport(r *http.Request) string {
	switch {
	case r.Method == http.MethodPost:
		return TransportPoll
	case looksLikeWebSocket(r):
		return TransportWS
	}
	return TransportSSE
}

// countGap counts a gap frame of reason.
func (h *Hub) countGap(reason string) {
	for i, r := range gapReasons {
		if r == reason {
			h.stats.gaps[i].Add(1)
			return
		}
	}
}

// countEnd counts an ended frame of reason.
func (h *Hub) countEnd(reason string) {
	for i, r := range endReasons {
		if r == reason {
			h.stats.ends[i].Add(1)
			return
		}
	}
}

// countSlowClient counts a connection cut off as a slow client.
func (h *Hub) countSlowClient() { h.stats.slowClients.Add(1) }

// countPublished counts a message written to a channel.
func (h *Hub) countPublished() { h.stats.published.Add(1) }

// countWrite counts a write to a client of msgs messages in n bytes, the
// oldest of which arrived at the hub at oldest (hubClock time; zero:
// none).
func (h *Hub) countWrite(msgs, n int, oldest int64) {
	if n > 0 {
		h.stats.bytesWritten.Add(uint64(n))
	}
	if msgs > 0 {
		h.stats.delivered.Add(uint64(msgs))
	}
	if oldest != 0 {
		h.stats.latency.observe(time.Duration(hubClock() - oldest))
	}
}

// clockStart is the origin of hubClock.
var clockStart = time.Now()

// hubClock returns monotonic nanoseconds since the process started (never
// zero once a nanosecond has passed): the arrival stamp of messages.
func hubClock() int64 { return int64(time.Since(clockStart)) | 1 }

// EventType says what an Event reports.
type EventType uint8

// Event types.
const (
	// EventConnOpened: a client connection was accepted (a stream, a
	// poll, an Ocsigen comet request).
	EventConnOpened EventType = iota + 1
	// EventConnClosed: that connection ended.
	EventConnClosed
)

// Event is something the hub tells its Observer.
type Event struct {
	Type EventType
	// Transport is "comet", "poll", "sse" or "ws".
	Transport string
	// Session is the connection's session id and User its user, when
	// known (an Ocsigen comet request that names no session has none).
	Session string
	User    string
}

// Observer is told of the hub's events as they happen: a live admin page
// or a presence index builds on it, and package metrics reads Stats
// instead. Observe is called on the goroutine of the connection, once per
// event, so it must be quick and must not block (hand the event to a
// goroutine of its own if it has work to do); it may be called
// concurrently. A connection's EventConnClosed always follows its
// EventConnOpened.
type Observer interface {
	Observe(Event)
}

func (h *Hub) observe(ev Event) {
	if o := h.cfg.Observer; o != nil {
		o.Observe(ev)
	}
}

// pulled is what a stream took for writing in one pull: the number of
// messages and the arrival of the oldest.
type pulled struct {
	msgs   int
	oldest int64
}

func (p *pulled) add(msgs []*message) {
	if len(msgs) == 0 {
		return
	}
	p.msgs += len(msgs)
	if at := msgs[0].at; at != 0 && (p.oldest == 0 || at < p.oldest) {
		p.oldest = at
	}
}

// wrote counts n bytes handed to the stream's connection (counted before
// the write, so that a client that has them finds them counted).
func (st *stream) wrote(n int) {
	if n > 0 {
		st.h.stats.bytesWritten.Add(uint64(n))
	}
}

// countPulled counts the messages a pull took for writing as delivered,
// and their latency: a stream writes what it pulled at once (its pacing
// waits before the pull, so the latency includes it).
func (st *stream) countPulled() {
	if st.pulled.msgs > 0 {
		st.h.countWrite(st.pulled.msgs, 0, st.pulled.oldest)
		st.pulled = pulled{}
	}
}

// countComet counts an Ocsigen comet answer: its messages and ended
// channels.
func (h *Hub) countComet(batch []*message, ended []string) {
	n := len(batch) + len(ended) - 1 // separators
	var oldest int64
	for _, m := range batch {
		n += len(m.cometLoaded())
		if m.at != 0 && (oldest == 0 || m.at < oldest) {
			oldest = m.at
		}
	}
	for _, id := range ended {
		n += len(id) + len(":ENDED_CHANNEL")
	}
	h.countWrite(len(batch), max(0, n), oldest)
}

// clip bounds a client-given string written to the log.
func clip(s string) string {
	const n = 200
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
