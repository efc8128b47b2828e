package halley

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/halleyhq/halley/internal/wire/frame"
)

// Presence: who is connected to a channel now.
//
// Every channel answers counts (connections, distinct sessions, distinct
// users), found by going over its waiters when asked, so that channels
// without presence pay nothing for it. A channel made with
// ChannelOptions.Presence also keeps its members, each (session, user)
// pair with its number of connections, and tells the subscribers that
// asked for them when a member joins (its first connection) or leaves (its
// last one). In a cluster, each node keeps its own members, puts them in
// the registry when they change (and with its periodic report), and
// broadcasts joins and leaves to the other nodes; a presence query adds
// the live nodes' members up.

// MaxPresenceMembers bounds the members a presence answer lists (and a
// node reports to the others, per channel); past it the answer says it was
// truncated. The counts are never truncated.
const MaxPresenceMembers = 10000

// presenceQueueLen bounds the join and leave frames a stream holds before
// it writes them; past it, the stream drops them and says so once with a
// presence_lost frame, after which the client asks for the list again.
const presenceQueueLen = 1024

// presenceTopic carries joins and leaves between the nodes.
const presenceTopic = "halley.presence"

// tablePresence holds, by node, the members of the node's presence
// channels.
const tablePresence = "presence"

// member is who a client connection is.
type member struct{ session, user string }

// memberOf returns who a client of session s with grant g is.
func memberOf(s *Session, g *Grant) member {
	var m member
	if s != nil {
		m.session, m.user = s.id, s.User()
	}
	if m.user == "" && g != nil {
		m.user = g.User
	}
	return m
}

// presence is the member list of a channel made with
// ChannelOptions.Presence. Its channel's mu guards it.
type presence struct {
	members  map[member]int // connections on this node, by member
	watchers map[*presenceQueue]struct{}
}

func newPresence() *presence {
	return &presence{members: make(map[member]int), watchers: make(map[*presenceQueue]struct{})}
}

// joinLocked counts a connection of m; the member's first one is a join.
// c.mu is held.
func (c *Channel) joinLocked(m member) {
	n := c.pres.members[m] + 1
	c.pres.members[m] = n
	if n == 1 {
		c.presenceEventLocked(true, m)
	}
}

// presenceLinger is how long a long-poll's member stays after its
// request: its client polls again at once, and should not leave and join
// between two requests.
// (A variable for tests.)
var presenceLinger = 5 * time.Second

// dropMemberLocked uncounts the connection of waiter w: now, or after
// presenceLinger for a long-poll. c.mu is held.
func (c *Channel) dropMemberLocked(w *waiter) {
	if !w.linger {
		c.leaveLocked(w.who)
		return
	}
	m := w.who
	time.AfterFunc(presenceLinger, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.leaveLocked(m)
	})
}

// leaveLocked uncounts a connection of m; the member's last one is a
// leave. c.mu is held.
func (c *Channel) leaveLocked(m member) {
	n := c.pres.members[m] - 1
	if n > 0 {
		c.pres.members[m] = n
		return
	}
	delete(c.pres.members, m)
	c.presenceEventLocked(false, m)
}

func (c *Channel) presenceEventLocked(join bool, m member) {
	f := appendPresenceFrame(nil, join, c.id, m.user)
	for q := range c.pres.watchers {
		q.push(c.id, f)
	}
	if c.hub.clustered() && !c.internal {
		c.hub.presencePump.add(presenceNote{Node: c.hub.node, Channel: c.id, Join: join, User: m.user})
	}
}

// appendPresenceFrame appends a join or leave frame. Clients see users,
// never session ids.
func appendPresenceFrame(dst []byte, join bool, channel, user string) []byte {
	typ := frame.TypeLeave
	if join {
		typ = frame.TypeJoin
	}
	dst = append(dst, `{"type":"`...)
	dst = append(dst, typ...)
	dst = append(dst, `","channel":`...)
	dst = frame.AppendString(dst, channel)
	if user != "" {
		dst = append(dst, `,"user":`...)
		dst = frame.AppendString(dst, user)
	}
	return append(dst, '}')
}

// watch makes q get the channel's joins and leaves; it reports false for
// a channel without presence.
func (c *Channel) watchPresence(q *presenceQueue) bool {
	if c.pres == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		c.pres.watchers[q] = struct{}{}
	}
	if testHookListeners != nil {
		testHookListeners(c)
	}
	return true
}

func (c *Channel) unwatchPresence(q *presenceQueue) {
	if c.pres == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.pres.watchers, q)
}

// HasPresence reports whether the channel keeps its members and tells
// their joins and leaves (ChannelOptions.Presence).
func (c *Channel) HasPresence() bool { return c.pres != nil }

// presenceQueue holds the join and leave frames of the channels a stream
// watches, until the stream pulls them.
type presenceQueue struct {
	w      *waiter
	mu     sync.Mutex
	frames []presenceFrame
	lost   map[string]bool // channels whose frames were dropped
}

type presenceFrame struct {
	channel string
	f       []byte
}

func (q *presenceQueue) push(channel string, f []byte) {
	q.mu.Lock()
	if len(q.frames) < presenceQueueLen {
		q.frames = append(q.frames, presenceFrame{channel, f})
	} else {
		if q.lost == nil {
			q.lost = make(map[string]bool)
		}
		q.lost[channel] = true
	}
	q.mu.Unlock()
	q.w.notify()
}

// pullPresence appends the stream's pending join and leave frames.
func (st *stream) pullPresence(items []item) []item {
	q := st.pq
	q.mu.Lock()
	frames, lost := q.frames, q.lost
	q.frames, q.lost = nil, nil
	q.mu.Unlock()
	for _, pf := range frames {
		if _, sub := st.find(pf.channel); sub != nil && sub.presence && !sub.done {
			items = append(items, item{sub: sub, ctl: pf.f})
		}
	}
	for ch := range lost {
		if _, sub := st.find(ch); sub != nil && sub.presence && !sub.done {
			f := append([]byte(`{"type":"presence_lost","channel":`), frame.AppendString(nil, ch)...)
			items = append(items, item{sub: sub, ctl: append(f, '}')})
		}
	}
	return items
}

// watchPresence makes the stream get the joins and leaves of sub's
// channel, when it has presence.
func (st *stream) watchPresence(sub *streamSub) {
	if sub.c.pres == nil {
		return
	}
	if st.pq == nil {
		st.pq = &presenceQueue{w: st.w}
	}
	sub.presence = sub.c.watchPresence(st.pq)
}

// unwatchPresence stops the joins and leaves of sub's channel.
func (st *stream) unwatchPresence(sub *streamSub) {
	if sub.presence {
		sub.presence = false
		sub.c.unwatchPresence(st.pq)
	}
}

// Member is one member of a channel: a session (with its user) and its
// connections.
type Member struct {
	// Session is the member's session id ("" for a connection without
	// one). Clients are never shown it; the HTTP API is.
	Session string `json:"session,omitempty"`
	// User is the member's user ("" when anonymous).
	User string `json:"user,omitempty"`
	// Connections is the number of the member's client connections
	// reading the channel (over every node, in a cluster).
	Connections int `json:"connections"`
}

// Presence is who reads a channel now.
type Presence struct {
	// Channel is the channel id.
	Channel string `json:"channel"`
	// Connections counts the client connections reading the channel.
	Connections int `json:"connections"`
	// Sessions and Users count the distinct sessions and users among
	// them (anonymous connections without a session are one "" each).
	// In a cluster, for a channel without presence, they add up each
	// node's figures, so a session connected to two nodes counts twice.
	Sessions int `json:"sessions"`
	Users    int `json:"users"`
	// Enabled reports whether the channel has presence
	// (ChannelOptions.Presence); only then are Members given.
	Enabled bool `json:"presence"`
	// Members lists the members, sorted by user then session, at most
	// MaxPresenceMembers of them.
	Members []Member `json:"members,omitempty"`
	// Truncated reports that Members was cut at MaxPresenceMembers.
	Truncated bool `json:"truncated,omitempty"`
}

// localPresence is the channel's presence on this node: the counts, and
// the members (uncapped) when it has presence.
func (c *Channel) localPresence() (p Presence, members map[member]int) {
	p = Presence{Channel: c.id, Enabled: c.pres != nil}
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.pres != nil {
		members = make(map[member]int, len(c.pres.members))
		for m, n := range c.pres.members {
			members[m] = n
		}
		p.Connections = c.conns
		return p, members
	}
	sessions := make(map[string]struct{})
	users := make(map[string]struct{})
	for _, w := range c.waiters.list {
		if !w.conn {
			continue
		}
		p.Connections++
		sessions[w.who.session] = struct{}{}
		users[w.who.user] = struct{}{}
	}
	p.Sessions, p.Users = len(sessions), len(users)
	return p, nil
}

// fill sets the counts and the capped member list from members.
func (p *Presence) fill(members map[member]int) {
	sessions := make(map[string]struct{})
	users := make(map[string]struct{})
	p.Connections = 0
	p.Members = make([]Member, 0, min(len(members), MaxPresenceMembers))
	for m, n := range members {
		p.Connections += n
		sessions[m.session] = struct{}{}
		users[m.user] = struct{}{}
		p.Members = append(p.Members, Member{Session: m.session, User: m.user, Connections: n})
	}
	p.Sessions, p.Users = len(sessions), len(users)
	sort.Slice(p.Members, func(i, j int) bool {
		a, b := p.Members[i], p.Members[j]
		return a.User < b.User || a.User == b.User && a.Session < b.Session
	})
	if len(p.Members) > MaxPresenceMembers {
		p.Members, p.Truncated = p.Members[:MaxPresenceMembers], true
	}
}

// Presence returns who reads the channel id now: counts for every
// channel, and the members of one with presence. In a cluster it adds up
// the live nodes' figures (as of their last reports, and this node's now).
// It fails with ErrUnknownChannel.
//
// Presence is for the server and its HTTP API: it gives session ids.
func (h *Hub) Presence(ctx context.Context, id string) (Presence, error) {
	c, ok := h.Channel(id)
	if !ok {
		return Presence{}, fmt.Errorf("presence of %q: %w", id, ErrUnknownChannel)
	}
	p, members := c.localPresence()
	if !h.clustered() {
		if p.Enabled {
			p.fill(members)
		}
		return p, nil
	}
	if p.Enabled {
		reps, err := h.presenceReports(ctx)
		if err != nil {
			return Presence{}, err
		}
		cut := false
		for _, r := range reps {
			for _, m := range r.Channels[id] {
				members[member{m.Session, m.User}] += m.Connections
			}
			cut = cut || slices.Contains(r.Truncated, id)
		}
		p.fill(members)
		p.Truncated = p.Truncated || cut
		return p, nil
	}
	reps, err := h.reports(ctx)
	if err != nil {
		return Presence{}, err
	}
	p = Presence{Channel: id}
	for _, r := range reps {
		p.Connections += r.Listeners[id]
		if d, ok := r.Distinct[id]; ok {
			p.Sessions += d[0]
			p.Users += d[1]
		}
	}
	return p, nil
}

// The cluster side.

// presenceNote is a join or leave as nodes broadcast it.
type presenceNote struct {
	Node    string `json:"node"`
	Channel string `json:"channel"`
	Join    bool   `json:"join,omitempty"`
	User    string `json:"user,omitempty"`
}

// presenceReport is what a node puts in tablePresence.
type presenceReport struct {
	At       int64               `json:"at"` // Unix milliseconds
	Channels map[string][]Member `json:"channels,omitempty"`
	// Truncated names the channels whose list was cut at
	// MaxPresenceMembers.
	Truncated []string `json:"truncated,omitempty"`
}

// presencePump puts this node's members in the registry, then broadcasts
// the joins and leaves that changed them, from one goroutine: a burst of
// changes makes one put. Putting first means that a node that got a join
// finds the member in the registry.
type presencePump struct {
	mu      sync.Mutex
	pending []presenceNote
	kick    chan struct{}
	had     bool // the last put listed members (only the pump uses it)
}

func (p *presencePump) add(n presenceNote) {
	p.mu.Lock()
	p.pending = append(p.pending, n)
	p.mu.Unlock()
	p.poke()
}

// poke makes the pump put this node's members (and send what is
// pending).
func (p *presencePump) poke() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// startPresence starts the pump of a clustered hub.
func (h *Hub) startPresence() {
	h.presencePump.kick = make(chan struct{}, 1)
	h.wg.Add(1)
	go h.pumpPresence()
}

func (h *Hub) pumpPresence() {
	defer h.wg.Done()
	p := &h.presencePump
	for {
		select {
		case <-p.kick:
		case <-h.ctx.Done():
			return
		}
		p.mu.Lock()
		notes := p.pending
		p.pending = nil
		p.mu.Unlock()
		h.putPresence()
		ctx, cancel := h.op()
		for _, n := range notes {
			data, _ := json.Marshal(n)
			if err := h.broker.Broadcast(ctx, presenceTopic, data); err != nil {
				h.log.Debug("halley: presence broadcast", "err", err)
			}
		}
		cancel()
	}
}

// putPresence puts this node's members of its presence channels in the
// registry (nothing when it has none and had none).
func (h *Hub) putPresence() {
	r := presenceReport{At: time.Now().UnixMilli(), Channels: make(map[string][]Member)}
	h.mu.RLock()
	chans := make([]*Channel, 0)
	for _, c := range h.channels {
		if c.pres != nil {
			chans = append(chans, c)
		}
	}
	h.mu.RUnlock()
	for _, c := range chans {
		if _, members := c.localPresence(); len(members) > 0 {
			var p Presence
			p.fill(members)
			r.Channels[c.id] = p.Members
			if p.Truncated {
				r.Truncated = append(r.Truncated, c.id)
			}
		}
	}
	if len(r.Channels) == 0 && !h.presencePump.hadMembers() {
		return
	}
	h.presencePump.setHad(len(r.Channels) > 0)
	data, _ := json.Marshal(r)
	ctx, cancel := h.op()
	defer cancel()
	if err := h.reg.Put(ctx, tablePresence, h.node, data, 0); err != nil {
		h.log.Debug("halley: presence report", "err", err)
	}
}

func (p *presencePump) hadMembers() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.had
}

func (p *presencePump) setHad(v bool) {
	p.mu.Lock()
	p.had = v
	p.mu.Unlock()
}

// presenceReports returns the other live nodes' presence reports.
func (h *Hub) presenceReports(ctx context.Context) (map[string]presenceReport, error) {
	all, err := h.reg.All(ctx, tablePresence)
	if err != nil {
		return nil, fmt.Errorf("presence: %w", err)
	}
	now := time.Now()
	out := make(map[string]presenceReport, len(all))
	for node, data := range all {
		var r presenceReport
		if node == h.node || json.Unmarshal(data, &r) != nil {
			continue
		}
		age := now.Sub(time.UnixMilli(r.At))
		switch {
		case age > dropReport:
			_ = h.reg.Release(ctx, tablePresence, node)
		case age <= staleReport:
			out[node] = r
		}
	}
	return out, nil
}

// handlePresence delivers another node's join or leave to the streams
// watching the channel here.
func (h *Hub) handlePresence(data []byte) {
	var n presenceNote
	if json.Unmarshal(data, &n) != nil || n.Node == h.node {
		return
	}
	c, ok := h.local(n.Channel)
	if !ok || c.pres == nil {
		return
	}
	f := appendPresenceFrame(nil, n.Join, c.id, n.User)
	c.mu.RLock()
	defer c.mu.RUnlock()
	for q := range c.pres.watchers {
		q.push(c.id, f)
	}
}
