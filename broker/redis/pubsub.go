package redis

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/halleyhq/halley/broker"
	"github.com/redis/rueidis"
)

// The pub/sub side. A broker holds one pub/sub connection (a rueidis
// dedicated connection with hooks), subscribed to the broadcast channel,
// its probe channel and one channel per subscribed stream: one
// subscription per node and stream, whatever the number of readers. The
// hooks run in the connection's reading goroutine, one message after the
// other, in the order Redis sent them, which for a stream is offset order
// (the publish script assigns and publishes in one atomic step).
//
// A supervisor goroutine owns the connection: when it breaks, the
// supervisor marks every stream stale, dials again with backoff,
// resubscribes everything and catches each stream up from History. A stale
// stream ignores what its channel brings until caught up: the catch-up
// reads, after the new subscription took effect, everything published
// since the last offset delivered, so nothing falls between the two.

const (
	minBackoff = 50 * time.Millisecond
	maxBackoff = 2 * time.Second
	// repairInterval is how often the supervisor retries stale streams and,
	// with Sentinel, checks that it still listens to the primary.
	repairInterval = time.Second
	// subscribeBatch bounds the channels of one SUBSCRIBE on reconnection.
	subscribeBatch = 512
)

// psConn is one pub/sub connection.
type psConn struct {
	dc   rueidis.DedicatedClient
	wait <-chan error
	// addr is the server it was opened to (Sentinel: the primary then).
	addr string
}

// close closes the connection and waits until its hooks are not running
// and will not run any more.
func (pc *psConn) close() {
	pc.dc.Close()
	for range pc.wait {
	}
}

// sub is the state of one subscribed stream on this node.
type sub struct {
	name    string
	channel string
	// ready is closed when Subscribe is done, with err set on failure.
	ready chan struct{}
	err   error

	// mu serialises deliveries of the stream (hooks, gap fills, catch-ups)
	// so the handler sees them in offset order; it is held during the
	// History calls that fill holes, never during pub/sub commands.
	mu    chanMutex
	live  bool // subscribed and initialised; false once unsubscribed
	stale bool // pub/sub ignored until a catch-up from History
	epoch string
	last  uint64 // offset of the last message delivered (or skipped)
	// lastID is the id of the message at last, "" when unknown (not
	// delivered by this node).
	lastID string
	// retired are the stream's last epochs before epoch: a message of one
	// of them, published before the change but read after it on the
	// pub/sub connection, is dropped.
	retired []string
}

// maxRetired bounds sub.retired.
const maxRetired = 4

// newEpochLocked makes epoch the stream's, delivery starting again at
// offset 1. st.mu is held.
func (st *sub) newEpochLocked(epoch string) {
	if st.epoch != "" {
		if len(st.retired) == maxRetired {
			st.retired = st.retired[1:]
		}
		st.retired = append(st.retired, st.epoch)
	}
	st.epoch, st.last, st.lastID = epoch, 0, ""
}

// chanMutex is a mutex whose Lock can give up with a context.
type chanMutex chan struct{}

func newChanMutex() chanMutex { return make(chanMutex, 1) }
func (m chanMutex) Lock()     { m <- struct{}{} }
func (m chanMutex) Unlock()   { <-m }
func (m chanMutex) LockCtx(ctx context.Context) error {
	select {
	case m <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// connect opens a pub/sub connection, makes it the broker's and subscribes
// it to every channel the broker needs.
func (b *Broker) connect(ctx context.Context) (*psConn, error) {
	var addr string
	// Read before dialling: should the primary move in between, the next
	// check sees a change and dials again.
	for a := range b.client.Nodes() {
		addr = a
	}
	dc, _ := b.client.Dedicate()
	pc := &psConn{dc: dc, wait: dc.SetPubSubHooks(rueidis.PubSubHooks{OnMessage: b.onMessage}), addr: addr}
	b.mu.Lock()
	if b.closed.Load() {
		b.mu.Unlock()
		pc.close()
		return nil, broker.ErrClosed
	}
	b.conn = pc
	chans := []string{b.bcast, b.probeCh}
	for _, st := range b.streams {
		chans = append(chans, st.channel)
	}
	b.mu.Unlock()
	for len(chans) > 0 {
		n := min(len(chans), subscribeBatch)
		if err := dc.Do(ctx, dc.B().Subscribe().Channel(chans[:n]...).Build()).Error(); err != nil {
			b.dropConn(pc)
			return nil, err
		}
		chans = chans[n:]
	}
	b.poke()
	return pc, nil
}

// dropConn closes pc and, if it was the broker's connection, forgets it
// and marks every stream stale.
func (b *Broker) dropConn(pc *psConn) {
	pc.close()
	b.mu.Lock()
	if b.conn != pc {
		b.mu.Unlock()
		return
	}
	b.conn = nil
	subs := make([]*sub, 0, len(b.streams))
	for _, st := range b.streams {
		subs = append(subs, st)
	}
	b.mu.Unlock()
	for _, st := range subs {
		st.mu.Lock()
		st.stale = true
		st.mu.Unlock()
	}
}

// poke asks the supervisor to catch up the stale streams.
func (b *Broker) poke() {
	select {
	case b.repair <- struct{}{}:
	default:
	}
}

// run is the supervisor: it serves pc until it breaks, then dials again
// with backoff, until Close.
func (b *Broker) run(pc *psConn) {
	defer b.wg.Done()
	for {
		err := b.serve(pc)
		b.dropConn(pc)
		if b.ctx.Err() != nil {
			return
		}
		b.log.Warn("redis broker: pub/sub connection lost, reconnecting", "err", err)
		delay := minBackoff
		for {
			// Full jitter, so that nodes cut off together do not all
			// come back at the same instant.
			t := time.NewTimer(delay/2 + rand.N(delay/2+1))
			select {
			case <-b.ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			if hook := b.beforeReconnect; hook != nil {
				hook(b.ctx)
			}
			ctx, cancel := context.WithTimeout(b.ctx, b.opts.IOTimeout)
			pc, err = b.connect(ctx)
			cancel()
			if err == nil {
				break
			}
			if b.ctx.Err() != nil {
				return
			}
			b.log.Debug("redis broker: reconnection failed", "err", err, "retry_in", delay)
			delay = min(2*delay, maxBackoff)
		}
		b.log.Info("redis broker: pub/sub reconnected, catching up", "streams", b.streamCount())
	}
}

var errPrimaryMoved = errors.New("the primary moved")

// serve watches pc, catching up stale streams when asked and every
// repairInterval, until pc breaks or the broker closes.
func (b *Broker) serve(pc *psConn) error {
	tick := time.NewTicker(repairInterval)
	defer tick.Stop()
	for {
		select {
		case err := <-pc.wait:
			if err == nil {
				err = errors.New("connection closed")
			}
			return err
		case <-b.ctx.Done():
			return b.ctx.Err()
		case <-b.repair:
			b.repairStale()
		case <-tick.C:
			b.repairStale()
			if b.client.Mode() == rueidis.ClientModeSentinel {
				for addr := range b.client.Nodes() {
					if addr != pc.addr {
						return fmt.Errorf("%w from %s to %s", errPrimaryMoved, pc.addr, addr)
					}
				}
			}
		}
	}
}

func (b *Broker) streamCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.streams)
}

// repairStale catches up every stale stream; those it cannot stay stale
// for the next round.
func (b *Broker) repairStale() {
	b.mu.Lock()
	subs := make([]*sub, 0, len(b.streams))
	for _, st := range b.streams {
		subs = append(subs, st)
	}
	b.mu.Unlock()
	for _, st := range subs {
		if b.ctx.Err() != nil {
			return
		}
		st.mu.Lock()
		if st.live && st.stale {
			ctx, cancel := context.WithTimeout(b.ctx, b.opts.IOTimeout)
			if err := b.catchUpLocked(ctx, st); err != nil {
				b.log.Warn("redis broker: catching up a stream", "stream", st.name, "err", err)
			}
			cancel()
		}
		st.mu.Unlock()
	}
}

// catchUpLocked delivers what History holds after st.last (everything of
// a new epoch when the stream got one) and clears st.stale. st.mu is held.
func (b *Broker) catchUpLocked(ctx context.Context, st *sub) error {
	// A stream whose data Redis lost, or that went back before what this
	// node delivered, gets a new epoch now, as Subscribe would give it.
	r, err := b.read(ctx, st.name, st.last, 0, st.epoch, newEpoch(), st.lastID)
	if err != nil {
		return err
	}
	if r.back {
		b.log.Warn("redis broker: stream went back in time, new epoch", "stream", st.name,
			"epoch", st.epoch, "delivered", st.last, "top", r.pos.Offset, "new", r.pos.Epoch)
	}
	if r.pos.Epoch != st.epoch {
		b.log.Info("redis broker: stream has a new epoch", "stream", st.name, "old", st.epoch, "new", r.pos.Epoch)
		st.newEpochLocked(r.pos.Epoch)
	}
	b.deliverRetainedLocked(st, r, r.pos.Offset)
	if r.pos.Offset > st.last {
		st.last, st.lastID = r.pos.Offset, r.topID
	}
	st.stale = false
	return nil
}

// deliverRetainedLocked hands the handler the messages of r after st.last
// and up to upTo, logging those that history no longer had.
func (b *Broker) deliverRetainedLocked(st *sub, r readResult, upTo uint64) {
	if r.first > st.last+1 && upTo > st.last {
		b.log.Warn("redis broker: messages no longer in history", "stream", st.name,
			"epoch", st.epoch, "from", st.last+1, "to", min(r.first-1, upTo))
	}
	for i, m := range r.msgs {
		if m.Offset > st.last && m.Offset <= upTo {
			b.handler.HandleMessage(m)
			st.last, st.lastID = m.Offset, r.ids[i]
		}
	}
}

// onMessage is the pub/sub hook.
func (b *Broker) onMessage(pm rueidis.PubSubMessage) {
	switch pm.Channel {
	case b.bcast:
		topic, data, err := decodeBroadcast(pm.Message)
		if err != nil {
			b.log.Warn("redis broker: dropping a malformed broadcast", "err", err)
			return
		}
		b.handler.HandleBroadcast(topic, []byte(data))
		return
	case b.probeCh:
		b.mu.Lock()
		if ch, ok := b.probes[pm.Message]; ok {
			close(ch)
			delete(b.probes, pm.Message)
		}
		b.mu.Unlock()
		return
	}
	name, ok := b.streamOf(pm.Channel)
	if !ok {
		return
	}
	b.mu.Lock()
	st := b.streams[name]
	b.mu.Unlock()
	if st == nil {
		return
	}
	off, epoch, prev, id, data, err := decodeMessage(pm.Message)
	if err != nil {
		b.log.Warn("redis broker: dropping a malformed message", "stream", name, "err", err)
		return
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if !st.live || st.stale {
		return // the catch-up will read it from History
	}
	b.deliverLocked(st, broker.Message{Stream: name, Offset: off, Epoch: epoch, Data: []byte(data)}, prev, id)
}

// deliverLocked hands m to the handler after filling, from History, the
// hole between the last offset delivered and m's. id is m's, prev the
// previous message's. st.mu is held.
func (b *Broker) deliverLocked(st *sub, m broker.Message, prev, id string) {
	if m.Epoch != st.epoch {
		if slices.Contains(st.retired, m.Epoch) {
			return // from before a change a catch-up saw first
		}
		// A new life of the stream (removed, or lost by Redis): its
		// offsets start again at 1.
		st.newEpochLocked(m.Epoch)
	}
	if st.lastID != "" && (m.Offset == st.last && id != st.lastID || m.Offset == st.last+1 && prev != noID && prev != st.lastID) {
		// Another message at the offset this node delivered last, or
		// after another one than it: Redis went back in time (this
		// connection reads a demoted primary that relays the new one).
		// The catch-up gives the stream a new epoch.
		b.wentBackLocked(st)
		return
	}
	if m.Offset <= st.last {
		return // a duplicate
	}
	if m.Offset > st.last+1 {
		ctx, cancel := context.WithTimeout(b.ctx, b.opts.IOTimeout)
		r, err := b.read(ctx, st.name, st.last, int(m.Offset-1-st.last), m.Epoch, "", st.lastID)
		cancel()
		if err != nil {
			// History still has the hole and m: the supervisor fills it
			// once Redis answers.
			b.log.Warn("redis broker: cannot fill a hole yet", "stream", st.name, "from", st.last+1, "to", m.Offset, "err", err)
			st.stale = true
			b.poke()
			return
		}
		b.fills.Add(1)
		if r.back {
			b.wentBackLocked(st)
			return
		}
		if r.pos.Epoch == m.Epoch {
			b.deliverRetainedLocked(st, r, m.Offset-1)
		}
	}
	b.handler.HandleMessage(m)
	st.last, st.lastID = m.Offset, id
}

// wentBackLocked leaves st to the catch-up, which gives it a new epoch.
// st.mu is held.
func (b *Broker) wentBackLocked(st *sub) {
	b.log.Warn("redis broker: stream went back in time", "stream", st.name, "epoch", st.epoch, "delivered", st.last)
	st.stale = true
	b.poke()
}

// Subscribe implements broker.Broker: one SUBSCRIBE on the pub/sub
// connection, then one script call that makes the stream (with an epoch)
// if it has none and reads its top, so that delivery starts after it.
// Both have taken effect when Subscribe returns. Subscribing to a stream
// already subscribed does nothing. While Redis is unreachable Subscribe
// fails with an error wrapping broker.ErrUnavailable.
func (b *Broker) Subscribe(ctx context.Context, stream string) error {
	b.count("subscribe")
	if err := b.usable(ctx); err != nil {
		return b.fail("subscribe", stream, err)
	}
	b.mu.Lock()
	if b.closed.Load() {
		b.mu.Unlock()
		return b.fail("subscribe", stream, broker.ErrClosed)
	}
	if st, ok := b.streams[stream]; ok {
		b.mu.Unlock()
		select {
		case <-st.ready:
			return st.err
		case <-ctx.Done():
			return b.fail("subscribe", stream, ctx.Err())
		}
	}
	st := &sub{name: stream, channel: b.keys(stream).channel, ready: make(chan struct{}), mu: newChanMutex(), stale: true}
	b.streams[stream] = st
	pc := b.conn
	b.mu.Unlock()

	st.err = b.subscribe(ctx, st, pc)
	if st.err != nil {
		// A SUBSCRIBE that went through stays on the connection until it
		// breaks: the hook ignores its messages, the stream being gone.
		b.mu.Lock()
		if b.streams[stream] == st {
			delete(b.streams, stream)
		}
		b.mu.Unlock()
		st.err = b.fail("subscribe", stream, st.err)
	}
	close(st.ready)
	return st.err
}

func (b *Broker) subscribe(ctx context.Context, st *sub, pc *psConn) error {
	if pc == nil {
		return fmt.Errorf("%w: no pub/sub connection", broker.ErrUnavailable)
	}
	if err := pc.dc.Do(ctx, pc.dc.B().Subscribe().Channel(st.channel).Build()).Error(); err != nil {
		return err
	}
	if err := st.mu.LockCtx(ctx); err != nil {
		return err
	}
	defer st.mu.Unlock()
	r, err := b.read(ctx, st.name, 0, -1, "", newEpoch(), "")
	if err != nil {
		return err
	}
	st.epoch, st.last, st.lastID, st.live = r.pos.Epoch, r.pos.Offset, r.topID, true
	b.mu.Lock()
	// Had the connection broken meanwhile, publications between the
	// read and the new subscription would be missed: catch up.
	st.stale = b.conn != pc
	b.mu.Unlock()
	if st.stale {
		b.poke()
	}
	return nil
}

// Unsubscribe implements broker.Broker. No message of the stream reaches
// the handler after it returns.
func (b *Broker) Unsubscribe(ctx context.Context, stream string) error {
	b.count("unsubscribe")
	b.mu.Lock()
	st := b.streams[stream]
	delete(b.streams, stream)
	pc := b.conn
	b.mu.Unlock()
	if st == nil {
		return nil
	}
	select {
	case <-st.ready:
	case <-ctx.Done():
		return b.fail("unsubscribe", stream, ctx.Err())
	}
	if err := st.mu.LockCtx(ctx); err != nil {
		return b.fail("unsubscribe", stream, err)
	}
	st.live = false
	st.mu.Unlock()
	if pc == nil || b.closed.Load() {
		return nil // no connection, no subscription
	}
	err := pc.dc.Do(ctx, pc.dc.B().Unsubscribe().Channel(st.channel).Build()).Error()
	if _, isRedis := rueidis.IsRedisErr(err); err != nil && (isRedis || ctx.Err() != nil) {
		return b.fail("unsubscribe", stream, err)
	}
	// Nil, or a connection that broke and took the subscription with it.
	return nil
}
