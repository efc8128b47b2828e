package halley

import (
	"container/heap"
	"context"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// The hub's writers write the streams whose connection it took over from
// net/http (SSE over HTTP/1, WebSockets, both over TCP), so that a message
// reaching many streams does not wake a goroutine per stream. A stream's own goroutine (its
// owner) writes its first events, then parks; from then on a wake-up
// (a message, a heartbeat tick) puts the stream in the writers' queue, and
// a writer pulls what the stream has and writes it to the socket without
// blocking. Anything else — the socket is full, the stream must end, a
// write failed — hands the stream back to an owner: a goroutine started
// for it, which deals with it as before (a blocking write under the write
// deadline, a close frame) and parks it again, or ends it. A parked stream
// has no goroutine of its own.
//
// The queue is what gathers when the writers are behind: a stream woken
// again while it waits in the queue is queued once, and its write carries
// everything that came meanwhile. Such a stream is busy: after its write
// it rests Config.WriteDelay, its wake-ups only noted, and then writes
// what piled up in one go, so an overloaded hub writes fewer, larger
// batches rather than more small ones. A stream that is not behind (its
// write carried one wake-up's messages) writes each message as soon as it
// is published. At most GOMAXPROCS writers run; they exist only while
// there is something to write or a rest to end, but for one that waits,
// idle, for the next wake-up: a stream woken now and then does not start
// a goroutine (and grow its stack) for each write.
//
// Parked long polls (poll_park.go) use the same queue: a writer's turn at
// one only looks whether it must answer, and hands it to an owner that
// writes the answer.

// States of a pooled stream (poolSlot.ps).
const (
	// psOwner: the stream's goroutine has it (the only state of a stream
	// that is not pooled); wake-ups go to its waiter's channel.
	psOwner int32 = iota
	// psParked: no goroutine has it; a wake-up queues it.
	psParked
	// psQueued: in the writers' queue.
	psQueued
	// psRunning: a writer is writing it; a wake-up asks for another turn.
	psRunning
	// psResting: busy, it rests after its write; a wake-up asks for a
	// turn at the end of the rest.
	psResting
)

// writerPool is the hub's queue of pooled streams ready to write, the
// streams resting, and the writers that serve them.
type writerPool struct {
	h       *Hub
	delay   time.Duration // the rest of a busy stream
	max     int
	mu      sync.Mutex
	q       []*poolSlot
	head    int
	rest    restHeap // the resting streams, the first to end first
	running int      // writers writing
	// idle is whether a writer waits for work on wake (which holds at
	// most the one wake-up that ends its wait).
	idle bool
	wake chan struct{}
	// wakeAt is when the first of the writers waiting for rests to end
	// wakes (zero: none waits).
	wakeAt time.Time
	qs     queues      // the writers' send queues (sendqueue.go)
	sent   queuedSends // and what they sent
}

// resting is a stream resting until due.
type resting struct {
	c   *poolSlot
	due time.Time
}

// A pooledStream is a stream the writers can write: an SSE stream or a
// WebSocket.
type pooledStream interface {
	// step writes what the stream has without blocking. It reports
	// whether the write gathered several messages (the stream is busy),
	// and false in ok when an owner must take over.
	step() (busy, ok bool)
	// own runs the stream on a goroutine of its own (see handBack) until
	// it parks again or ends.
	own()
	// warm reads, at level 0, 1 and 2 (warmLevels), the lines its step
	// reads first, each level's found by the one before (warm.go); it
	// returns a sum of what it read.
	warm(level int) uintptr
	// writer returns the stream's socket writer, or nil for a stream
	// that writes nothing in its step.
	writer() *sockWriter
}

// poolSlot is a pooled stream's place in the writers' queue: its state
// and what a wake-up asks of it.
type poolSlot struct {
	p     *writerPool
	s     pooledStream
	ps    atomic.Int32 // psOwner, psParked, psQueued, psRunning, psResting
	again atomic.Bool  // woken while a writer ran it
}

func (p *writerPool) init(h *Hub) {
	p.h = h
	p.delay = max(h.cfg.WriteDelay, 0)
	p.max = max(1, runtime.GOMAXPROCS(0))
	p.wake = make(chan struct{}, 1)
	p.qs.off = h.cfg.NoIOURing
	// At shutdown the idle writer wakes, finds the hub shutting down and
	// ends.
	context.AfterFunc(h.ctx, func() {
		p.qs.close()
		p.mu.Lock()
		defer p.mu.Unlock()
		p.wakeIdleLocked()
	})
}

// wakeIdleLocked gives the idle writer, if there is one, a turn (it then
// counts as running) and reports whether there was one. p.mu is held.
func (p *writerPool) wakeIdleLocked() bool {
	if !p.idle {
		return false
	}
	p.idle = false
	p.running++
	p.wake <- struct{}{}
	return true
}

// ready takes a wake-up of a pooled stream: it reports false when the
// owner has the stream (the wake-up goes to the owner), true when the
// writers take it (or d, a deferred write's goroutine, when it has room).
func (c *poolSlot) ready(d *deferredWrites) bool {
	for {
		switch c.ps.Load() {
		case psParked:
			if c.ps.CompareAndSwap(psParked, psQueued) {
				if !d.keep(c) {
					c.p.push(c)
				}
				return true
			}
		case psQueued:
			return true
		case psRunning, psResting:
			c.again.Store(true)
			if s := c.ps.Load(); s == psRunning || s == psResting {
				return true
			}
		default:
			return false
		}
	}
}

// push queues a stream, and starts a writer if fewer than max run.
func (p *writerPool) push(c *poolSlot) {
	p.mu.Lock()
	p.q = append(p.q, c)
	ok := p.spawnLocked()
	p.mu.Unlock()
	if !ok {
		c.handBack()
	}
}

// spawnLocked starts a writer if fewer than max run. A hub that is
// shutting down starts none: it then takes the stream pushed last out of
// the queue and reports false, for the caller to hand it back to its
// owner. p.mu is held.
func (p *writerPool) spawnLocked() bool {
	if p.running >= p.max {
		return true
	}
	if p.wakeIdleLocked() {
		return true // counted in the hub's wait group already
	}
	if !p.h.track(1) {
		p.q = p.q[:len(p.q)-1]
		return false
	}
	p.running++
	if testHookPool != nil {
		testHookPool("spawn")
	}
	go p.work()
	return true
}

// testHookPool, set only by tests, is called at each park, hand-back and
// rest, and as a writer starts or waits idle.
var testHookPool func(what string)

// writerTake is how many streams a writer takes from the queue at once.
const writerTake = 128

// work writes queued streams until there is nothing to write, and waits
// for the rests to end when no other writer does.
func (p *writerPool) work() {
	defer p.h.wg.Done()
	q := p.qs.take(p)
	defer p.qs.put(q)
	var batch [writerTake]*poolSlot
	since := time.Now()
	p.mu.Lock()
	for {
		if len(p.rest) > 0 { // no clock to read for no rest
			now := time.Now()
			if p.h.ctx.Err() != nil {
				now = now.Add(p.delay) // shutting down: no stream rests
			}
			p.endRestsLocked(now)
		}
		n := copy(batch[:], p.q[p.head:])
		clear(p.q[p.head : p.head+n])
		p.head += n
		if p.head == len(p.q) {
			p.q, p.head = p.q[:0], 0
			if cap(p.q) > 1<<16 {
				p.q = nil // a burst's queue: do not keep it
			}
		}
		if n == 0 {
			if len(p.rest) == 0 || !p.wakeAt.IsZero() && !p.rest[0].due.Before(p.wakeAt) {
				p.running--
				if p.idle || p.h.ctx.Err() != nil {
					p.mu.Unlock()
					return
				}
				p.waitIdleLocked()
				since = time.Now()
				continue
			}
			// The last writer out waits for the first rest to end; it
			// does not count as writing meanwhile.
			due := p.rest[0].due
			p.wakeAt = due
			p.running--
			p.mu.Unlock()
			t := time.NewTimer(time.Until(due))
			select {
			case <-t.C:
			case <-p.h.ctx.Done():
				t.Stop() // shutting down: rests end now (below)
			}
			p.mu.Lock()
			if p.wakeAt.Equal(due) {
				p.wakeAt = time.Time{}
			}
			p.running++
			since = time.Now()
			continue
		}
		p.mu.Unlock()
		warmBatch(batch[:n])
		if q != nil {
			turnAll(batch[:n], q)
		} else {
			for i, c := range batch[:n] {
				batch[i] = nil
				c.turn()
			}
		}
		if time.Since(since) >= writerSlice {
			// Let the scheduler look at the network: a writer that never
			// parks would keep the publications out (Go polls it when a
			// processor is idle, or every 10ms), and streams gather only
			// what is published while they wait.
			time.Sleep(time.Microsecond)
			since = time.Now()
		}
		p.mu.Lock()
	}
}

// watchRestsLocked starts a writer, or wakes the idle one, for a rest
// that no writer sees (one begun by a deferred write's turn): it then
// waits for the rest's end. It reports false when the hub is shutting
// down and none starts. p.mu is held.
func (p *writerPool) watchRestsLocked() bool {
	if p.wakeIdleLocked() {
		return true
	}
	if !p.h.track(1) {
		return false
	}
	p.running++
	go p.work()
	return true
}

// waitIdleLocked makes the writer the idle one until wakeIdleLocked
// gives it a turn, at a wake-up or at the hub's shutdown. p.mu is held,
// and released while it waits.
func (p *writerPool) waitIdleLocked() {
	p.idle = true
	p.mu.Unlock()
	if testHookPool != nil {
		testHookPool("idle")
	}
	<-p.wake
	p.mu.Lock()
}

// writerSlice is how long a writer writes before it parks for a moment.
const writerSlice = 500 * time.Microsecond

// restLocked makes c rest until due. p.mu is held.
func (p *writerPool) restLocked(c *poolSlot, due time.Time) {
	heap.Push(&p.rest, resting{c, due})
}

// endRestsLocked ends the rests due by now: a stream woken meanwhile is
// queued, the others park. p.mu is held.
func (p *writerPool) endRestsLocked(now time.Time) {
	for len(p.rest) > 0 && !p.rest[0].due.After(now) {
		c := heap.Pop(&p.rest).(resting).c
		c.ps.Store(psParked)
		if c.again.Swap(false) && c.ps.CompareAndSwap(psParked, psQueued) {
			p.q = append(p.q, c)
		}
	}
	if len(p.rest) == 0 && cap(p.rest) > 1<<16 {
		p.rest = nil
	}
}

// restHeap is a min-heap of rests by their end (container/heap).
type restHeap []resting

func (h restHeap) Len() int           { return len(h) }
func (h restHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h restHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *restHeap) Push(x any)        { *h = append(*h, x.(resting)) }
func (h *restHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	old[len(old)-1] = resting{}
	*h = old[:len(old)-1]
	return x
}

// turn is one writer's turn at a queued stream. A busy stream (its write
// gathered) then rests, the others park.
func (c *poolSlot) turn() { c.end(c.begin()) }

// begin starts a turn at the stream: its step.
func (c *poolSlot) begin() (busy, ok bool) {
	c.ps.Store(psRunning)
	c.again.Store(false)
	return c.s.step()
}

// end ends a turn, after its step's sends: the stream goes to an owner
// (not ok), rests (busy), or parks, queued again when woken meanwhile.
func (c *poolSlot) end(busy, ok bool) {
	if !ok {
		c.handBack()
		return
	}
	if busy && c.p.delay > 0 {
		p := c.p
		c.ps.Store(psResting)
		p.mu.Lock()
		if p.running == 0 && p.wakeAt.IsZero() && !p.watchRestsLocked() {
			// A deferred write's turn, no writer to end a rest, and
			// none can start (the hub is shutting down): the owner
			// takes the stream.
			p.mu.Unlock()
			c.handBack()
			return
		}
		p.restLocked(c, time.Now().Add(p.delay)) // a writer's loop ends it
		p.mu.Unlock()
		if testHookPool != nil {
			testHookPool("rest")
		}
		return
	}
	c.ps.Store(psParked)
	if c.again.Swap(false) && c.ps.CompareAndSwap(psParked, psQueued) {
		c.p.push(c)
	}
}

// handBack gives the stream back to an owner: a goroutine of its own,
// which writes what is left under the write deadline, or ends it. The
// stream's count in the hub's wait group covers it.
func (c *poolSlot) handBack() {
	if testHookPool != nil {
		testHookPool("handback")
	}
	c.ps.Store(psOwner)
	go c.s.own()
}

// park, called by the owner with nothing left to write, lets the writers
// take the stream's wake-ups; the owner's goroutine then ends. It reports
// true when a wake-up came during the owner's run (to its waiter, which
// nobody reads from now on), which the owner then deals with itself.
func (c *poolSlot) park(wake <-chan struct{}) bool {
	// Once parked, the stream is the writers' and may end at once: this
	// goroutine touches nothing more of the hub's.
	hook := testHookPool
	c.ps.Store(psParked)
	select {
	case <-wake:
		// Woken while it ran: look again, unless the writers took it
		// at a wake-up since.
		return c.ps.CompareAndSwap(psParked, psOwner)
	default:
		if hook != nil {
			hook("park")
		}
		return false
	}
}

// step writes what the stream has, as its owner would, but never blocks:
// it reports false when the owner must take over (the stream ends, or the
// socket did not take everything). Like the owner, it pulls again after a
// write, until a pull finds nothing (a channel's end follows its last
// messages), up to stepPulls times; a stream that still had something
// then goes to the back of the queue, behind the others.
func (c *sseConn) step() (busy, ok bool) {
	h, st := c.h, c.st
	if st.stopped() != "" || expired(c.expires) || c.left.Load() || c.s.isClosed() {
		return false, false
	}
	c.nb = true
	defer func() { c.nb = false }()
	items := getItems()
	defer func() { putItems(items) }()
	for n := 0; ; n++ {
		if n == stepPulls {
			c.slot.again.Store(true)
			return busy, true
		}
		items = st.pull(items[:0], sseBatch)
		if len(items) == 0 {
			break
		}
		if n == 0 && gathered(items) {
			busy = true
			h.writes.gathered.Add(1)
		} else {
			h.writes.atOnce.Add(1)
		}
		for i, it := range items {
			c.item(it)
			if c.spill != nil {
				// The socket is full: the owner writes the rest, under
				// the write deadline.
				c.rest = slices.Clone(items[i+1:])
				c.spill = append(c.spill, c.buf...)
				c.releaseBuf()
				return busy, false
			}
		}
		clear(items)
		c.write(c.buf)
		c.releaseBuf()
		if c.spill != nil || c.err != nil {
			return busy, false
		}
	}
	if time.Since(c.lastWrite) >= h.cfg.Heartbeat/2 {
		c.put([]byte(": ping\n\n"))
		c.write(c.buf)
		c.releaseBuf()
	}
	return busy, c.spill == nil && c.err == nil
}

// gathered reports whether items hold more than one message: the stream
// was behind.
func gathered(items []item) bool {
	n := 0
	for _, it := range items {
		if it.m != nil {
			if n++; n > 1 {
				return true
			}
		}
	}
	return false
}

// stepPulls bounds the pulls of a writer's turn at a stream.
const stepPulls = 4

// handedBack writes what a writer left for the owner: the bytes the
// socket did not take, then the items pulled after them.
func (c *sseConn) handedBack() error {
	if c.spill == nil && c.rest == nil {
		return c.err
	}
	c.write(c.takeSpill())
	for _, it := range c.rest {
		c.item(it)
	}
	c.rest = nil
	return c.flush()
}

// itemSlices keeps the item slices of the writers' pulls.
var itemSlices slicePool[item]

func getItems() []item { return itemSlices.get() }

func putItems(s []item) {
	if cap(s) <= 4*sseBatch {
		clear(s)
		itemSlices.put(s)
	}
}
