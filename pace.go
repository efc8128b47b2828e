package halley

import (
	"sync/atomic"
	"time"
)

// pacer spaces a stream's writes by Config.WriteDelay, only while the
// server or the stream is behind. A stream woken for one message writes
// it at once: a message costs no latency while the server keeps up. The
// server is behind when a stream wakes to several messages, or runs more
// than a tenth of the delay after its wake (it waited to run: the server
// has more to send than it writes), and stays so for a delay after the
// last time one did; a
// stream is behind when it finds more right after a write (they came
// during the write: a slow peer, or a busy server). Then a stream waits
// for the rest of the delay since its last write, gathering what comes
// meanwhile into one write: the more a server is behind, the more each
// write carries. A stream whose last write is older than the delay never
// waits, and with no delay none does.
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

// gather is called before a write of what a stream found: n messages,
// right after its previous write (afterWrite), or after it waited lag
// from its wake to running. It reports whether the stream waited for the
// rest of the delay, and should then look for more before writing.
//
// A stream that wakes to several messages, or ran more than a tenth of
// the delay after its wake, waited to run while others wrote: the
// server is behind, not only this stream, so it tells the others
// (writeCounts.backlogAt), and for the next delay every stream gathers.
// A stream that finds more right after its write may only have a slow
// peer: it gathers alone.
func (p *pacer) gather(n int, afterWrite bool, lag time.Duration) bool {
	var wait time.Duration
	if p.delay > 0 {
		now := time.Now()
		behind := afterWrite
		if !afterWrite && (n > 1 || lag > p.delay/10) {
			behind = true
			if t := now.UnixNano(); t-p.counts.backlogAt.Load() > int64(p.delay/4) {
				p.counts.backlogAt.Store(t)
			}
		} else if now.UnixNano()-p.counts.backlogAt.Load() < int64(p.delay) {
			behind = true
		}
		if behind {
			wait = p.last.Add(p.delay).Sub(now)
		}
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
	// backlogAt is when a stream last woke to several messages (unix
	// nanoseconds): the server was behind then.
	backlogAt atomic.Int64
}

// WriteCounts counts the writes of messages of the hub's streams (SSE and
// WebSocket) since it started. See Config.WriteDelay.
type WriteCounts struct {
	// AtOnce counts the writes made as soon as a stream found what it
	// wrote (all of them without a write delay).
	AtOnce uint64
	// Gathered counts the writes made after waiting for the rest of the
	// write delay since the stream's last write, to send everything in
	// one write: the server was behind, or the stream found more right
	// after its previous write.
	Gathered uint64
}

// WriteCounts returns the counts of the streams' writes.
func (h *Hub) WriteCounts() WriteCounts {
	return WriteCounts{AtOnce: h.writes.atOnce.Load(), Gathered: h.writes.gathered.Load()}
}
