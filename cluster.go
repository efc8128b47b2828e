package halley

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/halleyhq/halley/broker"
	"github.com/halleyhq/halley/internal/ring"
)

// Many nodes, one server. When the hub's broker is also a broker.Registry
// (broker/redis), the nodes sharing it keep there what makes them one:
//
//   - every channel, bus and notifier (not lazy channels, whose producer is
//     code on one node): a name is unique across the nodes, the channel cap
//     counts them all, and a node asked for a channel it does not hold finds
//     it there and holds a copy of it, over the broker's stream;
//   - every session, with its user: any node serves any client, and a
//     session expires when no node saw it for Config.SessionTimeout;
//   - session channels and sessions' notification rings go through the
//     broker as other channels do, so a client's next request may reach any
//     node and resume from its position.
//
// What stays on a node: who listens on which key of a notifier (the node
// that took the listen prepares that session's notifications, as Eliom_notif
// does, and keeps the session while it listens), the connections and their
// counts, and lazy channels.

// Registry tables.
const (
	tableChannels  = "channels"
	tableNotifiers = "notifiers"
	tableSessions  = "sessions"
)

// endTopic is the broker topic that tells every node a channel ("c" + id)
// or a session ("s" + id) ended for good.
const endTopic = "halley.end"

// clusterTimeout bounds one registry call made on a client's behalf.
const clusterTimeout = 5 * time.Second

// channelRecord is a channel as the registry keeps it.
type channelRecord struct {
	Kind     string `json:"kind"`
	Size     int    `json:"size"`
	MaxBytes int    `json:"max_bytes,omitempty"`
	Public   bool   `json:"public,omitempty"`
	Session  string `json:"session,omitempty"`
	// Bus is the scope of a bus's channel.
	Bus      string `json:"bus,omitempty"`
	Internal bool   `json:"internal,omitempty"`
	Presence bool   `json:"presence,omitempty"`
	// Spec is what Config.Restore needs to make the channel again on
	// another node (a bus's filter hook, say).
	Spec json.RawMessage `json:"spec,omitempty"`
}

// sameAs reports whether a declaration matches a record: the same kind of
// thing, so a node declaring it joins it.
func (r channelRecord) sameAs(o channelRecord) bool {
	return r.Kind == o.Kind && r.Bus == o.Bus && r.Session == o.Session
}

// sessionRecord is a session as the registry keeps it.
type sessionRecord struct {
	User string `json:"user,omitempty"`
}

// Restorer makes again, on this node, a bus or notifier that another node
// created with a Spec (BusOptions.Spec, NotifierOptions.Spec), by calling
// NewBus or NewNotifier with Declare set. kind is "bus" or "notifier".
type Restorer func(ctx context.Context, h *Hub, kind, name string, spec []byte) error

// clustered reports whether the hub shares its state with other nodes.
func (h *Hub) clustered() bool { return h.reg != nil }

// op returns a context for a registry call.
func (h *Hub) op() (context.Context, context.CancelFunc) {
	return context.WithTimeout(h.ctx, clusterTimeout)
}

// recordOf describes c for the registry.
func recordOf(c *Channel, bus *Bus, spec []byte) channelRecord {
	r := channelRecord{Kind: c.kind.String(), Size: c.size, MaxBytes: c.maxBytes, Public: c.public, Internal: c.internal, Presence: c.pres != nil, Spec: spec}
	if c.session != nil {
		r.Session = c.session.id
	}
	if bus != nil {
		r.Bus = bus.scope.String()
	}
	return r
}

// claim records a new channel in the registry. A declaration (declare)
// of a channel that some node made already joins it.
func (h *Hub) claim(ctx context.Context, c *Channel, rec channelRecord, declare bool) error {
	data, _ := json.Marshal(rec)
	c.rec = data
	found, err := h.reg.Claim(ctx, tableChannels, c.id, data, broker.ClaimOptions{Limit: h.cfg.MaxChannels, Uncounted: c.internal})
	switch {
	case err == nil:
		return nil
	case errors.Is(err, broker.ErrLimit):
		return fmt.Errorf("%w: the cap is %d across the nodes", ErrTooManyChannels, h.cfg.MaxChannels)
	case errors.Is(err, broker.ErrTaken):
		var other channelRecord
		if declare && json.Unmarshal(found, &other) == nil && rec.sameAs(other) {
			return nil
		}
		return fmt.Errorf("%w: %q", ErrNameTaken, c.id)
	}
	return fmt.Errorf("new channel %q: %w", c.id, err)
}

// found returns the channel id as another node made it, held on this node
// from now on, or false when no node has it.
func (h *Hub) found(id string) (*Channel, bool) {
	if !validName(id) || h.isShutdown() {
		return nil, false
	}
	ctx, cancel := h.op()
	defer cancel()
	data, err := h.reg.Lookup(ctx, tableChannels, id)
	if err != nil {
		if !errors.Is(err, broker.ErrNotFound) {
			h.log.Warn("halley: channel lookup", "channel", id, "err", err)
		}
		return nil, false
	}
	var rec channelRecord
	if json.Unmarshal(data, &rec) != nil {
		return nil, false
	}
	if len(rec.Spec) > 0 && rec.Bus != "" && h.cfg.Restore != nil {
		if err := h.cfg.Restore(ctx, h, "bus", id, rec.Spec); err != nil && !errors.Is(err, ErrNameTaken) {
			h.log.Warn("halley: restore bus", "bus", id, "err", err)
			return nil, false
		}
		return h.local(id)
	}
	c, err := h.copyOf(ctx, id, rec, data)
	if err != nil {
		if !errors.Is(err, ErrNameTaken) {
			h.log.Warn("halley: channel from another node", "channel", id, "err", err)
		}
		return h.local(id)
	}
	return c, true
}

// copyOf makes this node's copy of a channel of the registry.
func (h *Hub) copyOf(ctx context.Context, id string, rec channelRecord, data []byte) (*Channel, error) {
	kind, err := ParseKind(rec.Kind)
	if err != nil || kind == KindLazy || rec.Size <= 0 {
		return nil, fmt.Errorf("%w: record of %q", ErrInvalidOptions, id)
	}
	c := &Channel{
		hub: h, kind: kind, size: rec.Size, public: rec.Public, internal: rec.Internal,
		shared: true, rec: data, maxBytes: max(0, rec.MaxBytes),
		ring: ring.New[*message](rec.Size),
	}
	if rec.Presence {
		c.pres = newPresence()
	}
	if rec.Session != "" {
		s, ok := h.Session(rec.Session)
		if !ok {
			return nil, fmt.Errorf("channel %q: %w", id, ErrSessionClosed)
		}
		c.session = s
	}
	if err := h.register(c, id); err != nil {
		return nil, err
	}
	if c.session != nil && !c.session.adopt(c) {
		h.forget(c)
		return nil, fmt.Errorf("channel %q: %w", id, ErrSessionClosed)
	}
	if rec.Bus != "" {
		scope, err := ParseBusScope(rec.Bus)
		if err == nil {
			b := &Bus{ch: c, scope: scope}
			if scope == BusSession {
				b.seats = make(map[*Session]*seat)
			}
			c.bus = b
		}
	}
	if err := h.attach(ctx, c); err != nil {
		c.closeHere()
		return nil, err
	}
	return c, nil
}

// local returns the channel id held on this node.
func (h *Hub) local(id string) (*Channel, bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	c, ok := h.channels[id]
	return c, ok
}

// release ends a channel for every node: its record goes, and the others
// drop their copies.
func (h *Hub) release(ctx context.Context, c *Channel) error {
	if err := h.reg.Release(ctx, tableChannels, c.id); err != nil {
		return fmt.Errorf("close %q: %w", c.id, err)
	}
	if err := h.broker.Broadcast(ctx, endTopic, []byte("c"+c.id)); err != nil {
		return fmt.Errorf("close %q: %w", c.id, err)
	}
	return nil
}

// handleEnd drops this node's copy of a channel or session that another
// node ended.
func (h *Hub) handleEnd(data []byte) {
	if len(data) < 2 {
		return
	}
	id := string(data[1:])
	switch data[0] {
	case 'c':
		if c, ok := h.local(id); ok {
			// Not on the broker's goroutine, which Unsubscribe needs.
			h.goOwned(c.closeHere)
		}
	case 's':
		h.smu.RLock()
		s, ok := h.sessions[id]
		h.smu.RUnlock()
		if ok {
			h.goOwned(s.closeHere)
		}
	}
}

// closeHere closes this node's copy of a channel, leaving the channel to
// the other nodes (or to nobody when another node released it).
func (c *Channel) closeHere() {
	c.hub.forget(c)
	if !c.markClosed() {
		return
	}
	if c.session != nil {
		c.session.forget(c)
	}
	if c.bus != nil {
		c.bus.closeSessions()
	}
	if c.kind != KindLazy && !c.local {
		ctx, cancel := c.hub.op()
		defer cancel()
		_ = c.hub.broker.Unsubscribe(ctx, c.id)
	}
}

// notifyID is the id of a session's notification ring, the same on every
// node and unguessable without the session id.
func notifyID(session string) string {
	sum := sha256.Sum256([]byte("halley notifications " + session))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

// shareSession records a new (or newly bound) session for every node.
func (h *Hub) shareSession(s *Session) error {
	ctx, cancel := h.op()
	defer cancel()
	data, _ := json.Marshal(sessionRecord{User: s.User()})
	opts := broker.ClaimOptions{TTL: h.cfg.SessionTimeout}
	_, err := h.reg.Claim(ctx, tableSessions, s.id, data, opts)
	if errors.Is(err, broker.ErrTaken) {
		// Bound to its user: the record says so from now on.
		if err = h.reg.Release(ctx, tableSessions, s.id); err == nil {
			_, err = h.reg.Claim(ctx, tableSessions, s.id, data, opts)
		}
	}
	if err != nil {
		return fmt.Errorf("new session: %w", err)
	}
	s.refreshed.Store(time.Now().UnixNano())
	return nil
}

// foundSession returns the session id that another node made, held on
// this node from now on, or false when it expired or never was.
func (h *Hub) foundSession(id string) (*Session, bool) {
	if id == "" || len(id) > MaxNameLen || h.isShutdown() {
		return nil, false
	}
	ctx, cancel := h.op()
	defer cancel()
	data, err := h.reg.Lookup(ctx, tableSessions, id)
	if err != nil {
		if !errors.Is(err, broker.ErrNotFound) {
			h.log.Warn("halley: session lookup", "err", err)
		}
		return nil, false
	}
	var rec sessionRecord
	if json.Unmarshal(data, &rec) != nil {
		return nil, false
	}
	s := h.newSessionObject()
	s.id, s.user = id, rec.User
	s.refreshed.Store(time.Now().UnixNano())
	h.smu.Lock()
	defer h.smu.Unlock()
	if other, ok := h.sessions[id]; ok && !other.isClosed() {
		s.timer.Stop()
		return other, true
	}
	if h.isShutdown() || h.cfg.MaxSessions > 0 && len(h.sessions) >= h.cfg.MaxSessions {
		s.timer.Stop()
		return nil, false
	}
	h.sessions[id] = s
	return s, true
}

// refresh renews the session's record when a quarter of its timeout went
// by since the last renewal, and reports false when the record is gone
// (the session expired, or ended on another node).
func (s *Session) refresh() bool {
	h := s.hub
	if !h.clustered() {
		return true
	}
	now := time.Now().UnixNano()
	if time.Duration(now-s.refreshed.Load()) < h.cfg.SessionTimeout/4 {
		return true
	}
	s.refreshed.Store(now)
	ctx, cancel := h.op()
	defer cancel()
	err := h.reg.Refresh(ctx, tableSessions, s.id, h.cfg.SessionTimeout)
	if errors.Is(err, broker.ErrNotFound) {
		// Expired, or lost with everything when the broker lost its
		// registry: then it is recorded again.
		return h.checkRegistry()
	}
	if err != nil {
		h.log.Warn("halley: session refresh", "err", err)
	}
	return true
}

// expire runs when the session saw no request on this node for
// Config.SessionTimeout. Alone, the session closes. In a cluster it
// closes, for every node, only when no node saw it for that long (its
// record expired); until then this node forgets its copy, unless the copy
// holds channels or listens on a notifier here: then it looks again a
// timeout later, so that the last such node to see the record gone ends
// the session's channels too, and none is left in the registry.
func (s *Session) expire() {
	h := s.hub
	if !h.clustered() || h.isShutdown() {
		s.Close()
		return
	}
	ctx, cancel := h.op()
	defer cancel()
	_, err := h.reg.Lookup(ctx, tableSessions, s.id)
	switch {
	case errors.Is(err, broker.ErrNotFound):
		s.Close()
	case err == nil && s.holds():
		s.mu.Lock()
		if !s.closed && s.open == 0 {
			s.timer.Reset(h.cfg.SessionTimeout)
		}
		s.mu.Unlock()
	default:
		s.closeHere()
	}
}

// holds reports whether the session's copy on this node listens on a
// notifier or holds channels.
func (s *Session) holds() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.listens > 0 || len(s.channels) > 0
}

// endEverywhere ends a closed session for every node.
func (s *Session) endEverywhere() {
	h := s.hub
	ctx, cancel := h.op()
	defer cancel()
	if err := h.reg.Release(ctx, tableSessions, s.id); err != nil {
		h.log.Warn("halley: session release", "err", err)
	}
	if err := h.broker.Broadcast(ctx, endTopic, []byte("s"+s.id)); err != nil {
		h.log.Warn("halley: session end", "err", err)
	}
}

// notifierRecord is a notifier as the registry keeps it.
type notifierRecord struct {
	Public bool            `json:"public,omitempty"`
	Spec   json.RawMessage `json:"spec,omitempty"`
}

// claimNotifier records a new notifier in the registry; a declaration
// joins one that another node made.
func (h *Hub) claimNotifier(n *notifier, declare bool, spec []byte) error {
	ctx, cancel := h.op()
	defer cancel()
	data, _ := json.Marshal(notifierRecord{Public: n.public, Spec: spec})
	n.rec = data
	_, err := h.reg.Claim(ctx, tableNotifiers, n.name, data, broker.ClaimOptions{})
	switch {
	case err == nil, declare && errors.Is(err, broker.ErrTaken):
		return nil
	case errors.Is(err, broker.ErrTaken):
		return fmt.Errorf("%w: notifier %q", ErrNameTaken, n.name)
	}
	return fmt.Errorf("new notifier %q: %w", n.name, err)
}

// foundNotifier makes on this node a notifier that another node created:
// through Config.Restore when it has a Spec, and otherwise one that passes
// its JSON notifications through, as the HTTP API's do.
func (h *Hub) foundNotifier(name string) (*notifier, bool) {
	if !validName(name) || h.isShutdown() {
		return nil, false
	}
	ctx, cancel := h.op()
	defer cancel()
	data, err := h.reg.Lookup(ctx, tableNotifiers, name)
	if err != nil {
		if !errors.Is(err, broker.ErrNotFound) {
			h.log.Warn("halley: notifier lookup", "notifier", name, "err", err)
		}
		return nil, false
	}
	var rec notifierRecord
	if json.Unmarshal(data, &rec) != nil {
		return nil, false
	}
	if len(rec.Spec) > 0 && h.cfg.Restore != nil {
		err = h.cfg.Restore(ctx, h, "notifier", name, rec.Spec)
	} else {
		_, err = NewNotifier(h, NotifierOptions[string, json.RawMessage, json.RawMessage]{Name: name, Public: rec.Public, Declare: true})
	}
	if err != nil && !errors.Is(err, ErrNameTaken) {
		h.log.Warn("halley: notifier from another node", "notifier", name, "err", err)
	}
	h.nmu.RLock()
	defer h.nmu.RUnlock()
	n, ok := h.notifiers[name]
	return n, ok
}

// checkRegistry compares the registry's epoch with the one this node knew
// and, when it changed (the broker lost its records), records again every
// channel, notifier and session this node holds. It reports whether it
// did.
func (h *Hub) checkRegistry() bool {
	ctx, cancel := h.op()
	defer cancel()
	e, err := h.reg.Epoch(ctx)
	if err != nil {
		return false
	}
	h.regMu.Lock()
	old := h.regEpoch
	h.regEpoch = e
	h.regMu.Unlock()
	if old == "" || old == e {
		return false
	}
	h.log.Warn("halley: the broker lost its registry: recording again what this node holds")
	// Not under op's bound: a node may hold many records (each call is
	// bounded by the broker's own timeouts, and the hub's life).
	h.recordAgain(h.ctx)
	return true
}

// recordAgain claims again the records of what this node holds; records
// that another node claimed first are left as they are.
func (h *Hub) recordAgain(ctx context.Context) {
	h.mu.RLock()
	chans := make([]*Channel, 0, len(h.channels))
	for _, c := range h.channels {
		if c.shared && c.rec != nil {
			chans = append(chans, c)
		}
	}
	h.mu.RUnlock()
	for _, c := range chans {
		_, _ = h.reg.Claim(ctx, tableChannels, c.id, c.rec, broker.ClaimOptions{Uncounted: c.internal})
	}
	h.nmu.RLock()
	nots := make([]*notifier, 0, len(h.notifiers))
	for _, n := range h.notifiers {
		if n.rec != nil {
			nots = append(nots, n)
		}
	}
	h.nmu.RUnlock()
	for _, n := range nots {
		_, _ = h.reg.Claim(ctx, tableNotifiers, n.name, n.rec, broker.ClaimOptions{})
	}
	h.smu.RLock()
	sessions := make([]*Session, 0, len(h.sessions))
	for _, s := range h.sessions {
		sessions = append(sessions, s)
	}
	h.smu.RUnlock()
	for _, s := range sessions {
		data, _ := json.Marshal(sessionRecord{User: s.User()})
		_, _ = h.reg.Claim(ctx, tableSessions, s.id, data, broker.ClaimOptions{TTL: h.cfg.SessionTimeout})
	}
}

// registryCheck is how often a node of a cluster checks that the broker
// still has its registry.
const registryCheck = time.Second

// goOwned runs f on a goroutine of the hub's, which Shutdown waits for.
func (h *Hub) goOwned(f func()) {
	if !h.track(1) {
		return
	}
	go func() {
		defer h.wg.Done()
		f()
	}()
}

// catchUp brings this node's copy of a channel up to a client's position
// when the client read further on another node: the copy's messages come
// through the broker's fan-out, which may not have delivered them yet. A
// position beyond the end of the channel everywhere stays beyond it.
func (c *Channel) catchUp(after uint64, epoch string) {
	c.mu.RLock()
	top, mine := c.ring.Top(), c.epoch
	c.mu.RUnlock()
	if after <= top || epoch != "" && epoch != mine {
		return
	}
	ctx, cancel := c.hub.op()
	defer cancel()
	hist, err := c.hub.broker.History(ctx, c.id, top, 0)
	if err != nil {
		return // the broker will deliver them, or the client gets its gap
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	stored := false
	for _, m := range hist.Messages {
		if m.Epoch == c.epoch && c.storeLocked(&message{offset: m.Offset, epoch: m.Epoch, data: m.Data}) {
			stored = true
		}
	}
	if stored {
		c.wakeLocked()
	}
}

// tableAcks keeps, for the legacy /comet protocol, what each session was
// given of the session channels and session-scope buses it reads: the
// protocol carries no position, so the server keeps it, and in a cluster
// every node must see it.
const tableAcks = "acks"

func ackKey(s *Session, c *Channel) string { return s.id + " " + c.id }

// cometAcked records that session s was given c up to off (of epoch).
func (h *Hub) cometAcked(s *Session, c *Channel, off uint64, epoch string) {
	ctx, cancel := h.op()
	defer cancel()
	rec := strconv.FormatUint(off, 10) + " " + epoch
	if err := h.reg.Put(ctx, tableAcks, ackKey(s, c), []byte(rec), h.cfg.SessionTimeout); err != nil {
		h.log.Warn("halley: comet position", "channel", c.id, "err", err)
	}
}

// cometResume brings this node's copy of what session s consumed of c (or
// of its seat st) up to what another node gave it.
func (h *Hub) cometResume(s *Session, c *Channel, st *seat) {
	ctx, cancel := h.op()
	defer cancel()
	rec, err := h.reg.Lookup(ctx, tableAcks, ackKey(s, c))
	if err != nil {
		return // nothing given yet, or the broker is away: start here
	}
	offText, epoch, _ := strings.Cut(string(rec), " ")
	off, err := strconv.ParseUint(offText, 10, 64)
	if err != nil {
		return
	}
	c.catchUp(off, epoch)
	c.mu.Lock()
	same := epoch == c.epoch
	if same && st == nil {
		c.ackLocked(off)
	}
	c.mu.Unlock()
	if same && st != nil {
		st.ack(off)
	}
}
