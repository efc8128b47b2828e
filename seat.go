package halley

import "sync"

// A seat is one session's queue of a session-scope bus (Eliom's
// Client_process bus): the messages of the bus's one shared ring that the
// session has not taken yet, at most the bus's size of them. It holds no
// messages of its own, only the session's position: a publish costs the
// same for any number of sessions, and a session that falls more than the
// bound behind finds its queue dead (as Eliom's does) when it next reads.
type seat struct {
	mu    sync.Mutex
	acked uint64 // the session has everything up to here for good
	epoch string // the life of the bus's stream acked belongs to
	dead  bool
}

// seatOf returns session s's seat of the bus, made on first use at the
// bus's current end (the queue starts when the session first reads it).
// It reports false when the bus is closed.
func (b *Bus) seatOf(s *Session) (*seat, bool) {
	b.mu.Lock()
	if b.seats == nil {
		b.mu.Unlock()
		return nil, false
	}
	if st, ok := b.seats[s]; ok {
		b.mu.Unlock()
		return st, true
	}
	c := b.ch
	c.mu.RLock()
	st := &seat{acked: c.ring.Top(), epoch: c.epoch}
	c.mu.RUnlock()
	b.seats[s] = st
	b.mu.Unlock()
	s.whenClosed(func() { b.dropSeat(s) })
	return st, true
}

func (b *Bus) dropSeat(s *Session) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.seats, s)
}

// seats returns how many sessions have a seat (tests).
func (b *Bus) seatCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.seats)
}

// collect is collectLocked for a reader of the seat: it acknowledges what
// the reader has (everything up to after), finds the queue dead when the
// session fell more than the bus's size behind (or the messages it had not
// taken were dropped), and appends what follows after. The caller holds
// st.mu and the channel's read lock.
func (st *seat) collectLocked(c *Channel, dst []*message, after uint64, max int) ([]*message, error) {
	if st.epoch != c.epoch {
		// The stream lost its history: the queue starts again with what
		// is retained.
		st.epoch = c.epoch
		st.acked = c.ring.First() - 1
	}
	top := c.ring.Top()
	if !st.dead && (top-st.acked > uint64(c.size) || st.acked+1 < c.ring.First()) {
		st.dead = true
	}
	if st.dead {
		return dst, errQueueDead
	}
	if after > st.acked {
		st.acked = min(after, top)
	}
	n := len(dst)
	dst, lost := c.ring.AppendSince(dst, after, max)
	if lost {
		return dst, &GapError{Channel: c.id, Resume: c.ring.First() - 1}
	}
	if len(dst) == n && c.closed {
		return dst, ErrChannelClosed
	}
	return dst, nil
}

// start returns where a subscription to the seat without a position
// begins: after what the session already took, or its last n messages.
func (st *seat) start(c *Channel, last int) uint64 {
	st.mu.Lock()
	defer st.mu.Unlock()
	c.mu.RLock()
	defer c.mu.RUnlock()
	if last > 0 {
		top := c.ring.Top()
		return max(top-min(uint64(last), top), st.acked, c.ring.First()-1)
	}
	return st.acked
}

// ack records that the session has everything up to off (a legacy comet
// answer counts as read once written).
func (st *seat) ack(off uint64) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.acked = max(st.acked, off)
}
