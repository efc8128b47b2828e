package halley

import (
	"context"
	"errors"
	"fmt"
)

// GapError reports messages a reader can no longer get: its position fell
// off a broadcast channel's ring, or a session channel overflowed. It
// matches ErrChannelFull with errors.Is.
type GapError struct {
	// Channel is the channel id.
	Channel string
	// Resume is the position to read after to continue with the oldest
	// message still retained (broadcast channels); 0 for a dead session
	// channel.
	Resume uint64
}

// Error implements error.
func (e *GapError) Error() string {
	return fmt.Sprintf("halley: channel %q full: messages were lost (resume after %d)", e.Channel, e.Resume)
}

// Unwrap makes errors.Is(err, ErrChannelFull) true.
func (e *GapError) Unwrap() error { return ErrChannelFull }

// errQueueDead is what a reader of a session channel (or a session's
// queue of a bus) that overflowed gets: its messages are lost and the
// queue is dead for good, as Eliom's Channel_full.
var errQueueDead = errors.New("halley: queue overflowed")

// collectLocked appends the messages after position after to dst, at most
// max (max <= 0: no limit), following the channel kind's rules. It returns
// ErrChannelClosed once a closed channel has nothing more to give, a
// *GapError for a reader that lost messages and can go on, and
// errQueueDead for a session channel that overflowed. The caller holds
// lockRead.
func (c *Channel) collectLocked(dst []*message, after uint64, max int) ([]*message, error) {
	top := c.ring.Top()
	switch c.kind {
	case KindNewest:
		if top > after {
			if m, ok := c.ring.Newest(); ok {
				return append(dst, m), nil
			}
		}
	case KindSession, KindLazy:
		if c.full {
			return dst, errQueueDead
		}
		c.ackLocked(after)
		fallthrough
	default:
		n := len(dst)
		var lost bool
		dst, lost = c.ring.AppendSince(dst, after, max)
		if lost && c.kind == KindSession && c.shared {
			// A session channel of a cluster keeps its Size last
			// messages in the broker: its reader fell more than that
			// behind, and the queue is dead.
			c.full = true
			return dst[:n], errQueueDead
		}
		if lost {
			return dst, &GapError{Channel: c.id, Resume: c.ring.First() - 1}
		}
		if len(dst) > n {
			return dst, nil
		}
	}
	if c.closed {
		return dst, ErrChannelClosed
	}
	return dst, nil
}

// ackLocked records that the channel's consumer has everything up to off
// (session and lazy channels). c.mu must be held.
func (c *Channel) ackLocked(off uint64) {
	if off > c.acked {
		c.acked = min(off, c.ring.Top())
		if c.kind == KindLazy {
			c.demand.wake()
		}
	}
}

// Read returns the messages with offsets after the position after, oldest
// first, at most max of them (max <= 0: up to the channel's size), waiting
// until there is at least one or ctx is done. A newest channel gives only
// its last message. On a session or lazy channel, Read(after) also
// acknowledges every message up to after, freeing room in the session
// channel's queue, or letting the lazy channel's producer run again.
//
// Read fails with a *GapError (errors.Is ErrChannelFull) when messages
// after the position were lost, and with ErrChannelClosed when the channel
// ended and everything before the end was read.
func (c *Channel) Read(ctx context.Context, after uint64, max int) ([]Message, error) {
	var w *waiter
	defer func() {
		if w != nil {
			c.removeWaiter(w)
		}
	}()
	for {
		c.lockRead()
		msgs, err := c.collectLocked(nil, after, max)
		c.unlockRead()
		if err == errQueueDead {
			err = &GapError{Channel: c.id}
		}
		if err != nil || len(msgs) > 0 {
			out := make([]Message, len(msgs))
			for i, m := range msgs {
				out[i] = Message{Channel: c.id, Offset: m.offset, Data: m.data}
			}
			if len(out) > 0 {
				err = nil // the end or the gap comes at the next read
			}
			return out, err
		}
		if w == nil {
			// Register, then look again before blocking, so that a
			// message arriving in between is not missed.
			w = newWaiter(false)
			if !c.addWaiter(w) {
				w = nil
			}
			continue
		}
		select {
		case <-w.wake:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-c.hub.ctx.Done():
			return nil, ErrShutdown
		}
	}
}

// Reader reads a channel message by message from a position of its own.
// Each Reader is independent: server code can read one channel with as many
// Readers as it likes. A Reader is not safe for concurrent use.
type Reader struct {
	c       *Channel
	after   uint64
	pending []Message
}

// Reader returns a reader positioned after the given offset: Reader(0)
// starts at the oldest retained message, Reader(c.Offset()) at the next
// message written.
func (c *Channel) Reader(after uint64) *Reader { return &Reader{c: c, after: after} }

// Position returns the offset of the last message Next returned.
func (r *Reader) Position() uint64 { return r.after }

// Next returns the next message, waiting for it until ctx is done. After a
// *GapError the reader continues with the oldest retained message, so the
// caller may log the gap and go on. ErrChannelClosed means the channel
// ended.
func (r *Reader) Next(ctx context.Context) (Message, error) {
	if len(r.pending) == 0 {
		msgs, err := r.c.Read(ctx, r.after, 0)
		if err != nil {
			if gap, ok := errors.AsType[*GapError](err); ok && gap.Resume > r.after {
				r.after = gap.Resume
			}
			return Message{}, err
		}
		r.pending = msgs
	}
	m := r.pending[0]
	r.pending = r.pending[1:]
	r.after = m.Offset
	return m, nil
}
