package halley

import (
	"log/slog"
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
	DefaultMaxFrameSize   = 64 << 10
	DefaultMaxMessageSize = 1 << 20
	DefaultWriteDelay     = 20 * time.Millisecond
	DefaultNotifyQueue    = 100
)

// Config configures a Hub. Its zero value works: an in-memory broker, no cap
// on channels, and the defaults below.
type Config struct {
	// Broker carries publications between nodes and keeps history for
	// resume. Default: a new broker/memory.Broker. The hub closes it on
	// Shutdown.
	Broker broker.Broker
	// MaxChannels caps the number of live channels, like Ocsigen's
	// max_virtual_channels. Zero means no cap.
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
	// Zero means no cap.
	MaxSessions int
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
	// WriteDelay, when positive, spaces each stream's writes (SSE,
	// WebSocket) by at least this long: a message that comes sooner after
	// a write waits for the rest of it, gathered with the others into one
	// write. An idle stream writes at once; a busy one writes many
	// messages per system call, for more throughput and less CPU, at the
	// cost of at most this much latency. Default: 20ms; negative: every
	// write at once.
	WriteDelay time.Duration
	// MaxFrameSize bounds a client's WebSocket message. Default: 64 KiB.
	MaxFrameSize int64
	// MaxMessageSize bounds a message written to a channel or bus.
	// Default: 1 MiB.
	MaxMessageSize int
	// NotifyQueue bounds the notifications waiting for one session: one
	// that falls further behind gets a gap. Default: 100, as in Eliom.
	NotifyQueue int
	// AllowedOrigins are the host patterns (path.Match syntax, such as
	// "*.example.com") whose pages may open WebSockets, beside the
	// server's own host. Default: the server's own host only.
	AllowedOrigins []string
	// Logger receives operational logs. Default: slog.Default().
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.DefaultSize <= 0 {
		c.DefaultSize = DefaultSize
	}
	if c.PollTimeout <= 0 {
		c.PollTimeout = DefaultPollTimeout
	}
	if c.SessionTimeout <= 0 {
		c.SessionTimeout = DefaultSessionTimeout
	}
	if c.MaxRequestBody <= 0 {
		c.MaxRequestBody = DefaultMaxRequestBody
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = DefaultHeartbeat
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.MaxFrameSize <= 0 {
		c.MaxFrameSize = DefaultMaxFrameSize
	}
	if c.WriteDelay == 0 {
		c.WriteDelay = DefaultWriteDelay
	}
	if c.MaxMessageSize <= 0 {
		c.MaxMessageSize = DefaultMaxMessageSize
	}
	if c.NotifyQueue <= 0 {
		c.NotifyQueue = DefaultNotifyQueue
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}
