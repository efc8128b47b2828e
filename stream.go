package halley

import (
	"sync"

	"github.com/halleyhq/halley/internal/wire/frame"
)

// Reasons carried by gap, ended and close frames of the Halley protocol.
const (
	reasonChannelFull     = "channel_full"
	reasonUnknownPosition = "unknown_position"
	reasonChannelEnded    = "channel_ended"
	reasonUnknownChannel  = "unknown_channel"
)

// start says where a subscription begins.
type start struct {
	// after, when set, resumes after that offset of epoch (epoch may be
	// empty: trust the offset).
	after *uint64
	epoch string
	// last, when positive, starts with the last n retained messages.
	last int
	// presence asks for the channel's join and leave frames.
	presence bool
}

// streamSub is one channel a stream reads, at its own position.
type streamSub struct {
	// name is the id the client subscribed to (c's id).
	name string
	// fname is name's forms in frames (Channel.frameName).
	fname *frame.Name
	c     *Channel
	// seat, for a session-scope bus, is the session's queue of it.
	seat  *seat
	after uint64
	epoch string
	done  bool
	// presence: the stream gets the channel's joins and leaves.
	presence bool
}

// item is one thing a stream has to send: a message of a subscription, or
// a control frame (gap, ended).
type item struct {
	sub *streamSub
	m   *message
	ctl []byte
}

// stream is the server side of one client connection of the Halley
// protocol (a WebSocket, an SSE response or a long-poll request): the
// channels it reads, each at the client's position, and the waiter that
// wakes it. It is used by one goroutine at a time.
type stream struct {
	h       *Hub
	session *Session // the client's session, when known
	grant   *Grant   // what the client may do (see access.go)
	w       *waiter
	subs    []*streamSub
	gen     uint64 // kill generation when the stream started (see watch)
	watched bool
	pulled  pulled // what was taken since the last write (stats.go)
	// presence asks every subscription for joins and leaves (SSE and
	// long-poll say so once per request); pq holds them (presence.go).
	presence bool
	pq       *presenceQueue
}

// newStream returns a stream of session s with grant g.
func (h *Hub) newStream(s *Session, g *Grant) *stream {
	st := &stream{h: h, w: newWaiter(true), session: s, grant: g}
	st.w.who = memberOf(s, g)
	return st
}

func (st *stream) find(id string) (int, *streamSub) {
	for i, s := range st.subs {
		if s.name == id {
			return i, s
		}
	}
	return -1, nil
}

// subscribe starts reading channel id from the given start and appends the
// subscribed frame (or, for a channel that is not there, an ended frame,
// or a gap frame too when the position is unknown; quiet leaves out the
// subscribed frame, for a client that already knows its position), each
// followed by LF. Subscribing again to a channel moves the position.
func (st *stream) subscribe(dst []byte, id string, from start, quiet bool) []byte {
	c, reason := st.h.resolve(st.session, st.grant, id)
	if c == nil {
		st.h.countEnd(reason)
		return append(frame.AppendEnded(dst, id, reason), '\n')
	}
	sub := &streamSub{name: id, fname: c.frameName(id), c: c}
	if c.bus != nil && c.bus.scope == BusSession && st.session != nil {
		seat, ok := c.bus.seatOf(st.session)
		if !ok {
			return append(frame.AppendEnded(dst, id, reasonChannelEnded), '\n')
		}
		sub.seat = seat
	}
	var gap bool
	var consumedAt uint64
	if sub.seat != nil && from.after == nil {
		consumedAt = sub.seat.start(c, from.last)
	}
	if c.shared && from.after != nil {
		c.catchUp(*from.after, from.epoch)
	}
	c.lockRead()
	top := c.ring.Top()
	sub.epoch = c.epoch
	switch {
	case from.after != nil && ((from.epoch != "" && from.epoch != c.epoch) || *from.after > top):
		// The client's position belongs to another life of the channel
		// (or is beyond its end): resume with everything retained.
		gap = true
		sub.after = c.ring.First() - 1
	case from.after != nil:
		sub.after = *from.after
	case sub.seat != nil:
		sub.after = consumedAt
	case from.last > 0:
		first := c.ring.First()
		if c.consumed() {
			first = max(first, c.acked+1)
		}
		sub.after = max(top-min(uint64(from.last), top), first-1)
	case c.consumed():
		sub.after = c.acked
	default:
		sub.after = top
	}
	kind := c.kind.String()
	c.unlockRead()
	if sub.seat != nil {
		kind = KindSession.String()
	}

	if i, old := st.find(id); old != nil && old.c == c {
		st.unwatchPresence(old)
		st.subs[i] = sub
	} else {
		if old != nil {
			st.drop(old)
			st.subs = append(st.subs[:i], st.subs[i+1:]...)
		}
		if !c.addWaiter(st.w) {
			return append(frame.AppendEnded(dst, id, reasonChannelEnded), '\n')
		}
		st.subs = append(st.subs, sub)
	}
	if from.presence || st.presence {
		st.watchPresence(sub)
	}
	if gap {
		st.h.countGap(reasonUnknownPosition)
		dst = frame.AppendGap(dst, id, reasonUnknownPosition, sub.after, sub.epoch)
		dst = append(dst, '\n')
	}
	if quiet {
		return dst
	}
	return append(frame.AppendSubscribed(dst, id, kind, sub.after, sub.epoch), '\n')
}

// recheck ends the subscriptions the stream's grant no longer allows
// (after a token refresh), appending their ended frames.
func (st *stream) recheck(dst []byte) []byte {
	kept := st.subs[:0]
	for _, sub := range st.subs {
		if sub.c.session != nil || st.h.mayRead(st.grant, sub.name, sub.c) {
			kept = append(kept, sub)
			continue
		}
		st.drop(sub)
		if !sub.done {
			dst = append(frame.AppendEnded(dst, sub.name, reasonForbidden), '\n')
		}
	}
	clear(st.subs[len(kept):])
	st.subs = kept
	return dst
}

// unsubscribe stops reading channel id and appends the unsubscribed frame
// and LF.
func (st *stream) unsubscribe(dst []byte, id string) []byte {
	if i, sub := st.find(id); sub != nil {
		st.drop(sub)
		st.subs = append(st.subs[:i], st.subs[i+1:]...)
	}
	return append(frame.AppendUnsubscribed(dst, id), '\n')
}

// watch makes kills and the hub's shutdown wake the stream, which then
// finds the reason with stopped. Streams call it; long-polls wait on the
// shared signals instead.
func (st *stream) watch(gen uint64) {
	st.gen = gen
	st.watched = true
	st.h.control.watch(st.w)
}

// stopped returns why a watched stream must end ("shutdown",
// "deactivated"), or "".
func (st *stream) stopped() string { return st.h.control.stopReason(st.gen) }

// close stops reading every channel.
func (st *stream) close() {
	if st.watched {
		st.h.control.unwatch(st.w)
		st.watched = false
	}
	for _, sub := range st.subs {
		st.drop(sub)
	}
	st.subs = nil
}

// drop stops reading sub's channel.
func (st *stream) drop(sub *streamSub) {
	st.unwatchPresence(sub)
	sub.c.removeWaiter(st.w)
}

// pull appends what the subscriptions have to send, at most max messages
// per channel, and moves their positions past it. It never blocks; when it
// returns nothing, the caller waits on st.w.wake and pulls again.
func (st *stream) pull(items []item, max int) []item {
	var buf [64]*message
	if st.pq != nil {
		items = st.pullPresence(items)
	}
	for _, sub := range st.subs {
		if sub.done {
			continue
		}
		c := sub.c
		if sub.seat != nil {
			sub.seat.mu.Lock()
		}
		c.lockRead()
		var reset bool
		switch {
		case sub.epoch == "":
			// Subscribed before the channel's first message: its
			// stream's life starts now.
			sub.epoch = c.epoch
		case c.epoch != sub.epoch:
			reset = true
			sub.epoch = c.epoch
			sub.after = c.ring.First() - 1
		}
		msgs, err := sub.collectLocked(buf[:0], min(max, len(buf)))
		var gapAt uint64
		if e, ok := err.(*GapError); ok {
			// Lost messages: say so, then go on with what is retained.
			gapAt = e.Resume
			sub.after = e.Resume
			msgs, err = sub.collectLocked(buf[:0], min(max, len(buf)))
		}
		c.unlockRead()
		if sub.seat != nil {
			sub.seat.mu.Unlock()
		}

		if reset {
			st.h.countGap(reasonUnknownPosition)
			items = append(items, item{sub: sub, ctl: frame.AppendGap(nil, sub.name, reasonUnknownPosition, sub.after, sub.epoch)})
		}
		if gapAt > 0 {
			st.h.countGap(reasonChannelFull)
			sub.after = gapAt
			items = append(items, item{sub: sub, ctl: frame.AppendGap(nil, sub.name, reasonChannelFull, gapAt, sub.epoch)})
		}
		switch err {
		case nil:
		case errQueueDead:
			sub.done = true
			st.h.countEnd(reasonChannelFull)
			items = append(items, item{sub: sub, ctl: frame.AppendEnded(nil, sub.name, reasonChannelFull)})
			c.removeWaiter(st.w)
			continue
		default: // ErrChannelClosed
			sub.done = true
			st.h.countEnd(reasonChannelEnded)
			items = append(items, item{sub: sub, ctl: frame.AppendEnded(nil, sub.name, reasonChannelEnded)})
			c.removeWaiter(st.w)
			continue
		}
		st.pulled.add(msgs)
		for _, m := range msgs {
			items = append(items, item{sub: sub, m: m})
		}
		if len(msgs) > 0 {
			sub.after = msgs[len(msgs)-1].offset
		}
	}
	st.countPulled()
	return items
}

// collectLocked collects what follows the subscription's position, from
// its seat or its channel. The caller holds the seat's lock and the
// channel's read lock.
func (sub *streamSub) collectLocked(dst []*message, max int) ([]*message, error) {
	if sub.seat != nil {
		return sub.seat.collectLocked(sub.c, dst, sub.after, max)
	}
	return sub.c.collectLocked(dst, sub.after, max)
}

// frame returns the shared msg frame of the item's message.
func (it *item) frame() []byte { return it.m.frameOf(it.sub.fname) }

// frameOf returns the shared msg frame of a message of channel n.
func (m *message) frameOf(n *frame.Name) []byte {
	e := m.sharedMade()
	if b := e.frame.load(); b != nil {
		return b
	}
	return e.frame.make(func() []byte {
		return frame.AppendMsgOf(make([]byte, 0, frame.MsgCap(n.ID, m.data)), n, m.offset, m.data, m.json)
	})
}

// cursor appends the text form of the positions of the live
// subscriptions.
func (st *stream) cursor(dst []byte) []byte {
	n := len(dst)
	for _, sub := range st.subs {
		if sub.done {
			continue
		}
		if len(dst) > n {
			dst = append(dst, ',')
		}
		dst = frame.AppendEntryOf(dst, sub.fname, sub.after, sub.epoch)
	}
	return dst
}

// writeBuffers keep the batch buffers of idle streams: a stream takes one
// to build a batch and gives it back once written, so an idle stream holds
// none.
var writeBuffers slicePool[byte]

func getWriteBuffer() []byte { return writeBuffers.get() }

// putWriteBuffer gives b back, unless a burst made it too large to keep.
func putWriteBuffer(b []byte) {
	if b != nil && cap(b) <= maxKeptBuffer {
		writeBuffers.put(b)
	}
}

// slicePool keeps slices for reuse without allocating: sync.Pool holds
// pointers, and the pointers of the slices taken wait in boxes for the
// next slice given back.
type slicePool[T any] struct{ full, boxes sync.Pool }

// get returns an empty slice, with the capacity of one given back if any.
func (p *slicePool[T]) get() []T {
	b, _ := p.full.Get().(*[]T)
	if b == nil {
		return nil
	}
	s := (*b)[:0]
	*b = nil
	p.boxes.Put(b)
	return s
}

// put keeps s (its contents the caller's to clear).
func (p *slicePool[T]) put(s []T) {
	b, _ := p.boxes.Get().(*[]T)
	if b == nil {
		b = new([]T)
	}
	*b = s[:0]
	p.full.Put(b)
}

// maxKeptBuffer is the largest batch buffer worth keeping for reuse.
const maxKeptBuffer = 1 << 20
