package halley

import (
	"net"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/halleyhq/halley/internal/uring"
)

// Batched sends. A writer's turns at a batch of streams queue their
// writes (copied) in the writer's sendQueue instead of making a send each;
// the writer sends them all with one system call (package uring, Linux's
// io_uring), then ends each stream's turn with what its send did: a
// socket that took only part has the rest in its stream's spill, and its
// owner takes the stream, as when a send of its own fell short. A stream
// written by anybody else (its owner, a publisher's deferred write)
// sends at once, as where io_uring is not available or Config.NoIOURing
// is set.

// maxQueued is the largest write a queue copies; a larger one is sent at
// once, after what the queue holds.
const maxQueued = 16 << 10

// sendQueue is a writer's batch of sends, and the stream writers each
// run of it is for.
type sendQueue struct {
	b  *uring.Batch
	p  *writerPool
	ws [uring.MaxRuns]*sockWriter
}

// queue takes p for w, or reports false when w must send it itself (p is
// large, or the queue was full and its sends left w with a spill or an
// error). It may flush the queue.
func (q *sendQueue) queue(w *sockWriter, p []byte) bool {
	if len(p) > maxQueued {
		q.flush()
		return false
	}
	i, ok := q.b.Add(w.sock.fd, p)
	if !ok {
		q.flush()
		if w.spill != nil || w.err != nil {
			return false
		}
		if i, ok = q.b.Add(w.sock.fd, p); !ok {
			return false // the ring failed
		}
	}
	q.ws[i] = w
	return true
}

// flush sends what the queue holds and gives each writer its outcome.
func (q *sendQueue) flush() {
	if n := q.b.Len(); n > 0 {
		q.p.sent.runs.Add(uint64(n))
		q.b.Flush(q.done)
	}
}

// done gives run i's outcome to its writer.
func (q *sendQueue) done(i int, r uring.Result, rest []byte) {
	w := q.ws[i]
	q.ws[i] = nil
	switch {
	case r.Errno != 0:
		if w.err == nil {
			w.err = &net.OpError{Op: "write", Net: "tcp", Err: r.Errno}
		}
	case len(rest) > 0:
		q.p.sent.short.Add(1)
		spill := make([]byte, 0, len(rest)+len(w.spill))
		w.spill = append(append(spill, rest...), w.spill...)
	}
}

// queuedSends counts the runs of the writers' send queues, and those
// their sockets did not take whole (for tests).
type queuedSends struct{ runs, short atomic.Uint64 }

// queues keeps the writers' send queues while the hub runs: at most
// maxQueues of them exist (a writer past that sends on its own), kept
// for the writers that start later.
type queues struct {
	mu     sync.Mutex
	free   []*sendQueue
	made   int
	off    bool // no io_uring here, or Config.NoIOURing
	closed bool // the hub shut down
}

// maxQueues bounds the send queues of a hub: enough for its writers
// (GOMAXPROCS at most) and as many writers being replaced.
func maxQueues() int { return 2 * runtime.GOMAXPROCS(0) }

// take returns a send queue for a writer of p, or nil.
func (qs *queues) take(p *writerPool) *sendQueue {
	qs.mu.Lock()
	defer qs.mu.Unlock()
	if qs.off || qs.closed {
		return nil
	}
	if n := len(qs.free); n > 0 {
		q := qs.free[n-1]
		qs.free = qs.free[:n-1]
		return q
	}
	if qs.made >= maxQueues() {
		return nil
	}
	b, err := uring.New()
	if err != nil {
		qs.off = true
		return nil
	}
	qs.made++
	return &sendQueue{b: b, p: p}
}

// put gives a queue back, empty; after the hub's shutdown it closes it.
func (qs *queues) put(q *sendQueue) {
	if q == nil {
		return
	}
	qs.mu.Lock()
	defer qs.mu.Unlock()
	if qs.closed {
		q.b.Close()
		return
	}
	qs.free = append(qs.free, q)
}

// close closes the kept queues; those in use close when given back.
func (qs *queues) close() {
	qs.mu.Lock()
	defer qs.mu.Unlock()
	qs.closed = true
	for _, q := range qs.free {
		q.b.Close()
	}
	qs.free = nil
}

// turnAll gives each stream of b its turn, their sends queued in q, sent
// together, before the turns end.
func turnAll(b []*poolSlot, q *sendQueue) {
	var busy, ok [writerTake]bool
	for i, c := range b {
		w := c.s.writer()
		if w != nil {
			w.q = q
		}
		busy[i], ok[i] = c.begin()
		if w != nil {
			w.q = nil
		}
	}
	q.flush()
	for i, c := range b {
		b[i] = nil
		if w := c.s.writer(); w != nil && (w.spill != nil || w.err != nil) {
			ok[i] = false
		}
		c.end(busy[i], ok[i])
	}
}
