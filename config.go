package halley

import (
	"log/slog"
	"net/netip"
	"time"

	"github.com/halleyhq/halley/broker"
)

// Defaults used where a Config field is zero.
const (
	DefaultSize           = 1000
	DefaultPollTimeout    = 20 * time.Second
	DefaultSessionTimeout = time.Hour
	DefaultMaxRequestBody = 64 << 10
	DefaultHeartbeat      = 15 * time.Second
	DefaultWriteTimeout   = 10 * time.Second
	DefaultMaxFrameSize   = 96 << 10
	DefaultMaxMessageSize = 1 << 20
	DefaultWriteDelay     = 20 * time.Millisecond
	DefaultNotifyQueue    = 100

	DefaultMaxSessions      = 100_000
	DefaultMaxConnsPerIP    = 256
	DefaultSessionRate      = 10
	DefaultSessionBurst     = 100
	DefaultMaxListens       = 128
	DefaultClientFrameRate  = 100
	DefaultMaxKeyLen        = 256
	DefaultMaxClientMessage = 64 << 10
	DefaultRingBytes        = 16 << 20
	DefaultBodyTimeout      = 10 * time.Second
)

// Config configures a Hub. Its zero value works: an in-memory broker, no cap
// on channels, and the defaults below.
type Config struct {
	// Broker carries publications between nodes and keeps history for
	// resume. Default: a new broker/memory.Broker. The hub closes it on
	// Shutdown. A broker that is also a broker.Registry (broker/redis)
	// makes the hub a node of a cluster: channels, buses, notifiers and
	// sessions are shared with the other nodes on the same broker (see
	// docs/server.md, "Many nodes").
	Broker broker.Broker
	// Restore makes again, on this node, a bus or notifier that another
	// node of the cluster created with a Spec, when a client asks this node
	// for it. Without it, such a bus is served without its filter and such
	// a notifier passes notifications through. httpapi.New sets it.
	Restore Restorer
	// MaxChannels caps the number of live channels, like Ocsigen's
	// max_virtual_channels; in a cluster, it counts the channels of every
	// node. Zero means no cap.
	MaxChannels int
	// DefaultSize is the ring size of broadcast channels and the queue
	// bound of session channels when ChannelOptions.Size is zero.
	// Default: 1000.
	DefaultSize int
	// PollTimeout is how long a long-poll waits for data before answering
	// empty. Default: 20s. It can be changed at run time with
	// SetPollTimeout or the "comet:set_timeout" command.
	PollTimeout time.Duration
	// SessionTimeout closes a session after this long without a request.
	// Default: 1h.
	SessionTimeout time.Duration
	// MaxSessions caps the number of live sessions: past it, a client
	// that needs a new session is refused (ErrTooManySessions, HTTP 429).
	// Default: 100 000; negative: no cap.
	MaxSessions int
	// MaxConnsPerIP caps the transport requests under way (streams,
	// polls, writes) from one client address (an IPv6 /64): past it, 429
	// too_many_connections. Default: 256; negative: no cap.
	MaxConnsPerIP int
	// SessionRate and SessionBurst limit how fast one client address (an
	// IPv6 /64) gets new sessions: SessionRate per second on average, in
	// bursts of up to SessionBurst; past it, 429 rate_limited with
	// Retry-After. Defaults: 10 per second, bursts of 100; a negative
	// SessionRate: no limit.
	SessionRate  float64
	SessionBurst int
	// TrustedProxies are the addresses of reverse proxies in front of the
	// hub: for a request coming from one, the client's address is taken
	// from X-Forwarded-For (the nearest address that is not a trusted
	// proxy) and its scheme from X-Forwarded-Proto. Default: none, so the
	// client is the peer of the connection.
	TrustedProxies []netip.Prefix
	// Authorizer authenticates clients and gives their rights. With one,
	// a client reads only public channels and what its Grant's Rights
	// allow, writes only to the buses they allow and listens only on the
	// keys they allow; its session is bound to its user. Default: none,
	// so every client may read every channel (but the session channels of
	// other sessions), write to every bus and listen on every key.
	Authorizer Authorizer
	// MaxListens caps the notifier keys one session listens on, over all
	// notifiers (ErrTooManyListens). Default: 128.
	MaxListens int
	// ClientFrameRate bounds the frames a WebSocket client sends, per
	// second, in bursts of as many: past it the server reads its frames no
	// faster, and the client waits. Default: 100.
	ClientFrameRate float64
	// MaxKeyLen bounds a notifier key, in bytes (ErrInvalidKey). Default:
	// 256.
	MaxKeyLen int
	// MaxClientMessage bounds a message a client writes to a bus, in
	// bytes (ErrTooLarge); the server's own writes are bounded by
	// MaxMessageSize. Default: 64 KiB.
	MaxClientMessage int
	// RingBytes bounds the payload bytes a channel's ring (or a bus's)
	// retains, beside its Size in messages: past it the oldest messages
	// are dropped, and readers that had not got them get the usual
	// channel_full gap. ChannelOptions.MaxBytes overrides it. Default:
	// 16 MiB; negative: no byte bound.
	RingBytes int
	// BodyTimeout bounds the time a client may take to send a request's
	// body: a slower one is answered 408 body_timeout. Default: 10s.
	BodyTimeout time.Duration
	// MaxRequestBody bounds the body of a transport request, in bytes.
	// Default: 64 KiB.
	MaxRequestBody int64
	// Heartbeat is the interval of SSE heartbeat comments and WebSocket
	// pings. Default: 15s.
	Heartbeat time.Duration
	// WriteTimeout is the write deadline of a stream: a connection whose
	// socket takes no data for this long is closed as a slow client.
	// Default: 10s.
	WriteTimeout time.Duration
	// WriteDelay is the rest of a busy stream: one whose last write
	// carried several messages (it was behind) waits this long before it
	// writes again, gathering what comes meanwhile into one write, so an
	// overloaded hub writes fewer, larger batches. A stream that is not
	// behind writes each message at once. SSE streams over HTTP/1 are
	// written by the hub's writers (at most GOMAXPROCS goroutines, for
	// all of them); WebSocket and HTTP/2 streams by their own goroutine,
	// which also spaces its writes by this much when it is busy.
	// Hub.WriteCounts counts the writes of each kind. Default: 20ms;
	// negative: every write at once.
	WriteDelay time.Duration
	// NoIOURing makes each write of the hub's writers a system call of
	// its own. By default, on Linux where the kernel allows io_uring, a
	// writer sends the writes of the streams it took together with one
	// call (each still a send that never waits: a full socket's stream
	// goes to its own goroutine as usual), which costs less per write.
	NoIOURing bool
	// MaxFrameSize bounds a client's WebSocket message. Default: 96 KiB
	// (a MaxClientMessage payload in base64, with room for the frame).
	MaxFrameSize int64
	// MaxMessageSize bounds a message written to a channel or bus.
	// Default: 1 MiB.
	MaxMessageSize int
	// NotifyQueue bounds the notifications waiting for one session: one
	// that falls further behind gets a gap. Default: 100, as in Eliom.
	NotifyQueue int
	// AllowedOrigins are the origins of the web pages that may use the
	// transports from another origin (WebSockets, and CORS on the others):
	// patterns in path.Match syntax, matched case-insensitively against
	// "scheme://host[:port]" when they hold "://" ("https://*.example.com")
	// and against "host[:port]" otherwise ("app.example.com"). A page of
	// the server's own host is always allowed; any other is refused 403
	// forbidden_origin. Default: none.
	AllowedOrigins []string
	// Logger receives operational logs. Default: slog.Default().
	Logger *slog.Logger
	// Observer, when set, is told of connections as they open and
	// close (see Observer). Default: none.
	Observer Observer
}

func (c Config) withDefaults() Config {
	positive(&c.DefaultSize, DefaultSize)
	positive(&c.PollTimeout, DefaultPollTimeout)
	positive(&c.SessionTimeout, DefaultSessionTimeout)
	positive(&c.MaxRequestBody, DefaultMaxRequestBody)
	positive(&c.Heartbeat, DefaultHeartbeat)
	positive(&c.WriteTimeout, DefaultWriteTimeout)
	positive(&c.MaxFrameSize, DefaultMaxFrameSize)
	positive(&c.MaxMessageSize, DefaultMaxMessageSize)
	positive(&c.NotifyQueue, DefaultNotifyQueue)
	positive(&c.SessionBurst, DefaultSessionBurst)
	positive(&c.MaxListens, DefaultMaxListens)
	positive(&c.ClientFrameRate, DefaultClientFrameRate)
	positive(&c.MaxKeyLen, DefaultMaxKeyLen)
	positive(&c.MaxClientMessage, DefaultMaxClientMessage)
	positive(&c.BodyTimeout, DefaultBodyTimeout)
	// Where a negative value means "none", only zero takes the default.
	nonzero(&c.WriteDelay, DefaultWriteDelay)
	nonzero(&c.MaxSessions, DefaultMaxSessions)
	nonzero(&c.MaxConnsPerIP, DefaultMaxConnsPerIP)
	nonzero(&c.SessionRate, DefaultSessionRate)
	nonzero(&c.RingBytes, DefaultRingBytes)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// positive sets *v to def unless it is positive.
func positive[T int | int64 | float64 | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// nonzero sets *v to def when it is zero.
func nonzero[T int | int64 | float64 | time.Duration](v *T, def T) {
	if *v == 0 {
		*v = def
	}
}

// MaxMessageSize returns the bound on a message written to a channel or
// bus (Config.MaxMessageSize, or its default), in bytes.
func (h *Hub) MaxMessageSize() int { return h.cfg.MaxMessageSize }
