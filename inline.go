package halley

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/halleyhq/halley/internal/jsonmark"
)

// A publish wakes the streams reading its channel, and the hub's writers
// write them (writers.go): for a publish that reaches one or two streams,
// handing them to a writer costs more than their write, since the writer
// must be woken, often on another thread. A publisher that is about to
// write its own answer can write those streams itself, after its answer:
// Hub.DeferWrites gives it a context under which the streams its publish
// wakes are kept (up to deferMax; more go to the writers as usual), and a
// function that writes them then, on its own goroutine and without
// blocking (a stream whose socket is full goes to a goroutine of its own,
// as from a writer). It applies to deliveries made within the publish
// (the in-memory broker delivers so; a broker over a network delivers
// from its own goroutines, to the writers).

// deferMax is how many woken streams a deferred publish keeps for its
// goroutine to write: a publish that reaches more goes to the writers,
// which do not hold its answer up.
const deferMax = 4

// deferredWrites holds the streams a publish woke for its goroutine.
type deferredWrites struct {
	h     *Hub
	mu    sync.Mutex // the context might be shared by goroutines
	slots [deferMax]*poolSlot
	n     int
	// json is the message the API marked as compact JSON for the write
	// it makes next (package jsonmark), until that write ends.
	json []byte
	// writing is the channel a write under d is publishing to, while it
	// does: the broker's delivery within the publish finds it here
	// instead of looking its name up again (writingTo).
	writing atomic.Pointer[Channel]
}

// writingTo returns the channel of stream name that a write under d is
// publishing to, or nil.
func (d *deferredWrites) writingTo(name string) *Channel {
	if d == nil {
		return nil
	}
	if c := d.writing.Load(); c != nil && c.id == name {
		return c
	}
	return nil
}

func init() { jsonmark.Mark = markJSON }

// markJSON is jsonmark.Mark: it records data in ctx's deferred writes.
func markJSON(ctx context.Context, data []byte) {
	if d := deferredIn(ctx); d != nil && len(data) > 0 {
		d.mu.Lock()
		d.json = data
		d.mu.Unlock()
	}
}

// isJSON reports whether data is the message marked as JSON: the same
// bytes, not a copy (a broker that copies it, or a filter that changes
// it, loses the mark).
func (d *deferredWrites) isJSON(data []byte) bool {
	if d == nil || len(data) == 0 {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.json) == len(data) && &d.json[0] == &data[0]
}

// beginWrite records that a write under d publishes to c now.
func (d *deferredWrites) beginWrite(c *Channel) {
	if d != nil {
		d.writing.Store(c)
	}
}

// endWrite forgets the channel and the mark of the write that ended. A
// mark left by a write refused before it reached the hub (by a bus's
// filter) matches no other write: it holds the marked bytes, so no other
// message can be that memory.
func (d *deferredWrites) endWrite() {
	if d == nil {
		return
	}
	d.writing.Store(nil)
	d.mu.Lock()
	d.json = nil
	d.mu.Unlock()
}

type deferKey struct{}

// DeferWrites returns a context for the hub's writes (Channel.Write) and
// a function to call after each write made under it, once the writer's
// own answer is out: it writes the streams the write woke, if any, on the
// calling goroutine, without blocking. Until it is called they wait (and
// stall, if it never is), so call it after every write made under ctx,
// on error paths too, and before blocking on anything. For a publisher that
// answers its client (httpapi's lean loop), it saves the hand-over of one
// or two streams to the hub's writers.
func (h *Hub) DeferWrites(ctx context.Context) (context.Context, func()) {
	d := &deferredWrites{h: h}
	return context.WithValue(ctx, deferKey{}, d), d.run
}

// deferredOf returns the deferred writes of ctx for the hub h, or nil.
func (h *Hub) deferredOf(ctx context.Context) *deferredWrites {
	d := deferredIn(ctx)
	if d == nil || d.h != h {
		return nil
	}
	return d
}

// deferredIn returns the deferred writes of ctx, of any hub, or nil.
func deferredIn(ctx context.Context) *deferredWrites {
	d, _ := ctx.Value(deferKey{}).(*deferredWrites)
	return d
}

// keep takes a queued stream, and reports false when it has no room.
func (d *deferredWrites) keep(c *poolSlot) bool {
	if d == nil {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.n == deferMax {
		return false
	}
	d.slots[d.n] = c
	d.n++
	return true
}

// run gives each kept stream its turn, as a writer would.
func (d *deferredWrites) run() {
	for {
		d.mu.Lock()
		if d.n == 0 {
			d.mu.Unlock()
			return
		}
		d.n--
		c := d.slots[d.n]
		d.slots[d.n] = nil
		d.mu.Unlock()
		c.turn()
	}
}
