package halley

import (
	"sync/atomic"
	"unsafe"
)

// Warming. Between two messages of a channel, the kernel's sends to its
// other subscribers evict the state of each stream from the processor's
// caches, so a stream's turn begins with a chain of cache misses: its
// waiter, its slot, its connection, its stream, session, subscription,
// position and socket, each a memory read that waits for the one before.
// Those of different streams do not depend on each other: reading the
// first link of every stream in a batch, then the second, and so on, lets
// their misses overlap, and the turns that follow find their lines in the
// cache. Measured with paced-1k (one write per delivery), it takes 6–8%
// off the server's CPU per delivery; the saturated fan-outs gain too.

// warmLevels is how many links of its chain a stream warms (see
// pooledStream.warm).
const warmLevels = 3

// warmBatch reads, level by level, what the batch's turns read first.
func warmBatch(b []*poolSlot) {
	var x uintptr
	for _, c := range b {
		x += uintptr(c.ps.Load())
	}
	for l := range warmLevels {
		for _, c := range b {
			x += c.s.warm(l)
		}
	}
	keep(x)
}

// wakeBatch notifies a batch of a channel's waiters (d as in
// notifyDeferred), having read their slots' states for all of them first.
func wakeBatch(b []*waiter, d *deferredWrites) {
	var x uintptr
	for _, w := range b {
		x += uintptr(unsafe.Pointer(w.pooled))
	}
	for _, w := range b {
		if w.pooled != nil {
			x += uintptr(w.pooled.ps.Load())
		}
	}
	keep(x)
	for _, w := range b {
		w.notifyDeferred(d)
	}
}

// wakeBatchLen is how many waiters wakeBatch takes at once.
const wakeBatchLen = 32

// keptReads counts the (rare, harmless) times keep's test held.
var keptReads atomic.Uint64

// keep uses x, so that the compiler keeps the reads that made it.
func keep(x uintptr) {
	if x == 0x5a5a5a5a {
		keptReads.Add(1)
	}
}

// warm reads the connection's line, then its stream's, session's,
// position's and socket's, then its first subscription's.
func (c *sseConn) warm(level int) uintptr {
	switch level {
	case 0:
		return uintptr(unsafe.Pointer(c.st)) + uintptr(c.live) + uintptr(unsafe.Pointer(c.sock))
	case 1:
		x := warmConn(c.st, c.s, c.sock)
		if len(c.pos) > 0 {
			x += uintptr(c.pos[0].after)
		}
		return x
	default:
		return warmSub(c.st)
	}
}

// warm reads the connection's line, then its stream's, session's, grant's
// and socket's, then its first subscription's.
func (c *wsConn) warm(level int) uintptr {
	switch level {
	case 0:
		return uintptr(unsafe.Pointer(c.st)) + uintptr(unsafe.Pointer(c.v)) + uintptr(unsafe.Pointer(c.sock))
	case 1:
		x := warmConn(c.st, c.st.session, c.sock)
		if !c.v.grant.Expires.IsZero() {
			x++
		}
		return x
	default:
		return warmSub(c.st)
	}
}

// warm reads the poll's line: its step reads nothing more of its own.
func (p *parkedPoll) warm(level int) uintptr {
	if level > 0 || p.left.Load() {
		return 0
	}
	return uintptr(p.gen)
}

// warmConn reads the lines of a connection's stream, session and socket.
func warmConn(st *stream, s *Session, sock *rawSock) uintptr {
	x := uintptr(st.gen) + uintptr(len(st.subs)) + uintptr(unsafe.Pointer(st.pq))
	if s != nil && s.ended.Load() {
		x++
	}
	if sock != nil {
		x += uintptr(sock.fd)
	}
	return x
}

// warmSub reads the stream's first subscription.
func warmSub(st *stream) uintptr {
	if subs := st.subs; len(subs) > 0 && !subs[0].done {
		return uintptr(subs[0].after)
	}
	return 0
}

func (c *sseConn) writer() *sockWriter    { return &c.sockWriter }
func (c *wsConn) writer() *sockWriter     { return &c.sockWriter }
func (p *parkedPoll) writer() *sockWriter { return nil }
