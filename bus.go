package halley

import (
	"context"
	"fmt"
	"sync"
)

// BusScope is how clients read a bus, after Eliom_bus's scopes.
type BusScope uint8

const (
	// BusBroadcast (Eliom's Site scope) is one shared ring: every client
	// sees the same messages in the same order.
	BusBroadcast BusScope = iota
	// BusSession (Eliom's Client_process scope) gives each session its own
	// bounded queue of the bus's messages, dead once full, while the bus
	// itself stays one stream.
	BusSession
)

var busScopeNames = [...]string{"broadcast", "session"}

// String returns "broadcast" or "session".
func (s BusScope) String() string {
	if int(s) < len(busScopeNames) {
		return busScopeNames[s]
	}
	return fmt.Sprintf("BusScope(%d)", uint8(s))
}

// ParseBusScope parses a BusScope name; "" is BusBroadcast.
func ParseBusScope(s string) (BusScope, error) {
	switch s {
	case "", "broadcast":
		return BusBroadcast, nil
	case "session":
		return BusSession, nil
	}
	return 0, fmt.Errorf("%w: unknown bus scope %q", ErrInvalidOptions, s)
}

// Writer tells a bus filter who writes, and where.
type Writer struct {
	// Bus is the id of the bus written to.
	Bus string
	// Session is the writing client's session; nil when the server writes.
	Session *Session
	// User is the session's user, if the application set one.
	User string
	// RemoteAddr is the client's network address, when known.
	RemoteAddr string
}

// Server reports whether the server itself writes.
func (w Writer) Server() bool { return w.Session == nil }

// Filter runs on every write to a bus, by the server or a client, before
// the value enters the bus. It returns what enters (the same bytes, or
// enriched ones: the writer's session, user, address…), or an error to
// refuse the write: return Reject(reason) (or wrap ErrRejected) so that the
// client is told "rejected" and the reason.
type Filter func(ctx context.Context, w Writer, data []byte) ([]byte, error)

// BusOptions describe a bus to create.
type BusOptions struct {
	// Name is the bus's id. A name makes the id survive a restart (create
	// the bus with the same name at start-up) so clients reconnect to it;
	// with a persistent broker its recent messages survive too. Empty: a
	// fresh id.
	Name string
	// Scope is how clients read the bus. Default: BusBroadcast.
	Scope BusScope
	// Size is the ring size, and the bound of each session's queue with
	// BusSession. Default: Config.DefaultSize.
	Size int
	// Filter, if set, runs on every write.
	Filter Filter
	// Public lets every client read the bus when the hub has an
	// Authorizer (see ChannelOptions.Public); writing still needs the
	// right to.
	Public bool
}

// Bus is a channel that the server and every client can write to, and all
// read (Eliom_bus). Its id is a channel id: clients subscribe to it like
// any channel, and the HTTP API publishes to it (through the filter).
// Server code reads it with Reader, as many times as it likes: each reader
// has its own position. Its methods are safe for concurrent use.
type Bus struct {
	ch     *Channel
	scope  BusScope
	filter Filter

	mu       sync.Mutex // orders writes, and guards sessions
	sessions map[*Session]*Channel
}

// NewBus creates a bus. It fails like NewChannel.
func (h *Hub) NewBus(ctx context.Context, opts BusOptions) (*Bus, error) {
	if opts.Scope > BusSession {
		return nil, fmt.Errorf("%w: unknown bus scope %d", ErrInvalidOptions, opts.Scope)
	}
	c, err := h.NewChannel(ctx, ChannelOptions{Name: opts.Name, Size: opts.Size, Public: opts.Public})
	if err != nil {
		return nil, err
	}
	b := &Bus{ch: c, scope: opts.Scope, filter: opts.Filter}
	if opts.Scope == BusSession {
		b.sessions = make(map[*Session]*Channel)
	}
	c.mu.Lock()
	c.bus = b
	c.mu.Unlock()
	return b, nil
}

// Bus returns the live bus with the given id.
func (h *Hub) Bus(id string) (*Bus, bool) {
	c, ok := h.Channel(id)
	if !ok || c.bus == nil {
		return nil, false
	}
	return c.bus, true
}

// ID returns the bus's id, which is also its channel's id.
func (b *Bus) ID() string { return b.ch.id }

// Scope returns the bus's scope.
func (b *Bus) Scope() BusScope { return b.scope }

// Channel returns the bus's channel: its shared stream.
func (b *Bus) Channel() *Channel { return b.ch }

// Write writes data as the server: through the filter, then into the bus,
// where every participant, the server's readers included, gets it.
func (b *Bus) Write(ctx context.Context, data []byte) (Outcome, error) {
	return b.write(ctx, Writer{}, data)
}

// WriteAs writes data on behalf of a client (w.Session set): the filter
// sees who writes. Transports call it for client writes; writes of one
// client enter the bus in the order it made them.
func (b *Bus) WriteAs(ctx context.Context, w Writer, data []byte) (Outcome, error) {
	if w.Session != nil && w.User == "" {
		w.User = w.Session.User()
	}
	return b.write(ctx, w, data)
}

func (b *Bus) write(ctx context.Context, w Writer, data []byte) (Outcome, error) {
	w.Bus = b.ch.id
	if b.filter != nil {
		out, err := b.filter(ctx, w, data)
		if err != nil {
			return Outcome{}, fmt.Errorf("write to bus %q: %w", b.ch.id, err)
		}
		data = out
	}
	// One writer at a time, so that the shared stream and every session's
	// queue see the same order.
	b.mu.Lock()
	defer b.mu.Unlock()
	o, err := b.ch.write(ctx, data)
	if err != nil {
		return o, err
	}
	for s, c := range b.sessions {
		if _, err := c.writeLocal(data); err != nil && c.Closed() {
			delete(b.sessions, s)
		}
	}
	return o, nil
}

// Reader returns a reader of the bus from a position of its own (see
// Channel.Reader): Reader(b.Channel().Offset()) reads what comes next.
func (b *Bus) Reader(after uint64) *Reader { return b.ch.Reader(after) }

// Close ends the bus: its readers are told it ended. Closing its channel
// (Hub.CloseChannel with the bus id) does the same.
func (b *Bus) Close(ctx context.Context) error { return b.ch.Close(ctx) }

// closeSessions ends the sessions' queues of a closing bus.
func (b *Bus) closeSessions(ctx context.Context) {
	b.mu.Lock()
	chans := make([]*Channel, 0, len(b.sessions))
	for _, c := range b.sessions {
		chans = append(chans, c)
	}
	b.sessions = nil
	b.mu.Unlock()
	for _, c := range chans {
		_ = c.Close(ctx)
	}
}

// channelFor returns the channel a session reads the bus through: the
// shared one, or with BusSession the session's own queue, made on first
// use.
func (b *Bus) channelFor(ctx context.Context, s *Session) (*Channel, error) {
	if b.scope != BusSession || s == nil {
		return b.ch, nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.sessions == nil {
		return nil, fmt.Errorf("bus %q: %w", b.ch.id, ErrChannelClosed)
	}
	if c, ok := b.sessions[s]; ok && !c.Closed() {
		return c, nil
	}
	c, err := b.ch.hub.NewChannel(ctx, ChannelOptions{Kind: KindSession, Session: s, Size: b.ch.size})
	if err != nil {
		return nil, err
	}
	b.sessions[s] = c
	return c, nil
}
