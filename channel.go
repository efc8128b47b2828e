package halley

import (
	"context"
	"fmt"
	"iter"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/halleyhq/halley/broker"
	"github.com/halleyhq/halley/internal/ring"
	"github.com/halleyhq/halley/internal/wire/frame"
	"github.com/halleyhq/halley/internal/wire/ocsigen"
)

// MaxNameLen is the longest channel name accepted, in bytes.
const MaxNameLen = 256

// Producer makes the values of a lazy channel. It is called only while a
// client waits on the channel, one call at a time, and should block until it
// has a value or ctx is done (the last client stopped waiting, or the hub is
// shutting down). Returning ErrChannelClosed or io.EOF ends the channel;
// any other error is logged and ends it too.
type Producer func(ctx context.Context) ([]byte, error)

// ChannelOptions describe a channel to create.
type ChannelOptions struct {
	// Name is the channel id. Empty means a fresh, unguessable id (128
	// random bits, URL-safe). A name used by a live channel fails with
	// ErrNameTaken.
	Name string
	// Kind is the channel's behaviour. Default: KindBroadcast.
	Kind Kind
	// Size is the ring size (broadcast, lazy) or the bound on unread
	// messages (session). Default: Config.DefaultSize. Newest channels
	// always keep one message.
	Size int
	// Session owns the channel. Required for KindSession; optional for
	// KindLazy. The channel is closed when its session closes.
	Session *Session
	// Producer makes the values of a KindLazy channel; a KindLazy channel
	// needs a Producer or a Seq.
	Producer Producer
	// Seq, instead of Producer, gives the values of a KindLazy channel as
	// an iterator, pulled one value per demand; the channel ends with the
	// sequence. Seq must not block: unlike a Producer, it cannot be
	// interrupted when the waiting client leaves (use it for generators
	// that compute a value when asked).
	Seq iter.Seq[[]byte]
	// MaxBytes bounds the payload bytes the ring (or a session channel's
	// queue) retains, beside Size: past it the oldest messages are
	// dropped, and readers that had not got them get a channel_full gap
	// (a session channel's reader: its queue is dead). Default:
	// Config.RingBytes; negative: no byte bound.
	MaxBytes int
	// Public lets every client read the channel, with or without a token,
	// when the hub has an Authorizer (without one, every channel but
	// those of sessions is readable by everybody). Session channels are
	// never public.
	Public bool
	// Declare, in a cluster, makes the channel join one of the same name
	// and kind that another node made, instead of failing with
	// ErrNameTaken: channels that the configuration or code of every node
	// creates are declared. Alone, it changes nothing.
	Declare bool
	// Presence makes the channel keep its members (each session and user
	// reading it, with their connections), answer them in Hub.Presence,
	// and tell the subscribers that ask for it when a member joins or
	// leaves (presence.go). Without it, Hub.Presence gives counts only.
	Presence bool
}

// Outcome is the result of a write, after Ocsigen's write outcome.
type Outcome struct {
	// Offset is the message's offset in its channel.
	Offset uint64
	// Delivered is the number of client connections waiting on or
	// streaming the channel on this node that the message was handed to
	// when it was written; -1 when the broker delivers asynchronously and
	// the count is unknown.
	Delivered int
}

// Success reports whether the message reached at least one connected
// client (Ocsigen's `Success; otherwise `Failure).
func (o Outcome) Success() bool { return o.Delivered > 0 }

// Message is a message read from a channel.
type Message struct {
	// Channel is the channel id.
	Channel string
	// Offset numbers the message in its channel: 1, 2, 3…
	Offset uint64
	// Data is the payload. It is shared: do not modify it.
	Data []byte
}

// message is a stored message with its encodings, computed at most once
// per wire format and then shared by every connection.
type message struct {
	offset uint64
	epoch  string
	data   []byte
	// shared holds the wire encodings connections share, made by the
	// first that needs one (sharedMade): a message that only one
	// connection reads (solo) usually never has them, and is then less
	// than half the size.
	shared atomic.Pointer[encodings]
	// solo tells that at most one client connection read the channel
	// when the message came: a stream then encodes the message's event
	// or frame into its own buffer rather than make one on the message
	// to share (appendSoloEvent, appendItems).
	solo bool
	// json tells that data is known to be one compact JSON value (the API
	// checked it: package jsonmark), sent as the frame's "json" field
	// unchecked; false: unknown, checked when the frame is made.
	json bool
	at   int64 // arrival at the hub (hubClock), for the write latency
}

// encodings are the shared encodings of a message.
type encodings struct {
	comet encoding // Ocsigen answer line
	frame encoding // Halley msg frame
	sse   encoding // SSE event of a one-channel stream (see sseEventOf)
	// sseWhole tells that sse is the whole event, not its head; set
	// before sse is done.
	sseWhole bool
}

// sharedMade returns the message's shared encodings, made now if they
// were not.
func (m *message) sharedMade() *encodings {
	if e := m.shared.Load(); e != nil {
		return e
	}
	if e := new(encodings); m.shared.CompareAndSwap(nil, e) {
		return e
	}
	return m.shared.Load()
}

// frameLoaded returns the message's shared frame, nil when none is made.
func (m *message) frameLoaded() []byte {
	if e := m.shared.Load(); e != nil {
		return e.frame.load()
	}
	return nil
}

// sseLoaded returns the message's shared SSE event (or its head), nil
// when none is made.
func (m *message) sseLoaded() []byte {
	if e := m.shared.Load(); e != nil {
		return e.sse.load()
	}
	return nil
}

// cometLoaded returns the message's shared comet line, nil when none is
// made.
func (m *message) cometLoaded() []byte {
	if e := m.shared.Load(); e != nil {
		return e.comet.load()
	}
	return nil
}

// encoding is one wire encoding of a message, made by the first connection
// that needs it and then shared: the fast path is one atomic load. The
// bytes are held in the encoding itself (no pointer to a slice to allocate
// beside them): done, once set, publishes b.
type encoding struct {
	done atomic.Bool
	mu   sync.Mutex
	b    []byte
}

func (e *encoding) load() []byte {
	if e.done.Load() {
		return e.b
	}
	return nil
}

func (e *encoding) make(encode func() []byte) []byte {
	if e.done.Load() {
		return e.b
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.done.Load() {
		e.b = encode()
		e.done.Store(true)
	}
	return e.b
}

// cometLine returns the message's Ocsigen answer line "id:escaped".
func (m *message) cometLine(id string) []byte {
	e := m.sharedMade()
	if b := e.comet.load(); b != nil {
		return b
	}
	return e.comet.make(func() []byte { return ocsigen.AppendLine(nil, id, m.data) })
}

// consumed reports whether reads of the channel acknowledge what they
// take (session and lazy channels), and so need the lock exclusively.
func (c *Channel) consumed() bool { return c.kind == KindSession || c.kind == KindLazy }

func (c *Channel) lockRead() {
	if c.consumed() {
		c.mu.Lock()
	} else {
		c.mu.RLock()
	}
}

func (c *Channel) unlockRead() {
	if c.consumed() {
		c.mu.Unlock()
	} else {
		c.mu.RUnlock()
	}
}

// Channel is a server-to-client channel. Its methods are safe for
// concurrent use.
type Channel struct {
	hub      *Hub
	id       string
	kind     Kind
	size     int
	session  *Session
	producer Producer
	seq      iter.Seq[[]byte]
	bus      *Bus // set when the channel carries a bus
	local    bool // a broadcast ring kept on this node, outside the broker
	internal bool // the hub's own: not counted against MaxChannels
	// shared: the channel is in the cluster's registry, its messages in
	// the broker (session channels and notification rings too).
	shared bool
	rec    []byte // its record in the registry, when shared
	public bool   // readable without rights (ChannelOptions.Public)

	mu    sync.RWMutex // reads of broadcast and newest channels share it
	ring  *ring.Ring[*message]
	epoch string
	bytes int // payload bytes in the ring
	// maxBytes bounds bytes (ChannelOptions.MaxBytes); 0: no bound.
	maxBytes int
	closed   bool
	full     bool   // session channel overflowed: dead for its client
	acked    uint64 // session and lazy: highest offset handed over for good
	waiters  waiterSet
	conns    int // waiters that are client connections
	demand   lazyDemand
	pres     *presence // ChannelOptions.Presence; nil: none
	// fname is the id's forms in frames, made by the first reader
	// (frameName).
	fname atomic.Pointer[frame.Name]
}

// frameName returns the forms in frames of id, a name the channel is
// read by: the channel's own, made once, when id is its id.
func (c *Channel) frameName(id string) *frame.Name {
	if id != c.id {
		return frame.NewName(id)
	}
	if n := c.fname.Load(); n != nil {
		return n
	}
	c.fname.CompareAndSwap(nil, frame.NewName(id))
	return c.fname.Load()
}

// ID returns the channel's id, which clients use to read it.
func (c *Channel) ID() string { return c.id }

// Kind returns the channel's kind.
func (c *Channel) Kind() Kind { return c.kind }

// Size returns the ring size or queue bound.
func (c *Channel) Size() int { return c.size }

// Session returns the session that owns the channel, or nil.
func (c *Channel) Session() *Session { return c.session }

// Public reports whether every client may read the channel (see
// ChannelOptions.Public).
func (c *Channel) Public() bool { return c.public }

// Listeners returns the number of client connections currently waiting on
// or streaming the channel on this node (Ocsigen's listeners).
func (c *Channel) Listeners() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.conns
}

// Offset returns the offset of the channel's last message (0 before the
// first).
func (c *Channel) Offset() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.ring.Top()
}

// Closed reports whether the channel was closed.
func (c *Channel) Closed() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.closed
}

// Write sends data on the channel. Broadcast and newest channels publish
// through the broker, which numbers the message; session channels queue it
// for their client; a bus's channel runs the bus's filter first. Writing to
// a lazy channel fails with ErrWrongKind, to a closed one with
// ErrChannelClosed, to a session channel that overflowed with
// ErrChannelFull, and a message over Config.MaxMessageSize with ErrTooLarge.
func (c *Channel) Write(ctx context.Context, data []byte) (Outcome, error) {
	if c.bus != nil {
		return c.bus.write(ctx, Writer{}, data)
	}
	return c.write(ctx, data)
}

// write is Write without a bus's filter.
func (c *Channel) write(ctx context.Context, data []byte) (Outcome, error) {
	d := c.hub.deferredOf(ctx)
	defer d.endWrite()
	if len(data) > c.hub.cfg.MaxMessageSize {
		return Outcome{}, fmt.Errorf("write to %q: %w: %d bytes, the limit is %d", c.id, ErrTooLarge, len(data), c.hub.cfg.MaxMessageSize)
	}
	switch {
	case c.kind == KindLazy:
		return Outcome{}, fmt.Errorf("write to %q: %w", c.id, ErrWrongKind)
	case c.kind == KindSession && !c.shared || c.local:
		return c.writeLocal(d, data)
	}
	if c.Closed() {
		return Outcome{}, fmt.Errorf("write to %q: %w", c.id, ErrChannelClosed)
	}
	if c.hub.isShutdown() {
		return Outcome{}, fmt.Errorf("write to %q: %w", c.id, ErrShutdown)
	}
	d.beginWrite(c)
	res, err := c.hub.broker.Publish(ctx, c.id, data, broker.PublishOptions{HistorySize: c.size, HistoryBytes: c.maxBytes})
	if err != nil {
		return Outcome{}, fmt.Errorf("write to %q: %w", c.id, err)
	}
	c.hub.countPublished()
	return Outcome{Offset: res.Position.Offset, Delivered: res.Delivered}, nil
}

// writeLocal appends to a channel that does not go through the broker;
// the streams it wakes go to d, when it has room (Hub.DeferWrites).
func (c *Channel) writeLocal(d *deferredWrites, data []byte) (Outcome, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.closed:
		return Outcome{}, fmt.Errorf("write to %q: %w", c.id, ErrChannelClosed)
	case c.full:
		return Outcome{}, fmt.Errorf("write to %q: %w", c.id, ErrChannelFull)
	}
	if c.kind == KindSession && c.ring.Top()-c.acked >= uint64(c.size) {
		// Overflow: the unread messages are dropped and the channel is
		// dead for its client, which is told once.
		c.full = true
		c.resetLocked(c.ring.Top())
		c.wakeLocked()
		return Outcome{}, fmt.Errorf("write to %q: %w", c.id, ErrChannelFull)
	}
	off := c.ring.Top() + 1
	c.storeLocked(&message{offset: off, epoch: c.epoch, data: data, at: hubClock(), solo: c.conns <= 1, json: d.isJSON(data)})
	c.hub.countPublished()
	if c.full {
		c.wakeLocked()
		return Outcome{}, fmt.Errorf("write to %q: %w", c.id, ErrChannelFull)
	}
	return Outcome{Offset: off, Delivered: c.wakeDeferredLocked(d)}, nil
}

// deliver stores a message coming from the broker and wakes the waiters,
// the streams among them in d when it has room (Hub.DeferWrites). It
// returns how many client connections were waiting.
func (c *Channel) deliver(d *deferredWrites, m broker.Message) int {
	n, _ := c.deliverOpen(d, m)
	return n
}

// deliverOpen is deliver, and reports false when the channel is closed
// (it then stores nothing).
func (c *Channel) deliverOpen(d *deferredWrites, m broker.Message) (int, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, false
	}
	if m.Epoch != c.epoch {
		c.epoch = m.Epoch
		c.resetLocked(m.Offset - 1)
	}
	if !c.storeLocked(&message{offset: m.Offset, epoch: m.Epoch, data: m.Data, at: hubClock(), solo: c.conns <= 1, json: d.isJSON(m.Data)}) {
		return 0, true
	}
	return c.wakeDeferredLocked(d), true
}

// storeLocked puts m in the ring, at its offset, and keeps the ring within
// its byte bound by dropping the oldest messages (never the newest): a
// reader that had not got them gets a channel_full gap. It reports false for
// an offset already stored. c.mu is held.
func (c *Channel) storeLocked(m *message) bool {
	r := c.ring
	switch {
	case m.offset <= r.Top():
		return false
	case m.offset != r.Top()+1:
		c.bytes = 0 // Put forgets everything to start again at the offset
	case r.Len() == r.Size():
		if old, ok := r.Get(r.First()); ok {
			c.bytes -= len(old.data)
		}
	}
	r.Put(m.offset, m)
	c.bytes += len(m.data)
	for c.maxBytes > 0 && c.bytes > c.maxBytes && r.Len() > 1 {
		old, _ := r.Get(r.First())
		if c.kind == KindSession && !c.shared && old.offset > c.acked {
			// The unread messages are over the bound: the queue
			// overflowed, as past its Size.
			c.full = true
			c.resetLocked(r.Top())
			break
		}
		c.bytes -= len(old.data)
		r.DropOldest()
	}
	return true
}

// resetLocked empties the ring, the next message getting offset top+1.
func (c *Channel) resetLocked(top uint64) {
	c.ring.Reset(top)
	c.bytes = 0
}

// wakeLocked wakes every waiter and returns the number of connections.
func (c *Channel) wakeLocked() int { return c.wakeDeferredLocked(nil) }

// wakeDeferredLocked is wakeLocked for a write made under
// Hub.DeferWrites: the streams it queues go to d while it has room.
func (c *Channel) wakeDeferredLocked(d *deferredWrites) int {
	c.waiters.walk(func(b []*waiter) { wakeBatch(b, d) })
	return c.conns
}

// addWaiter registers w; it reports false when the channel is closed.
func (c *Channel) addWaiter(w *waiter) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	if !c.waiters.add(w) {
		return true
	}
	if w.conn {
		c.conns++
		if c.pres != nil {
			c.joinLocked(w.who)
		}
	}
	if c.kind == KindLazy {
		c.demand.add()
	}
	if testHookListeners != nil {
		testHookListeners(c)
	}
	return true
}

// testHookListeners, set only by tests, runs whenever a waiter is added or
// removed.
var testHookListeners func(*Channel)

func (c *Channel) removeWaiter(w *waiter) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.waiters.remove(w) {
		return
	}
	if w.conn {
		c.conns--
		if c.pres != nil {
			c.dropMemberLocked(w)
		}
	}
	if c.kind == KindLazy {
		c.demand.remove()
	}
	if testHookListeners != nil {
		testHookListeners(c)
	}
}

// Close ends the channel: its waiting clients are told it ended, its name
// becomes free, and the broker forgets its history. Closing twice is a
// no-op.
func (c *Channel) Close(ctx context.Context) error {
	// Out of the registry first, so that a reader woken by the close
	// finds the name free.
	c.hub.forget(c)
	if !c.markClosed() {
		return nil
	}
	if c.session != nil {
		c.session.forget(c)
	}
	if c.bus != nil {
		c.bus.closeSessions()
	}
	if c.shared {
		if err := c.hub.release(ctx, c); err != nil {
			return err
		}
	}
	if c.kind == KindBroadcast && !c.local || c.kind == KindNewest || c.shared {
		if err := c.hub.broker.Unsubscribe(ctx, c.id); err != nil {
			return fmt.Errorf("close %q: %w", c.id, err)
		}
		if err := c.hub.broker.Remove(ctx, c.id); err != nil {
			return fmt.Errorf("close %q: %w", c.id, err)
		}
	}
	return nil
}

// markClosed flags the channel closed and wakes everyone; it reports false
// if it already was.
func (c *Channel) markClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.closed = true
	c.wakeLocked()
	c.demand.close()
	return true
}

// validName reports whether a channel or notifier name is 1 to MaxNameLen
// bytes of UTF-8 without control characters, and neither "." nor ".."
// (which paths cannot carry: /api/channels/.. is the parent).
func validName(name string) bool {
	if name == "" || len(name) > MaxNameLen || !utf8.ValidString(name) || name == "." || name == ".." {
		return false
	}
	return !strings.ContainsFunc(name, isControl)
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }
