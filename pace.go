package halley

import (
	"sync/atomic"
	"time"
)

// pacer spaces a stream's writes by Config.WriteDelay, only while the
// stream is behind. A stream that finds messages when it wakes writes them
// at once: a message costs no latency while the server keeps up. After a
// write it looks again without waiting: what it finds then came during
// the write, so the stream is behind (its peer is slow, or the server has
// more to send than it writes), and it waits for the rest of the delay
// since that write, gathering what comes meanwhile into one write. The
// more a server is behind, the more each write carries. With no delay it
// never waits.
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
// that it found it right after its previous write, without waiting. It
// reports whether the stream waited for the rest of the delay, and
// should then look for more before writing.
func (p *pacer) gather(behind bool) bool {
	if !behind || p.delay <= 0 {
		p.counts.atOnce.Add(1)
		return false
	}
	p.counts.gathered.Add(1)
	wait := time.Until(p.last.Add(p.delay))
	if wait <= 0 {
		// Behind by more than the delay already: what is pending goes
		// in this write.
		return false
	}
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
	// AtOnce counts the writes made as soon as a stream was woken (all
	// of them without a write delay).
	AtOnce uint64
	// Gathered counts the writes of a stream that was behind: it found
	// more to send right after its previous write, and waited for the
	// rest of the write delay since then to send it all at once.
	Gathered uint64
}

// WriteCounts returns the counts of the streams' writes.
func (h *Hub) WriteCounts() WriteCounts {
	return WriteCounts{AtOnce: h.writes.atOnce.Load(), Gathered: h.writes.gathered.Load()}
}
