package halley

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/halleyhq/halley/broker"
	"github.com/halleyhq/halley/broker/memory"
	"github.com/halleyhq/halley/internal/ring"
)

// Hub owns channels and sessions, and serves them to clients through its
// transports (see Handler). Create it with New and stop it with Shutdown.
// Its methods are safe for concurrent use.
type Hub struct {
	cfg    Config
	broker broker.Broker
	// reg is the broker as a registry, when it is one: the hub is then a
	// node of a cluster (cluster.go).
	reg broker.Registry
	log *slog.Logger

	// ctx is cancelled by Shutdown; it bounds the hub's goroutines, which
	// wg tracks.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	down   atomic.Bool
	// wgMu orders the goroutines that join wg after New (track) before
	// Shutdown's Wait.
	wgMu     sync.Mutex
	wgClosed bool

	mu       sync.RWMutex
	channels map[string]*Channel
	internal int // channels of the hub's own, such as notification rings

	smu      sync.RWMutex
	sessions map[string]*Session

	nmu       sync.RWMutex
	notifiers map[string]*notifier

	// regEpoch is the life of the registry this node recorded its state
	// in (cluster.go).
	regMu    sync.Mutex
	regEpoch string

	// node identifies this hub among the nodes sharing a broker.
	node string

	origins  originPatterns
	limits   *limiter
	refusals refusals
	stats    stats
	writes   writeCounts // see pace.go

	control control
	pool    writerPool // the SSE streams' writers (writers.go)
	// returned hands connections taken over back to net/http (returned.go).
	returned     atomic.Pointer[returnedListener]
	returnedOnce sync.Once

	presencePump presencePump
}

// New returns a hub configured by cfg (whose zero value works) and starts
// its broker.
func New(cfg Config) (*Hub, error) {
	cfg = cfg.withDefaults()
	h := &Hub{
		cfg:       cfg,
		broker:    cfg.Broker,
		log:       cfg.Logger,
		channels:  make(map[string]*Channel),
		sessions:  make(map[string]*Session),
		notifiers: make(map[string]*notifier),
		node:      newID(),
	}
	var err error
	if h.origins, err = checkOrigins(cfg.AllowedOrigins); err != nil {
		return nil, err
	}
	h.limits = newLimiter(cfg)
	h.refusals.log = h.log
	if h.broker == nil {
		h.broker = memory.New()
	}
	h.reg, _ = h.broker.(broker.Registry)
	h.ctx, h.cancel = context.WithCancel(context.Background())
	h.control.init(cfg.PollTimeout)
	h.pool.init(h)
	if err := h.broker.Start(h.ctx, (*brokerHandler)(h)); err != nil {
		h.cancel()
		return nil, fmt.Errorf("halley: start broker: %w", err)
	}
	if h.clustered() {
		h.startPresence()
		h.checkRegistry()
		h.report()
	}
	h.wg.Add(1)
	go h.heartbeats()
	return h, nil
}

// heartbeats wakes the streams every Config.Heartbeat, so that idle ones
// send their heartbeat: one goroutine and one timer for all of them.
func (h *Hub) heartbeats() {
	defer h.wg.Done()
	t := time.NewTicker(h.cfg.Heartbeat)
	defer t.Stop()
	var check <-chan time.Time // nil: never, alone
	if h.clustered() {
		rt := time.NewTicker(registryCheck)
		defer rt.Stop()
		check = rt.C
	}
	for {
		select {
		case <-check:
			h.checkRegistry()
			h.report()
			h.presencePump.poke()
		case now := <-t.C:
			h.control.tick()
			h.limits.sweep(now)
		case <-h.ctx.Done():
			return
		}
	}
}

// Done returns a channel closed when the hub starts shutting down, for
// handlers of the embedding program that hold a request open (such as
// the HTTP API's publish stream) to end it.
func (h *Hub) Done() <-chan struct{} { return h.ctx.Done() }

// Shutdown stops the hub: waiting clients are answered at once (as at a
// poll timeout, so they come back to a new server), new requests are
// refused, lazy producers and session timers stop, and the broker is
// closed. Channels are not ended: named channels live on in a persistent
// broker. Shutdown waits for the hub's goroutines or for ctx.
func (h *Hub) Shutdown(ctx context.Context) error {
	if h.down.Swap(true) {
		return nil
	}
	h.cancel()
	h.control.release()

	h.smu.Lock()
	sessions := make([]*Session, 0, len(h.sessions))
	for _, s := range h.sessions {
		sessions = append(sessions, s)
	}
	h.smu.Unlock()
	for _, s := range sessions {
		if h.clustered() {
			s.closeHere() // other nodes serve it on
		} else {
			s.Close()
		}
	}

	// No goroutine joins wg from now on (track), so Wait is not raced.
	h.wgMu.Lock()
	h.wgClosed = true
	h.wgMu.Unlock()
	done := make(chan struct{})
	go func() {
		h.wg.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = fmt.Errorf("halley: shutdown: %w", ctx.Err())
	}
	if h.clustered() {
		// Gone from the sums at once, rather than when the report is stale.
		_ = h.reg.Release(ctx, tableNodes, h.node)
		_ = h.reg.Release(ctx, tablePresence, h.node)
	}
	if cerr := h.broker.Close(ctx); cerr != nil && err == nil {
		err = fmt.Errorf("halley: close broker: %w", cerr)
	}
	return err
}

func (h *Hub) isShutdown() bool { return h.down.Load() }

// Broker returns the hub's broker.
func (h *Hub) Broker() broker.Broker { return h.broker }

// newID returns 128 random bits, base64url-encoded without padding: 22
// characters, never '+' or '/'.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// NewChannel creates a channel. It fails with ErrNameTaken, ErrInvalidName,
// ErrTooManyChannels, ErrInvalidOptions, ErrSessionClosed or ErrShutdown.
//
// A broadcast or newest channel with a name picks up the history the
// broker still has for that name, so with a persistent broker its recent
// messages survive a restart.
func (h *Hub) NewChannel(ctx context.Context, opts ChannelOptions) (*Channel, error) {
	return h.newChannel(ctx, opts, nil, nil)
}

// newChannel is NewChannel for a plain channel (bus nil) or the channel of
// a bus (which gets its bus before anybody can find it), spec describing
// it for Config.Restore.
func (h *Hub) newChannel(ctx context.Context, opts ChannelOptions, bus *Bus, spec []byte) (*Channel, error) {
	if opts.Name != "" && !validName(opts.Name) {
		return nil, fmt.Errorf("%w: %q", ErrInvalidName, opts.Name)
	}
	if opts.Size < 0 {
		return nil, fmt.Errorf("%w: negative size", ErrInvalidOptions)
	}
	size := opts.Size
	if size == 0 {
		size = h.cfg.DefaultSize
	}
	switch opts.Kind {
	case KindBroadcast:
	case KindNewest:
		size = 1
	case KindSession:
		if opts.Session == nil {
			return nil, fmt.Errorf("%w: a session channel needs a session", ErrInvalidOptions)
		}
	case KindLazy:
		if (opts.Producer == nil) == (opts.Seq == nil) {
			return nil, fmt.Errorf("%w: a lazy channel needs a producer or a sequence", ErrInvalidOptions)
		}
	default:
		return nil, fmt.Errorf("%w: unknown kind %d", ErrInvalidOptions, opts.Kind)
	}
	c := &Channel{
		hub:      h,
		kind:     opts.Kind,
		size:     size,
		session:  opts.Session,
		producer: opts.Producer,
		seq:      opts.Seq,
		public:   opts.Public && opts.Kind != KindSession,
		maxBytes: max(0, cmp.Or(opts.MaxBytes, h.cfg.RingBytes)),
		ring:     ring.New[*message](size),
	}
	if opts.Presence {
		c.pres = newPresence()
	}
	if bus != nil {
		bus.ch, c.bus = c, bus
	}
	c.shared = h.clustered() && c.kind != KindLazy
	if c.kind == KindLazy || c.kind == KindSession && !c.shared {
		// Local channels have their life here; broker-backed ones take
		// the epoch of their stream from the broker.
		c.epoch = newID()
	}
	if err := h.register(c, opts.Name); err != nil {
		return nil, err
	}
	if c.shared {
		if err := h.claim(ctx, c, recordOf(c, bus, spec), opts.Declare); err != nil {
			h.forget(c)
			return nil, err
		}
	}
	if c.session != nil && !c.session.adopt(c) {
		h.forget(c)
		if c.shared {
			_ = h.release(ctx, c)
		}
		return nil, fmt.Errorf("new channel: %w", ErrSessionClosed)
	}
	switch c.kind {
	case KindSession:
		if !c.shared {
			break
		}
		fallthrough
	case KindBroadcast, KindNewest:
		if err := h.attach(ctx, c); err != nil {
			_ = c.Close(ctx)
			return nil, err
		}
	case KindLazy:
		if !h.track(1) {
			_ = c.Close(ctx)
			return nil, ErrShutdown
		}
		go c.produce()
	}
	return c, nil
}

// newRing makes a session's internal ring (its notifications), not counted
// against Config.MaxChannels. Alone, it is kept on this node; in a cluster
// it goes through the broker, under the same id on every node, so that any
// node serves it to the session.
func (h *Hub) newRing(s *Session, size int) (*Channel, error) {
	c := &Channel{
		hub: h, kind: KindBroadcast, local: !h.clustered(), shared: h.clustered(), size: size, session: s,
		maxBytes: max(0, h.cfg.RingBytes), ring: ring.New[*message](size),
	}
	c.internal = true
	name := ""
	if c.shared {
		name = notifyID(s.id)
	} else {
		c.epoch = newID()
	}
	if err := h.register(c, name); err != nil {
		return nil, err
	}
	if !s.adopt(c) {
		h.forget(c)
		return nil, fmt.Errorf("new channel: %w", ErrSessionClosed)
	}
	if c.shared {
		ctx, cancel := h.op()
		defer cancel()
		err := h.claim(ctx, c, recordOf(c, nil, nil), true)
		if err == nil {
			err = h.attach(ctx, c)
		}
		if err != nil {
			c.closeHere()
			return nil, err
		}
	}
	return c, nil
}

// register adds c to the registry under name, or under a fresh id.
func (h *Hub) register(c *Channel, name string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.isShutdown() {
		return ErrShutdown
	}
	if !c.internal && h.cfg.MaxChannels > 0 && h.userChannels() >= h.cfg.MaxChannels {
		return fmt.Errorf("%w: the cap is %d", ErrTooManyChannels, h.cfg.MaxChannels)
	}
	if name != "" {
		if _, taken := h.channels[name]; taken {
			return fmt.Errorf("%w: %q", ErrNameTaken, name)
		}
		c.id = name
	} else {
		for c.id = newID(); h.channels[c.id] != nil; c.id = newID() {
		}
	}
	h.channels[c.id] = c
	if c.internal {
		h.internal++
	}
	return nil
}

// attach subscribes to the channel's stream and loads what the broker
// retained of it.
func (h *Hub) attach(ctx context.Context, c *Channel) error {
	if err := h.broker.Subscribe(ctx, c.id); err != nil {
		return fmt.Errorf("new channel %q: subscribe: %w", c.id, err)
	}
	hist, err := h.broker.History(ctx, c.id, 0, c.size)
	if err != nil {
		return fmt.Errorf("new channel %q: history: %w", c.id, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fillLocked(hist)
	return nil
}

// fillLocked puts the history that attach read in front of what the
// subscription delivered while History ran: those messages came first and
// started the ring at their offset, so without it a copy made while the
// channel is written would begin there, and a reader asking for what came
// before would silently miss it. c.mu is held.
func (c *Channel) fillLocked(hist broker.HistoryResult) {
	pos, r := hist.Position, c.ring
	if c.epoch == "" {
		c.epoch = pos.Epoch
	}
	switch {
	case pos.Offset == 0:
		return // nothing written yet
	case r.Len() > 0 && c.epoch != pos.Epoch:
		return // the subscription delivered a newer life of the channel
	case r.Len() > 0 && (len(hist.Messages) == 0 || r.First() <= hist.Messages[0].Offset):
		return // the ring holds all the history has
	case r.Len() == 0 && r.Top() >= pos.Offset:
		return
	}
	later, _ := r.AppendSince(nil, pos.Offset, 0)
	c.epoch = pos.Epoch
	if len(hist.Messages) == 0 {
		c.resetLocked(pos.Offset)
	} else {
		c.resetLocked(hist.Messages[0].Offset - 1)
	}
	for _, m := range hist.Messages {
		c.storeLocked(&message{offset: m.Offset, epoch: m.Epoch, data: m.Data})
	}
	for _, m := range later {
		c.storeLocked(m)
	}
}

// userChannels counts the channels that count against the cap. h.mu is
// held.
func (h *Hub) userChannels() int { return len(h.channels) - h.internal }

// forget removes c from the registry.
func (h *Hub) forget(c *Channel) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.channels[c.id] == c {
		delete(h.channels, c.id)
		if c.internal {
			h.internal--
		}
	}
}

// Channel returns the live channel with the given id. In a cluster, a
// channel made on another node is found through the broker's registry.
func (h *Hub) Channel(id string) (*Channel, bool) {
	c, ok := h.local(id)
	if ok || !h.clustered() {
		return c, ok
	}
	return h.found(id)
}

// ChannelCount returns the number of live channels (not counting the
// hub's internal ones, such as sessions' notification rings).
func (h *Hub) ChannelCount() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.userChannels()
}

// CloseChannel closes the live channel with the given id, or fails with
// ErrUnknownChannel.
func (h *Hub) CloseChannel(ctx context.Context, id string) error {
	c, ok := h.Channel(id)
	if !ok {
		return fmt.Errorf("close %q: %w", id, ErrUnknownChannel)
	}
	return c.Close(ctx)
}

// brokerHandler is the hub as the broker sees it.
type brokerHandler Hub

func (b *brokerHandler) HandleMessage(m broker.Message) int {
	return b.HandleMessageContext(context.Background(), m)
}

// HandleMessageContext implements broker.ContextHandler: a delivery
// within a Publish made under Hub.DeferWrites keeps the streams it wakes
// for the publisher's goroutine.
func (b *brokerHandler) HandleMessageContext(ctx context.Context, m broker.Message) int {
	h := (*Hub)(b)
	d := h.deferredOf(ctx)
	// The channel being written (not closed since) needs no look-up.
	if c := d.writingTo(m.Stream); c != nil {
		if n, open := c.deliverOpen(d, m); open {
			return n
		}
	}
	c, ok := h.local(m.Stream)
	if !ok {
		return 0
	}
	return c.deliver(d, m)
}

func (b *brokerHandler) HandleBroadcast(topic string, data []byte) {
	switch topic {
	case notifyTopic:
		(*Hub)(b).handleNotify(data)
	case commandTopic:
		(*Hub)(b).handleCommand(data)
	case endTopic:
		(*Hub)(b).handleEnd(data)
	case presenceTopic:
		(*Hub)(b).handlePresence(data)
	}
}

// track adds n goroutines to the hub's wait group, unless Shutdown is
// waiting for them already; it reports whether it did. Goroutines started
// after New join through it.
func (h *Hub) track(n int) bool {
	h.wgMu.Lock()
	defer h.wgMu.Unlock()
	if h.wgClosed {
		return false
	}
	h.wg.Add(n)
	return true
}
