package halley

import (
	"sync/atomic"
	"time"
)

// pacer spaces a stream's writes by Config.WriteDelay, only while the
// stream is behind. A stream woken for one message writes it at once: a
// message costs no latency while the server keeps up. A stream is behind
// when it finds more than one message when it wakes (they piled up while
// it waited to run: the server has more to send than it writes), or finds
// any right after a write, without waiting (they came during the write: a
// slow peer, or a busy server). Then it waits for the rest of the delay
// since its last write, gathering what comes meanwhile into one write:
// the more a server is behind, the more each write carries. A stream
// whose last write is older than the delay never waits, and with no
// delay none does.
type pacer struct {
	delay  time.Duration
	timer  *time.Timer
	last   time.Time // the last write
	counts *writeCounts
}

func newPacer(delay time.Duration, counts *writeCounts) *pacer {
	p := &pacer{delay: delay, counts: counts}
	if delay > 0 {
		p.timer = time.NewTimer(delay)
		p.timer.Stop()
	}
	return p
}

// gather is called before a write of what a stream found; behind tells
// that it found more than one message, or found it right after its
// previous write. It reports whether the stream waited for the rest of
// the delay, and should then look for more before writing.
func (p *pacer) gather(behind bool) bool {
	var wait time.Duration
	if behind && p.delay > 0 {
		wait = time.Until(p.last.Add(p.delay))
	}
	if wait <= 0 {
		// Not behind, or the last write is older than the delay: what
		// is pending goes at once.
		p.counts.atOnce.Add(1)
		return false
	}
	p.counts.gathered.Add(1)
	p.timer.Reset(wait)
	<-p.timer.C
	return true
}

// wrote records a write.
func (p *pacer) wrote() {
	if p.delay > 0 {
		p.last = time.Now()
	}
}

func (p *pacer) stop() {
	if p.timer != nil {
		p.timer.Stop()
	}
}

// writeCounts counts the streams' writes of messages by how they were
// paced.
type writeCounts struct {
	atOnce   atomic.Uint64
	gathered atomic.Uint64
}

// WriteCounts counts the writes of messages of the hub's streams (SSE and
// WebSocket) since it started. See Config.WriteDelay.
type WriteCounts struct {
	// AtOnce counts the writes made as soon as a stream found what it
	// wrote (all of them without a write delay).
	AtOnce uint64
	// Gathered counts the writes of a stream that was behind (it found
	// several messages when it woke, or more right after its previous
	// write) and had written less than the write delay ago: it waited
	// for the rest of the delay, to send everything in one write.
	Gathered uint64
}

// WriteCounts returns the counts of the streams' writes.
func (h *Hub) WriteCounts() WriteCounts {
	return WriteCounts{AtOnce: h.writes.atOnce.Load(), Gathered: h.writes.gathered.Load()}
}
