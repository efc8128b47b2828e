package client

import (
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
// to Offset of the channel's life Epoch. It is an alias of an internal
// type, whose fields go doc does not show here; they are:
//
//	type Position struct {
//		Offset uint64 // the last message the client has (0: none yet)
//		Epoch  string // the channel's life; empty: trust the offset
//	}
type Position = frame.Position

// Cursor maps channel ids to positions: map[string]Position, an alias of
// an internal type. Its String method gives the text form the protocol
// uses (docs/protocol.md, "Positions and cursors"): entries
// "<id>:<offset>:<epoch>" joined by ",", the id percent-encoded, which
// ParseCursor reads back; Sorted returns its ids in order.
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
	// Token, when set, gives the client's token (such as a JWT), sent as
	// "Authorization: Bearer <token>" on every request: it is called for
	// each connection (WebSocket handshake, SSE stream, poll) and each
	// POST to /write, /listen and /unlisten, and over WebSocket again
	// before the grant expires, to refresh it in place (see "Tokens" in
	// the package docs). It should return quickly (a cached token, renewed
	// ahead of its expiry) and must be safe for concurrent use. ctx is the
	// connection's or the call's. An error from Token makes Run return it
	// (one during a WebSocket refresh is only logged: the stream then ends
	// at expiry, and the reconnection calls Token again), and a Write,
	// Listen or Unlisten fail with it. Use StaticToken for a fixed token.
	// Default: none; the client is anonymous.
	Token func(ctx context.Context) (string, error)
	// Presence asks the server for the join and leave events of every
	// subscribed channel that has presence (EventJoin, EventLeave; see
	// Presence in the package's presence.go and docs/protocol.md).
	// Default: none.
	Presence bool
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
	// refs numbers the client's WebSocket writes and refreshes.
	refs atomic.Uint64
	// tokenFn is Options.Token.
	tokenFn func(ctx context.Context) (string, error)
	// presence is Options.Presence.
	presence bool
	// refusedToken is the last token the server refused (see
	// noteRefused), refusal its answer, and refusedTwice whether it was
	// refused again; under mu.
	refusedToken string
	refusal      *RefusedError
	refusedTwice bool
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
	c.tokenFn = opts.Token
	c.presence = opts.Presence
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

// request sets the headers every request carries: the session, and the
// token when there is one.
func (c *Client) request(req *http.Request, session, token string) {
	for k, v := range c.header {
		req.Header[k] = slices.Clone(v)
	}
	if session != "" {
		req.Header.Set(sessionHeader, session)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
}
