package bench

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/halleyhq/halley/client"
)

// Defaults used where a Config field is zero.
const (
	DefaultChannels   = 1
	DefaultPublishers = 4
	DefaultTransport  = client.SSE
	DefaultSize       = 100
	DefaultTimeout    = 5 * time.Minute
	DefaultQuiet      = 10 * time.Second
	DefaultMaxPending = 256
	// MaxBatch is the largest Batch: what a server takes in one request.
	MaxBatch = 1000
)

// ErrConfig is wrapped by the errors of a Config that cannot run: a bad
// value, or a server that is not on a loopback address.
var ErrConfig = errors.New("bench: invalid configuration")

// Config is what to measure. Subscribers and Server must be set; the zero
// value of every other field works.
type Config struct {
	// Server is the base URL of the server, such as
	// "http://127.0.0.1:8080". Its host must be a loopback address
	// (127.0.0.0/8, ::1) or "localhost": latencies compare the clock of
	// the publisher with the clock of the subscriber, and the load is not
	// meant to leave the machine.
	Server string
	// Servers, for a run against several servers (nodes sharing one
	// broker, such as Redis), lists their base URLs, each on a loopback
	// address; Server, when set too, comes first. Subscriber j connects
	// to server j % len(Servers), and the messages of each channel are
	// published through the servers in turn, so every server serves
	// subscribers and takes publications, and messages cross nodes: the
	// servers must share a broker, or the messages published through
	// the others count as lost. Channel i is created (by name) and
	// deleted through server i % len(Servers): the nodes of a cluster
	// share it.
	Servers []string
	// APIKey is sent to the HTTP API, when set.
	APIKey string
	// Token, when set, is the client token every subscriber presents
	// (client.StaticToken): against a server that checks tokens, it must
	// allow reading the bench's channels, "bench-*". Default: none.
	Token string
	// Subscribers is the number of clients, each on a connection of its
	// own; subscriber j reads channel j % Channels, from now.
	Subscribers int
	// Messages is the number of messages published, message i to
	// channel i % Channels. Zero measures idle connections only: connect
	// time and the server's memory per connection.
	Messages int
	// Channels is the number of broadcast channels. Default: 1.
	Channels int
	// Rate is the number of publications per second. Zero: as fast as
	// the server takes them.
	Rate float64
	// Publishers is the number of goroutines publishing concurrently:
	// publisher p publishes the messages i with i % Publishers == p, in
	// order and one at a time, so a channel's messages from one publisher
	// (a lane) reach the subscribers in order, which they check. Lanes
	// interleave: with one channel and 4 publishers, the server has up to
	// 4 publications in hand at once. One publisher keeps every channel
	// in strict order, but then each publication waits for the previous
	// one's answer, which with many subscribers waits for the fan-out.
	// Default: 4.
	Publishers int
	// Batch, when above 1, makes each publisher send its next Batch
	// messages in one request (a batch publish, POST /api/publish with
	// an array), on its kept-alive connection; with Rate, a batch goes
	// once its last message is due. Default: 1, one message a request.
	Batch int
	// Stream makes each publisher publish over a publish stream (POST
	// /api/publish/stream, one per server it publishes through): one
	// message at a time as with requests, each waiting for its answer,
	// but with no request per message. Not with Batch.
	Stream bool
	// Transport is what the subscribers use. Default: SSE.
	Transport client.Transport
	// Raw makes the subscribers plain SSE readers (one GET, then lines)
	// instead of Halley clients: the same code for every server, Halley
	// or a peer. They take each data line that holds a payload as a
	// message. With SSE only.
	Raw bool
	// Peer, when set, is the kind of server measured instead of Halley
	// (PeerCentrifugo): the subscribers are raw, the channels need no
	// making, and each message is one POST to the peer's publish API
	// with APIKey. One message per request, not with Batch or Stream.
	Peer string
	// PeerSecret signs the subscribers' connection tokens of a peer that
	// takes them (Centrifugo: client.token.hmac_secret_key).
	PeerSecret string
	// ServerPID, when positive, is the server's process id: its CPU time
	// and resident memory are read from /proc (Linux).
	ServerPID int
	// ServerPIDs are the process ids of Servers, in the same order (all
	// or none); ServerPID, when set too, comes first. Each server's CPU
	// time and memory are read and reported apart, and summed in the
	// totals.
	ServerPIDs []int
	// Size is the payload's size in bytes (it is larger when the seq and
	// time fields do not fit). Default: 100.
	Size int
	// Timeout bounds the whole run, set-up and clean-up included.
	// Default: 5 minutes.
	Timeout time.Duration
	// Quiet ends the run when no message was delivered for this long
	// after the last publication; the missing messages count as lost.
	// Default: 10 seconds.
	Quiet time.Duration
	// MaxPending bounds the subscribers connecting at the same time, so
	// that thousands do not overflow the server's accept queue.
	// Default: 256.
	MaxPending int
}

// withDefaults checks c and fills in the defaults.
func (c Config) withDefaults() (Config, error) {
	if c.Server != "" {
		c.Servers = append([]string{c.Server}, c.Servers...)
	}
	if c.ServerPID != 0 {
		c.ServerPIDs = append([]int{c.ServerPID}, c.ServerPIDs...)
	}
	if len(c.Servers) == 0 {
		return c, fmt.Errorf("%w: no server", ErrConfig)
	}
	for _, s := range c.Servers {
		if err := checkLoopback(s); err != nil {
			return c, err
		}
	}
	c.Server, c.ServerPID = c.Servers[0], 0
	if len(c.ServerPIDs) > 0 {
		c.ServerPID = c.ServerPIDs[0]
	}
	if len(c.ServerPIDs) != 0 && len(c.ServerPIDs) != len(c.Servers) {
		return c, fmt.Errorf("%w: %d server pids for %d servers: give one per server, in the same order, or none",
			ErrConfig, len(c.ServerPIDs), len(c.Servers))
	}
	for _, pid := range c.ServerPIDs {
		if pid <= 0 {
			return c, fmt.Errorf("%w: server pid must be positive", ErrConfig)
		}
	}
	if c.Transport == "" {
		c.Transport = DefaultTransport
	}
	if _, err := client.ParseTransport(string(c.Transport)); err != nil {
		return c, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	for _, f := range []struct {
		name string
		v    *int
		def  int
	}{
		{"channels", &c.Channels, DefaultChannels},
		{"publishers", &c.Publishers, DefaultPublishers},
		{"batch", &c.Batch, 1},
		{"size", &c.Size, DefaultSize},
		{"max pending", &c.MaxPending, DefaultMaxPending},
	} {
		switch {
		case *f.v < 0:
			return c, fmt.Errorf("%w: %s must not be negative", ErrConfig, f.name)
		case *f.v == 0:
			*f.v = f.def
		}
	}
	for _, f := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"timeout", &c.Timeout, DefaultTimeout},
		{"quiet", &c.Quiet, DefaultQuiet},
	} {
		switch {
		case *f.v < 0:
			return c, fmt.Errorf("%w: %s must not be negative", ErrConfig, f.name)
		case *f.v == 0:
			*f.v = f.def
		}
	}
	switch c.Peer {
	case "":
	case PeerCentrifugo:
		c.Raw = true
		if c.Batch > 1 || c.Stream {
			return c, fmt.Errorf("%w: a peer takes one message per request: not with batch or stream", ErrConfig)
		}
	default:
		return c, fmt.Errorf("%w: unknown peer %q (known: %s)", ErrConfig, c.Peer, PeerCentrifugo)
	}
	if c.Raw && c.Transport != client.SSE {
		return c, fmt.Errorf("%w: raw subscribers read SSE only", ErrConfig)
	}
	switch {
	case c.Subscribers < 1:
		return c, fmt.Errorf("%w: want at least one subscriber", ErrConfig)
	case c.Batch > MaxBatch:
		return c, fmt.Errorf("%w: batch must be at most %d", ErrConfig, MaxBatch)
	case c.Stream && c.Batch > 1:
		return c, fmt.Errorf("%w: stream publishes one message at a time: not with batch", ErrConfig)
	case c.Messages < 0:
		return c, fmt.Errorf("%w: messages must not be negative", ErrConfig)
	case c.Rate < 0:
		return c, fmt.Errorf("%w: rate must not be negative", ErrConfig)
	}
	return c, nil
}

// checkLoopback refuses a server URL whose host is not a loopback
// address.
func checkLoopback(server string) error {
	u, err := url.Parse(server)
	if err != nil {
		return fmt.Errorf("%w: server URL: %v", ErrConfig, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("%w: server URL %q: want http://host[:port]", ErrConfig, server)
	}
	host := u.Hostname()
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("%w: server %q is not on a loopback address (127.0.0.0/8, ::1, localhost): "+
		"the benchmark runs on the server's machine only", ErrConfig, host)
}
