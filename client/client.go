package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/halleyhq/halley/internal/wire/frame"
)

// Transport names one of the three transports of the Halley protocol.
type Transport string

// The transports.
const (
	WebSocket Transport = "ws"
	SSE       Transport = "sse"
	Poll      Transport = "poll"
)

// ParseTransport returns the transport named s ("ws", "sse" or "poll").
func ParseTransport(s string) (Transport, error) {
	switch t := Transport(s); t {
	case WebSocket, SSE, Poll:
		return t, nil
	}
	return "", fmt.Errorf("client: unknown transport %q (want ws, sse or poll)", s)
}

// orWebSocket returns t if it names a transport, else WebSocket.
func orWebSocket(t Transport) Transport {
	if _, err := ParseTransport(string(t)); err != nil {
		return WebSocket
	}
	return t
}

// Position is where a client stands in a channel: it has every message up
// to Offset of the channel's life Epoch.
type Position = frame.Position

// Cursor maps channel ids to positions. Its String method gives the text
// form the protocol uses (docs/protocol.md, "Positions and cursors").
type Cursor = frame.Cursor

// ParseCursor parses the text form of a cursor.
func ParseCursor(s string) (Cursor, error) { return frame.ParseCursor(s) }

// From says where a subscription starts. Its zero value starts at the
// channel's current end: only messages written from then on.
type From struct {
	// After, when set, resumes after that offset of Epoch: the client
	// already has everything up to it. An empty Epoch trusts the offset.
	After *uint64
	Epoch string
	// Last, when positive (and After is nil), starts with the last Last
	// retained messages.
	Last int
}

// FromPosition resumes after p.
func FromPosition(p Position) From {
	off := p.Offset
	return From{After: &off, Epoch: p.Epoch}
}

// Event types.
const (
	EventMsg        = "msg"
	EventGap        = "gap"
	EventEnded      = "ended"
	EventSubscribed = "subscribed"
	EventClose      = "close"
	EventNotify     = "notify"
)

// Event is what a subscription delivers.
type Event struct {
	// Type is EventMsg, EventNotify, EventGap, EventEnded,
	// EventSubscribed or EventClose. Subscribed events may come again at
	// each reconnection (depending on the transport): they repeat the
	// position, and never move it backwards unless Subscribe restarted the
	// channel. Close events say why the server ended a stream; the client
	// reconnects by itself. Notify events are the notifications of the
	// keys the client listens to (see Listen), in place of the msg events
	// of the session's notification channel that carries them.
	Type string
	// Channel is the channel id (empty for EventClose; the session's
	// notification channel for EventNotify).
	Channel string
	// Offset is the message's offset (msg, notify), the offset after
	// which the subscription starts (subscribed) or goes on (gap).
	Offset uint64
	// Epoch is the channel's epoch (subscribed, gap, and msg once known).
	Epoch string
	// Data is the payload of a msg, or the notification of a notify
	// event: the bytes the notifier made for this client (for notifiers
	// of JSON values, the JSON text).
	Data []byte
	// Reason says why (gap, ended, close): see docs/protocol.md.
	Reason string
	// Notifier and Key name what a notify event is about.
	Notifier, Key string
}

// Options configure a Client. The zero value works.
type Options struct {
	// Transport is the transport to use first. Default (and for a value
	// that names no transport): WebSocket.
	Transport Transport
	// Session resumes an existing session. Default: the server makes one
	// on the first connection.
	Session string
	// HTTPClient makes every request. It must have no Timeout: streams
	// and long polls last. Default: a client of its own with connection
	// timeouts and keep-alives, whose idle connections are closed when
	// Run returns.
	HTTPClient *http.Client
	// Header holds extra headers for every request (Origin, cookies…).
	Header http.Header
	// MinBackoff and MaxBackoff bound the wait before a reconnection:
	// the n-th attempt in a row waits a random time up to
	// min(MaxBackoff, MinBackoff·2ⁿ) (full jitter). Defaults: 100ms, 5s.
	MinBackoff, MaxBackoff time.Duration
	// Buffer is the capacity of the Events channel. Default: 1024.
	Buffer int
	// Logger receives connection failures and protocol oddities.
	// Default: slog.Default().
	Logger *slog.Logger
}

// Defaults used where an Options field is zero.
const (
	DefaultMinBackoff = 100 * time.Millisecond
	DefaultMaxBackoff = 5 * time.Second
	DefaultBuffer     = 1024
)

// sessionHeader names the session on requests and answers.
const sessionHeader = "Halley-Session"

// ErrRunning is returned by Run when the client is already running.
var ErrRunning = errors.New("client: already running")

// sub is one channel the application wants.
type sub struct {
	// id is the channel id: events take it from here rather than from
	// the frame, which saves a string per event.
	id   string
	from From
	// pos is the client's position, nil until the server has said where
	// the subscription starts (or From gave a position). Once set, it is
	// changed in place, under the client's mu.
	pos *Position
}

// Client reads channels of a Halley hub, writes to its buses and listens
// to its notifiers, as one session. Create it with New, name channels with
// Subscribe (or keys with Listen), and call Run; Write works with or
// without Run. Its methods are safe for concurrent use.
type Client struct {
	base    *url.URL
	baseErr error
	hc      *http.Client
	ownHC   bool
	header  http.Header
	minB    time.Duration
	maxB    time.Duration
	log     *slog.Logger
	events  chan Event

	mu        sync.Mutex
	subs      map[string]*sub
	session   string
	transport Transport
	running   bool
	// changed is closed and replaced whenever the application changes
	// subs or transport; gen counts these changes.
	changed chan struct{}
	gen     uint64

	// listens holds the keys the application listens to.
	listens map[listenKey]*listenState
	// notif is the session's notification channel, once known; it
	// belongs to the session notifSession.
	notif, notifSession string
	// lost holds events to hand over before any other: the notification
	// channel of a session that was lost.
	lost []Event
	// ws is the live WebSocket connection, nil when there is none.
	ws *wsLink
	// refs numbers the client's WebSocket writes.
	refs atomic.Uint64
	// epochless is true when some position may lack its epoch, which
	// SSE event ids tell (see adoptEpochs): the SSE reader parses ids
	// only then. It is set, under mu, whenever such a position may
	// arise, and cleared only by adoptEpochs when none is left.
	epochless atomic.Bool
}

// New returns a client of the hub whose Handler is served at serverURL
// (such as "http://127.0.0.1:8080", or "https://example.com/push" for a
// hub mounted under /push/). A bad URL makes Run fail.
func New(serverURL string, opts Options) *Client {
	c := &Client{
		header:    opts.Header.Clone(),
		minB:      opts.MinBackoff,
		maxB:      opts.MaxBackoff,
		log:       opts.Logger,
		subs:      make(map[string]*sub),
		listens:   make(map[listenKey]*listenState),
		session:   opts.Session,
		transport: opts.Transport,
		changed:   make(chan struct{}),
	}
	c.base, c.baseErr = parseBase(serverURL)
	c.transport = orWebSocket(c.transport)
	if c.minB <= 0 {
		c.minB = DefaultMinBackoff
	}
	if c.maxB <= 0 {
		c.maxB = DefaultMaxBackoff
	}
	c.maxB = max(c.maxB, c.minB)
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.header == nil {
		c.header = http.Header{}
	}
	n := opts.Buffer
	if n <= 0 {
		n = DefaultBuffer
	}
	c.events = make(chan Event, n)
	c.hc = opts.HTTPClient
	if c.hc == nil {
		c.hc, c.ownHC = newHTTPClient(), true
	}
	return c
}

func parseBase(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("client: server URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("client: server URL %q: want http://host[:port][/path] or https://…", s)
	}
	u.RawQuery, u.Fragment = "", ""
	return u, nil
}

// newHTTPClient returns a client with timeouts on everything but the
// answer itself, which a stream or a long poll holds.
func newHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   4,
	}}
}

// notify wakes whoever waits on a change; c.mu is held.
func (c *Client) notify() {
	c.gen++
	close(c.changed)
	c.changed = make(chan struct{})
}

// Subscribe starts reading channel from the given start, now if the client
// runs, else when Run connects. Subscribing to a channel already
// subscribed restarts it from the new start, forgetting the position held.
// Over WebSocket it sends a subscribe frame on the live connection; over
// SSE and long-poll it reconnects with the new set of channels. An empty
// channel id is ignored.
func (c *Client) Subscribe(channel string, from From) {
	if channel == "" {
		return
	}
	s := &sub{id: channel, from: from}
	if from.After != nil {
		s.pos = &Position{Offset: *from.After, Epoch: from.Epoch}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.subs[channel] = s
	c.noteEpochLocked(s.pos)
	c.notify()
}

// Unsubscribe stops reading channel and forgets its position. An event of
// the channel that the client was already handing to Events may still
// arrive; no other will.
func (c *Client) Unsubscribe(channel string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.subs[channel]; ok {
		delete(c.subs, channel)
		c.notify()
	}
}

// Events returns the channel of events. It is never closed: stop reading
// when Run returns.
func (c *Client) Events() <-chan Event { return c.events }

// Positions returns the client's positions: for every subscribed channel
// whose start is known, the offset of the last message handed to Events
// (or where the subscription started or goes on after a gap) and the
// channel's epoch. An event the application has received is always
// counted. While the client waits for room in a full Events channel, the
// event it holds is counted too; if the connection ends before it is
// handed over, it is uncounted again, and read again on the next
// connection.
func (c *Client) Positions() Cursor {
	c.mu.Lock()
	defer c.mu.Unlock()
	cur := make(Cursor, len(c.subs))
	for id, s := range c.subs {
		if s.pos != nil {
			cur[id] = *s.pos
		}
	}
	return cur
}

// SetTransport switches to transport t (WebSocket if t is not one of the
// three): a running client closes its connection and goes on over t from
// its positions, losing and repeating nothing.
func (c *Client) SetTransport(t Transport) {
	t = orWebSocket(t)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.transport != t {
		c.transport = t
		c.notify()
	}
}

// Transport returns the transport in use (or to be used by Run).
func (c *Client) Transport() Transport {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.transport
}

// Session returns the session id, empty until the server has given one.
func (c *Client) Session() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.session
}

// setSession records the session the server says the client has. A
// session other than the one the notification channel belongs to means
// that session is gone (it expired, or was closed): its notification
// channel goes with it, and the keys listened to must be listened to again
// in the new one.
func (c *Client) setSession(id string) {
	if id == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.session = id
	if c.notif != "" && c.notifSession != id {
		c.loseNotificationsLocked()
	}
}

// plan is what one connection (an SSE stream, a poll) asks for.
type plan struct {
	// fresh are channels without a position, all starting per last.
	fresh []string
	last  int
	// cursor holds the channels with a position.
	cursor Cursor
	// complete is false when some channels without a position were left
	// out: a request has one "last" for all, so channels that want other
	// starts wait for the next request.
	complete bool
	session  string
	changed  <-chan struct{}
}

func (p *plan) empty() bool { return len(p.fresh) == 0 && len(p.cursor) == 0 }

// plan returns what to ask for now.
func (c *Client) plan() plan {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := plan{cursor: Cursor{}, complete: true, session: c.session, changed: c.changed}
	var fresh []string
	for id, s := range c.subs {
		if s.pos != nil {
			p.cursor[id] = *s.pos
		} else {
			fresh = append(fresh, id)
		}
	}
	slices.Sort(fresh)
	for i, id := range fresh {
		last := c.subs[id].from.Last
		if i == 0 {
			p.last = last
		}
		if last == p.last {
			p.fresh = append(p.fresh, id)
		} else {
			p.complete = false
		}
	}
	return p
}

// positioned reports whether every channel of ids that is still wanted has
// a position.
func (c *Client) positioned(ids []string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range ids {
		if s, ok := c.subs[id]; ok && s.pos == nil {
			return false
		}
	}
	return true
}

// adoptEpochs fills in the epochs the client lacks from cur, a cursor
// the server sent: a channel that had no message when it was subscribed
// had no epoch yet, and msg frames carry none.
func (c *Client) adoptEpochs(cur Cursor) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, p := range cur {
		if s := c.subs[id]; s != nil && s.pos != nil && s.pos.Epoch == "" && s.pos.Offset == p.Offset {
			s.pos.Epoch = p.Epoch
		}
	}
	for _, s := range c.subs {
		if s.pos != nil && s.pos.Epoch == "" {
			return
		}
	}
	c.epochless.Store(false)
}

// noteEpochLocked records that a subscription now stands at p, which
// may lack its epoch. c.mu is held.
func (c *Client) noteEpochLocked(p *Position) {
	if p != nil && p.Epoch == "" {
		c.epochless.Store(true)
	}
}

// request sets the headers every request carries.
func (c *Client) request(req *http.Request, session string) {
	for k, v := range c.header {
		req.Header[k] = slices.Clone(v)
	}
	if session != "" {
		req.Header.Set(sessionHeader, session)
	}
}

// deliver hands the event of frame f to the application and moves the
// position. It reports whether the frame showed progress (anything but
// hello, close and error) and returns a *closeError for a close frame.
func (c *Client) deliver(ctx context.Context, f *frame.Frame) (bool, error) {
	if f.Type == frame.TypeMsg && f.Offset != nil {
		// The payload of a decoded frame is its own.
		return c.deliverMsg(ctx, []byte(f.Channel), *f.Offset, f.Epoch, f.Data(), true)
	}
	if err := c.flushLost(ctx); err != nil {
		return false, err
	}
	switch f.Type {
	case frame.TypeHello:
		c.setSession(f.Session)
		return false, nil
	case frame.TypeError:
		c.log.Warn("halley client: the server refused a frame", "reason", f.Reason, "message", f.Message)
		return false, nil
	case frame.TypeClose:
		if f.Reason == "session_closed" {
			c.mu.Lock()
			c.session = ""
			if c.notif != "" {
				c.loseNotificationsLocked()
			}
			c.mu.Unlock()
		}
		if err := c.send(ctx, Event{Type: EventClose, Reason: f.Reason}); err != nil {
			return false, err
		}
		return false, &closeError{reason: f.Reason}
	case frame.TypeMsg, frame.TypeSubscribed, frame.TypeGap, frame.TypeEnded:
	default: // unsubscribed, or a type from a later version
		return true, nil
	}
	if f.Type != frame.TypeEnded && f.Offset == nil {
		return false, fmt.Errorf("client: %s frame without offset", f.Type)
	}

	c.mu.Lock()
	s := c.subs[f.Channel]
	if s == nil {
		// Unsubscribed meanwhile.
		c.mu.Unlock()
		return true, nil
	}
	notif := f.Channel == c.notif
	if notif && f.Type == frame.TypeEnded {
		// The notification channel ends with its session: the client
		// listens again in a new one.
		c.loseNotificationsLocked()
		c.mu.Unlock()
		return true, c.flushLost(ctx)
	}
	ev := Event{Type: f.Type, Channel: f.Channel, Epoch: f.Epoch, Reason: f.Reason}
	if f.Offset != nil {
		ev.Offset = *f.Offset
	}
	// The position moves before the event is handed over, so that an
	// application that has received it sees it in Positions; if the hand-over
	// fails, the move is undone before any other connection can start.
	prev, gen := s.pos, c.gen
	switch {
	case f.Type == frame.TypeEnded:
		delete(c.subs, f.Channel)
	case f.Type == frame.TypeSubscribed && s.pos != nil && s.pos.Epoch == ev.Epoch && ev.Offset < s.pos.Offset:
		// A start behind what the client has: the messages in between
		// will be dropped as repeats.
	default:
		s.pos = &Position{Offset: ev.Offset, Epoch: ev.Epoch}
		c.noteEpochLocked(s.pos)
	}
	c.mu.Unlock()

	if err := c.send(ctx, ev); err != nil {
		c.mu.Lock()
		defer c.mu.Unlock()
		switch {
		case f.Type == frame.TypeEnded:
			if c.gen == gen {
				c.subs[f.Channel] = s
				c.noteEpochLocked(s.pos)
			}
		case c.subs[f.Channel] == s:
			s.pos = prev
			c.noteEpochLocked(s.pos)
		}
		return false, err
	}
	return true, nil
}

// deliverMsg hands the event of a msg frame to the application and moves
// the position, as deliver does: it is deliver's path for the frames
// that make most of the traffic, which avoids every allocation but the
// payload's. The channel id may alias the frame; so may data, unless
// owned says it belongs to this message alone (else it is copied). The
// server's msg frames have no epoch: the event has the position's, and
// epoch only when the client has no position yet.
func (c *Client) deliverMsg(ctx context.Context, channel []byte, offset uint64, epoch string, data []byte, owned bool) (bool, error) {
	c.mu.Lock()
	if len(c.lost) > 0 {
		c.mu.Unlock()
		if err := c.flushLost(ctx); err != nil {
			return false, err
		}
		c.mu.Lock()
	}
	s := c.subs[string(channel)]
	if s == nil || s.pos != nil && offset <= s.pos.Offset {
		// Unsubscribed meanwhile, or already delivered: a resume
		// repeats what it must.
		c.mu.Unlock()
		return true, nil
	}
	notif := s.id == c.notif
	ev := Event{Type: EventMsg, Channel: s.id, Offset: offset}
	// The position moves before the event is handed over, so that an
	// application that has received it sees it in Positions; if the
	// hand-over fails, the move is undone before any other connection can
	// start.
	var prev Position
	had := s.pos != nil
	if had {
		prev = *s.pos
		ev.Epoch = prev.Epoch
		s.pos.Offset = offset
	} else {
		ev.Epoch = epoch
		s.pos = &Position{Offset: offset, Epoch: epoch}
	}
	c.noteEpochLocked(s.pos)
	c.mu.Unlock()

	if !owned {
		data = bytes.Clone(data)
	}
	ev.Data = data
	if notif {
		c.notification(&ev)
	}
	if err := c.send(ctx, ev); err != nil {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.subs[s.id] == s {
			if had {
				*s.pos = prev
				c.noteEpochLocked(s.pos)
			} else {
				s.pos = nil
			}
		}
		return false, err
	}
	return true, nil
}

// send blocks until the application takes ev or ctx is done.
func (c *Client) send(ctx context.Context, ev Event) error {
	// Without waiting first, which is cheaper while Events has room.
	select {
	case c.events <- ev:
		return nil
	default:
	}
	select {
	case c.events <- ev:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
