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
	// Declare, in a cluster, makes the bus join one of the same name and
	// scope that another node made, instead of failing with ErrNameTaken
	// (see ChannelOptions.Declare).
	Declare bool
	// Presence gives the bus's channel presence (see
	// ChannelOptions.Presence).
	Presence bool
	// Spec, in a cluster, is what Config.Restore needs to make the bus
	// again on another node that a client asks for it (its filter's hook,
	// say). It is stored with the bus's record; without it, another node
	// serves the bus without a filter unless its own code declares it.
	Spec []byte
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

	mu    sync.Mutex // orders writes, and guards seats
	seats map[*Session]*seat
}

// NewBus creates a bus. It fails like NewChannel.
func (h *Hub) NewBus(ctx context.Context, opts BusOptions) (*Bus, error) {
	if opts.Scope > BusSession {
		return nil, fmt.Errorf("%w: unknown bus scope %d", ErrInvalidOptions, opts.Scope)
	}
	b := &Bus{scope: opts.Scope, filter: opts.Filter}
	if opts.Scope == BusSession {
		b.seats = make(map[*Session]*seat)
	}
	if _, err := h.newChannel(ctx, ChannelOptions{Name: opts.Name, Size: opts.Size, Public: opts.Public, Declare: opts.Declare, Presence: opts.Presence}, b, opts.Spec); err != nil {
		return nil, err
	}
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
	// Every session's queue is a seat in the one shared ring: nothing
	// more to do for them.
	return b.ch.write(ctx, data)
}

// Reader returns a reader of the bus from a position of its own (see
// Channel.Reader): Reader(b.Channel().Offset()) reads what comes next.
func (b *Bus) Reader(after uint64) *Reader { return b.ch.Reader(after) }

// Close ends the bus: its readers are told it ended. Closing its channel
// (Hub.CloseChannel with the bus id) does the same.
func (b *Bus) Close(ctx context.Context) error { return b.ch.Close(ctx) }

// closeSessions forgets the sessions' seats of a closing bus: their
// readers see the channel end.
func (b *Bus) closeSessions() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.seats = nil
}
