package halley

import (
	"sync/atomic"
	"time"
)

// pacer spaces a stream's writes by at least Config.WriteDelay: a stream
// that has something to write less than that after its last write waits
// for the rest of it, gathering what comes meanwhile into one write; a
// stream whose last write is older writes at once. A stream that writes
// at once (it is not busy) waits only when it has something to write: it
// blocks on its waiter with no timer running. A busy stream (its write
// had to wait) rests the delay right after each write, as a timer would:
// what comes meanwhile piles up without waking it, and it is written in
// one go when the rest ends. With no delay it never waits.
type pacer struct {
	delay  time.Duration
	timer  *time.Timer
	last   time.Time // the last write
	busy   bool      // the last write had to wait: rest after the next
	rested bool      // the stream rested since its last write
	counts *writeCounts
}

func newPacer(delay time.Duration, counts *writeCounts) *pacer {
	return &pacer{delay: delay, counts: counts}
}

// wrote records a write; a busy stream then rests the delay.
func (p *pacer) wrote() {
	if p.delay <= 0 {
		return
	}
	p.last = time.Now()
	if p.busy {
		p.sleep(p.delay)
		p.rested = true
	}
}

// idle records that the stream found nothing to write: it will block on
// its waiter.
func (p *pacer) idle() { p.rested = false }

// hold is called with something to write: it waits until the delay since
// the last write has passed, and reports whether it waited (the caller
// then looks for what came meanwhile, to write it too).
func (p *pacer) hold() bool {
	if p.rested {
		// Found after the rest that followed the last write: gathered.
		p.rested = false
		p.counts.gathered.Add(1)
		return false
	}
	var wait time.Duration
	if p.delay > 0 {
		wait = time.Until(p.last.Add(p.delay))
	}
	p.busy = wait > 0
	if !p.busy {
		p.counts.atOnce.Add(1)
		return false
	}
	p.counts.gathered.Add(1)
	p.sleep(wait)
	return true
}

// sleep waits d, on a timer made at the first wait (an idle stream holds
// none).
func (p *pacer) sleep(d time.Duration) {
	if p.timer == nil {
		p.timer = time.NewTimer(d)
	} else {
		p.timer.Reset(d)
	}
	<-p.timer.C
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
	// AtOnce counts the writes made as soon as a stream had something to
	// write (all of them without a delay).
	AtOnce uint64
	// Gathered counts the writes that carry what piled up while the
	// stream was behind: several messages written by the hub's writers,
	// or a write that waited for the rest of the write delay. Many mean
	// busy streams (a high message rate, a loaded server or slow
	// clients), each of which then rests Config.WriteDelay after its
	// write.
	Gathered uint64
}

// WriteCounts returns the counts of the streams' writes.
func (h *Hub) WriteCounts() WriteCounts {
	return WriteCounts{AtOnce: h.writes.atOnce.Load(), Gathered: h.writes.gathered.Load()}
}
