package client

import (
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/halleyhq/halley/internal/wire/frame"
)

// listenFrame returns the listen frame of k.
func listenFrame(k listenKey) []byte {
	b := append([]byte(`{"type":"listen",`), k.body()[1:]...)
	return b
}

// listenWS listens on k over the live connection l.
func (c *Client) listenWS(ctx context.Context, l *wsLink, k listenKey) error {
	op := &wsOp{frame: listenFrame(k), key: k, listen: true, done: make(chan wsAnswer, 1)}
	if !l.enqueue(op) {
		return errNotSent
	}
	a := l.await(ctx, op)
	if a.err != nil && !errors.Is(a.err, errNotSent) {
		return wrapOp("listen", a.err)
	}
	return a.err
}

// answerWS takes the frames that answer the client's own frames: written,
// refreshed and error frames with a ref (writes, refreshes), listening
// frames and the error frames of listens. It reports whether f was one.
func (c *Client) answerWS(l *wsLink, f *frame.Frame) bool {
	switch f.Type {
	case frame.TypeWritten:
		if f.Offset == nil {
			l.answer(f.Ref, wsAnswer{err: &protocolError{msg: "ws: written frame without offset"}})
		} else {
			l.answer(f.Ref, wsAnswer{offset: *f.Offset})
		}
		return true
	case frame.TypeRefreshed:
		l.answer(f.Ref, wsAnswer{expires: f.Expires})
		return true
	case frame.TypeError:
		// Op is set by the caller that waits (write, refresh).
		err := &RefusedError{Op: "write", Reason: f.Reason, Message: f.Message}
		if f.Ref != "" {
			l.answer(f.Ref, wsAnswer{err: err})
			return true
		}
		switch f.Reason {
		case "bad_frame", "frame_too_large", "too_many_subscriptions":
			return false // not about a listen
		}
		// The server answers every listen frame, in order, and its
		// errors carry no ref: this one is the oldest listen's.
		op := l.popListen()
		if op == nil {
			return false
		}
		err.Op = "listen"
		if op.done != nil {
			op.done <- wsAnswer{err: err}
		} else {
			c.dropRefused(op.key, err)
		}
		return true
	case frame.TypeListening:
		op := l.popListen()
		k := listenKey{f.Notifier, f.Key}
		if op != nil && op.key != k {
			c.log.Warn("halley client: a listening frame answers another key", "want", op.key.key, "got", f.Key)
		}
		c.mu.Lock()
		c.listenedLocked(k, f.Channel, l.session)
		if l.session == c.session && f.Channel != "" && c.subs[f.Channel] == nil {
			// The server subscribed the connection to the notification
			// channel: record it so that its position is kept.
			s := &sub{id: f.Channel}
			c.subs[f.Channel] = s
			l.sent[f.Channel] = s
			c.notify()
		}
		c.mu.Unlock()
		if op != nil && op.done != nil {
			op.done <- wsAnswer{}
		}
		return true
	}
	return false
}

// wsLink is a live WebSocket connection as Write and Listen calls see it:
// they queue frames for the connection's writer and wait for the answers
// its reader routes back.
type wsLink struct {
	// session is the connection's session.
	session string
	// wake is signalled when a frame is queued.
	wake chan struct{}
	// expires receives the expiry of the connection's grant, from its
	// hello frame (Unix seconds; 0: none).
	expires chan int64
	// token is the token of the connection's grant: set before the
	// connection starts, then by its refresher alone.
	token string

	// Guarded by the client's mu: the subscriptions sent on this
	// connection, and the keys listened to again on it.
	sent       map[string]*sub
	relistened map[listenKey]bool

	mu      sync.Mutex
	closed  bool
	out     []*wsOp          // queued, not sent yet, in order
	refs    map[string]*wsOp // writes sent, by ref
	listens []*wsOp          // listens sent, in order
}

// wsOp is a frame of a Write or Listen call, a refresh, or a listen the
// client makes again by itself (done nil).
type wsOp struct {
	frame  []byte
	ref    string
	key    listenKey
	listen bool
	done   chan wsAnswer // buffered: one answer
}

// wsAnswer is the outcome of a wsOp.
type wsAnswer struct {
	offset  uint64
	expires int64 // a refresh's: the new grant's end (Unix seconds; 0: none)
	err     error
}

// openLink makes the link of a new connection, in the current session,
// and makes Write and Listen use it.
func (c *Client) openLink() *wsLink {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := &wsLink{
		session:    c.session,
		wake:       make(chan struct{}, 1),
		expires:    make(chan int64, 1),
		sent:       make(map[string]*sub),
		relistened: make(map[listenKey]bool),
		refs:       make(map[string]*wsOp),
	}
	c.ws = l
	return l
}

// closeLink stops Write and Listen from using l, and fails what waits on
// it: frames never sent with errNotSent (they go another way), the others
// with ErrConnectionLost.
func (c *Client) closeLink(l *wsLink) {
	c.mu.Lock()
	if c.ws == l {
		c.ws = nil
	}
	c.mu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	for _, op := range l.out {
		op.reply(wsAnswer{err: errNotSent})
	}
	for _, op := range l.refs {
		op.reply(wsAnswer{err: ErrConnectionLost})
	}
	for _, op := range l.listens {
		op.reply(wsAnswer{err: ErrConnectionLost})
	}
	l.out, l.refs, l.listens = nil, nil, nil
}

func (op *wsOp) reply(a wsAnswer) {
	if op.done != nil {
		op.done <- a
	}
}

// enqueue queues op for the writer; false if the connection is over.
func (l *wsLink) enqueue(op *wsOp) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	l.out = append(l.out, op)
	select {
	case l.wake <- struct{}{}:
	default:
	}
	return true
}

// take returns the queued frames, in order, and records them as sent: the
// answers may come before they are written.
func (l *wsLink) take() []*wsOp {
	l.mu.Lock()
	defer l.mu.Unlock()
	ops := l.out
	l.out = nil
	for _, op := range ops {
		if op.listen {
			l.listens = append(l.listens, op)
		} else {
			l.refs[op.ref] = op
		}
	}
	return ops
}

// answer hands a to the write tagged ref, if it still waits.
func (l *wsLink) answer(ref string, a wsAnswer) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if op, ok := l.refs[ref]; ok {
		delete(l.refs, ref)
		op.reply(a)
	}
}

// popListen returns the oldest listen without an answer.
func (l *wsLink) popListen() *wsOp {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.listens) == 0 {
		return nil
	}
	op := l.listens[0]
	l.listens = l.listens[1:]
	return op
}

// await waits for op's answer. When ctx is done first, a frame not sent
// yet is withdrawn; one sent keeps its place, and its answer, when it
// comes, is recorded (a listen) or dropped (a write).
func (l *wsLink) await(ctx context.Context, op *wsOp) wsAnswer {
	select {
	case a := <-op.done:
		return a
	case <-ctx.Done():
	}
	l.mu.Lock()
	if i := slices.Index(l.out, op); i >= 0 {
		l.out = slices.Delete(l.out, i, i+1)
		l.mu.Unlock()
		return wsAnswer{err: context.Cause(ctx)}
	}
	l.mu.Unlock()
	select {
	case a := <-op.done:
		return a
	default:
		return wsAnswer{err: context.Cause(ctx)}
	}
}
