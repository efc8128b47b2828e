package halley

import (
	"errors"
	"os"
	"sync/atomic"
	"time"

	"github.com/halleyhq/halley/internal/wire/frame"
)

// An SSE connection's state and the events it writes (sse.go serves the
// request and runs the connection).

// ssePos is a subscription's position as the client knows it: up to the
// last event written. The stream's own position (streamSub.after) runs
// ahead by a whole batch as soon as the batch is pulled.
type ssePos struct {
	sub   *streamSub
	after uint64
	epoch string
	done  bool
}

// sseConn writes the events of one SSE response. Small pieces are gathered
// in buf and written sseChunk bytes at a time, each write under the write
// deadline; the first write error sticks and ends the stream.
type sseConn struct {
	sockWriter
	h   *Hub
	s   *Session
	st  *stream
	buf []byte
	// pooled streams give their buffer back after each flush.
	pooled bool
	// left is set when the client went away.
	left atomic.Bool
	// expires is when the client's grant ends (zero: never).
	expires time.Time

	pos  []ssePos
	live int // subscriptions not done
	next int // where to look first for the next item's subscription

	// Pooled writing (writers.go): with a socket (sockWriter.sock), the
	// stream parks between writes.
	slot poolSlot
	rest []item // items pulled after the spill, for the owner

	watching bool   // the session wakes it (watchStream)
	unwake   func() // stops the wake-up at the grant's end
	pace     *pacer
	onEnd    func() // lets a pooled stream's connection go
}

// track takes the stream's subscriptions and their starting positions.
func (c *sseConn) track(st *stream) {
	c.pos = make([]ssePos, len(st.subs))
	for i, sub := range st.subs {
		c.pos[i] = ssePos{sub: sub, after: sub.after, epoch: sub.epoch, done: sub.done}
		if !sub.done {
			c.live++
		}
	}
}

// find returns the position of sub. pull gives items subscription by
// subscription, in order, so the search usually stops at once.
func (c *sseConn) find(sub *streamSub) *ssePos {
	for range c.pos {
		if c.next == len(c.pos) {
			c.next = 0
		}
		if p := &c.pos[c.next]; p.sub == sub {
			return p
		}
		c.next++
	}
	// Not reached: an SSE stream subscribes only before it starts.
	c.pos = append(c.pos, ssePos{sub: sub, after: sub.after, epoch: sub.epoch})
	c.live++
	c.next = len(c.pos) - 1
	return &c.pos[c.next]
}

// item writes one pulled item as an event whose id is the cursor up to
// and including it.
func (c *sseConn) item(it item) {
	p := c.find(it.sub)
	if it.m != nil {
		p.after, p.epoch = it.m.offset, it.m.epoch
		if c.live == 1 {
			if it.m.solo && len(it.m.data) <= soloMax && it.m.sseLoaded() == nil {
				// No other connection to share the event with.
				c.grab()
				c.buf = appendSoloEvent(c.buf, it.m, it.sub.fname)
				c.writeIfFull()
				return
			}
			// The cursor is this one position: the event is the same
			// for every connection, made once (see sseEventOf).
			ev, whole := it.m.sseEventOf(it.sub.fname)
			c.put(ev)
			if !whole {
				c.put(it.frame())
				c.put(sseEnd)
			}
			return
		}
		c.event(it.frame(), true)
		return
	}
	switch f, err := frame.Decode(it.ctl); {
	case err != nil:
	case f.Type == frame.TypeGap && f.Offset != nil:
		p.after, p.epoch = *f.Offset, f.Epoch
	case f.Type == frame.TypeEnded && !p.done:
		p.done = true
		c.live--
	}
	c.event(it.ctl, true)
}

// event writes one event holding a frame, with the cursor as id when
// withID.
func (c *sseConn) event(f []byte, withID bool) {
	c.grab()
	if withID {
		c.buf = append(c.buf, "id: "...)
		c.buf = c.cursor(c.buf)
		c.buf = append(c.buf, '\n')
	}
	c.buf = append(c.buf, "data: "...)
	c.put(f)
	c.buf = append(c.buf, "\n\n"...)
}

// cursor appends the text form of the positions the client has.
func (c *sseConn) cursor(dst []byte) []byte {
	n := len(dst)
	for _, p := range c.pos {
		if p.done {
			continue
		}
		if len(dst) > n {
			dst = append(dst, ',')
		}
		dst = frame.AppendEntryOf(dst, p.sub.fname, p.after, p.epoch)
	}
	return dst
}

// grab gives a pooled stream a buffer for its next batch.
func (c *sseConn) grab() {
	if c.buf == nil && c.pooled {
		c.buf = getWriteBuffer()
	}
}

// put queues b, writing what is queued once it is large.
func (c *sseConn) put(b []byte) {
	c.grab()
	if len(b) < sseChunk {
		c.buf = append(c.buf, b...)
		c.writeIfFull()
		return
	}
	c.write(c.buf)
	c.buf = c.buf[:0]
	c.write(b)
}

// writeIfFull writes what is queued once it is large.
func (c *sseConn) writeIfFull() {
	if len(c.buf) >= sseChunk {
		c.write(c.buf)
		c.buf = c.buf[:0]
	}
}

// write writes b to the response (see sockWriter.send).
func (c *sseConn) write(b []byte) {
	if c.err != nil || len(b) == 0 {
		return
	}
	c.st.wrote(len(b))
	c.send(b)
}

// flush writes what is queued and sends it to the client.
func (c *sseConn) flush() error {
	c.write(c.buf)
	c.releaseBuf()
	if c.err == nil {
		c.arm()
		c.err = c.out.Flush()
	}
	return c.err
}

// releaseBuf lets the batch buffer go, once written.
func (c *sseConn) releaseBuf() {
	switch {
	case cap(c.buf) > 4*sseChunk:
		c.buf = nil // an unusually large event: do not keep its memory
	case c.pooled && c.buf != nil:
		putWriteBuffer(c.buf)
		c.buf = nil
	default:
		c.buf = c.buf[:0]
	}
}

// close sends a close frame, the last event of the stream.
func (c *sseConn) close(reason string, timeout time.Duration) {
	c.buf = append(c.buf[:0], "data: "...)
	c.buf = frame.AppendClose(c.buf, reason)
	c.buf = append(c.buf, "\n\n"...)
	if c.err == nil {
		_ = c.out.SetWriteDeadline(time.Now().Add(timeout))
		if _, c.err = c.out.Write(c.buf); c.err == nil {
			c.err = c.out.Flush()
		}
	}
	if c.err != nil {
		c.h.log.Debug("halley: sse: close frame not sent", "reason", reason, "err", c.err)
	}
}

// fail ends a stream whose write failed. A client that took no data
// before the deadline is a slow client: it is told so if its socket takes
// the close frame at all.
func (c *sseConn) fail(err error) {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		c.h.log.Debug("halley: sse: stream ended", "reason", "slow_client", "err", err)
		c.h.countSlowClient()
		if c.finishUnsent(sseCloseTimeout) {
			c.close("slow_client", sseCloseTimeout)
		}
		return
	}
	c.h.log.Debug("halley: sse: stream ended", "reason", "write_error", "err", err)
}

// sseEnd ends an event.
var sseEnd = []byte("\n\n")

// soloMax is the largest message a stream encodes into its own buffer
// (appendSoloEvent, appendItems): a larger one goes through the shared
// encoding, so that it does not grow the stream's pooled buffer (and, as
// large as sseChunk, put writes it apart from the buffer, uncopied).
const soloMax = sseChunk / 4

// appendSoloEvent appends the SSE event of a message of channel n, as
// a stream reading only that channel sends it, to dst: the same bytes as
// sseEventOf's, for a message that no other connection reads (solo), so
// nothing is made to share: the message's frame is used when another
// transport made it, and not made otherwise.
func appendSoloEvent(dst []byte, m *message, n *frame.Name) []byte {
	dst = append(dst, "id: "...)
	dst = frame.AppendEntryOf(dst, n, m.offset, m.epoch)
	dst = append(dst, "\ndata: "...)
	if f := m.frameLoaded(); f != nil {
		dst = append(dst, f...)
	} else {
		dst = frame.AppendMsgOf(dst, n, m.offset, m.data, m.json)
	}
	return append(dst, sseEnd...)
}

// sseEventOf returns the shared SSE event of a message of channel n, as
// a stream reading only that channel sends it, and whether it is whole.
// Whole, it is the id line (the channel's position at the message), the
// data line holding the message's msg frame and the event's end, made in
// one allocation whose data line becomes the message's shared frame too.
// When the message had its frame already (another transport made it), it
// is only the head, the id line and the start of the data line, which that
// frame completes: the message keeps one copy of its frame either way.
func (m *message) sseEventOf(n *frame.Name) ([]byte, bool) {
	e := m.sharedMade()
	if b := e.sse.load(); b != nil {
		return b, e.sseWhole
	}
	b := e.sse.make(func() []byte {
		f := e.frame.load()
		size := len("id: \ndata: ") + len(n.ID) + len(m.epoch) + 32
		if f == nil {
			size += frame.MsgCap(n.ID, m.data) + len(sseEnd)
		}
		b := make([]byte, 0, size)
		b = append(b, "id: "...)
		b = frame.AppendEntryOf(b, n, m.offset, m.epoch)
		b = append(b, "\ndata: "...)
		if f != nil {
			return b
		}
		start := len(b)
		b = frame.AppendMsgOf(b, n, m.offset, m.data, m.json)
		fr := b[start:len(b):len(b)]
		// The message's frame, unless another stream made it meanwhile.
		e.frame.make(func() []byte { return fr })
		e.sseWhole = true // published by the encoding's done
		return append(b, sseEnd...)
	})
	return b, e.sseWhole
}
