package httpapi

import (
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/hooks"
)

// DefaultMaxBody is the body limit used when Options.MaxBody is zero.
const DefaultMaxBody = 1 << 20

// DefaultBodyTimeout is the time allowed to read a request body when
// Options.BodyTimeout is zero.
const DefaultBodyTimeout = 10 * time.Second

// Options configure the API handler. The zero value works: loopback
// clients only, 1 MiB bodies read within 10 s, slog.Default.
type Options struct {
	// APIKey, when set, is required on every request as
	// "Authorization: Bearer <key>"; a missing or wrong key is answered
	// 401 unauthorized. CheckAPIKey tells whether a key can work.
	//
	// When empty, the API answers only requests that a web page in a
	// browser on the same host cannot have made: from a loopback
	// RemoteAddr (else 403 api_key_required), for a loopback Host such
	// as localhost or 127.0.0.1:8080 (else 403 host_not_loopback, which
	// defeats DNS rebinding), not marked cross-site by Sec-Fetch-Site or
	// Origin (else 403 cross_site), and with a body only of type
	// application/json (else 415 unsupported_media_type). Then
	// /api/command takes only its JSON form.
	APIKey string
	// MaxBody bounds request bodies, in bytes; larger ones get 413
	// body_too_large. A publication may be larger, up to twice the
	// hub's MaxMessageSize and 4 KiB, so that a message over the hub's
	// limit gets 413 message_too_large, which says the limit. Default:
	// DefaultMaxBody (1 MiB).
	MaxBody int64
	// BodyTimeout bounds the time to read a request body, from the
	// moment a handler starts reading it; a client that sends it more
	// slowly gets 408 body_timeout and its connection is closed, so that
	// a trickle cannot hold a connection (and a goroutine) for long.
	// Default (zero or less): DefaultBodyTimeout (10 s).
	BodyTimeout time.Duration
	// Logger receives the API's logs. Default: slog.Default().
	Logger *slog.Logger
	// Hooks configures the HTTP hooks of the buses and notifiers created
	// through the API with a filter_url or prepare_url: their HTTP client
	// (default: 5 s timeout) and headers. Its Logger defaults to Logger.
	Hooks hooks.Options
	// Observer, when set, is told of every request: its route, status
	// and duration (package metrics counts them). Default: none.
	Observer RequestObserver
	// TakeOver, when set, makes the API take a plain HTTP/1.1 connection
	// (no TLS) over from net/http at its first POST /api/publish (the
	// request's own path: the API mounted at /api/, not under a prefix), and
	// serve the publishes that follow on it itself, with a lighter
	// request loop: a quarter less server CPU per publish, the delivery
	// included (see takeover.go). The API's own rules all hold (key,
	// limits, Observer); the first request that is not such a publish
	// goes back to net/http with the connection, through the hub's
	// ReturnedConns, which the server must serve: nothing is taken over
	// until ReturnedConns is called. Middleware around the API's handler
	// sees only a connection's first publish, so leave TakeOver off when
	// some must see each one (an access log, a proxy's own limits). The
	// server's IdleTimeout, ReadHeaderTimeout and WriteTimeout apply; at
	// the server's Shutdown such a connection closes once it waits for a
	// request, as an idle one does, and at the hub's it goes back to
	// net/http. A publish stream (POST /api/publish/stream) over such a
	// connection is taken from net/http too, once the API's rules have
	// passed: its body is read and its answer written on the socket
	// itself (the answer says Connection: close; the connection closes at
	// the stream's end, and at either shutdown the stream ends with its
	// "shutdown" line). A stream's writes are bounded by StreamIdle, not
	// WriteTimeout, over either path.
	TakeOver bool
}

// api serves the endpoints of one hub.
type api struct {
	hub     *halley.Hub
	maxBody int64
	// bodyTimeout bounds the reading of a body (Options.BodyTimeout).
	bodyTimeout time.Duration
	log         *slog.Logger
	hooks       hooks.Options
	// keyed is whether requests carry the API key, which a web page
	// cannot send to another origin without a preflight.
	keyed bool
	// The connections taken over (Options.TakeOver) and their server,
	// and the servers seen, with whether each shut down (nil: the
	// hub); leanOnce registers the hub's shutdown.
	leanOnce    sync.Once
	leanMu      sync.Mutex
	lean        map[stopper]*http.Server
	leanStopped map[*http.Server]bool
	// leanStreams is Options.TakeOver: publish streams over HTTP/1.1 are
	// taken from net/http too (leanstream.go).
	leanStreams bool
}

// New returns the HTTP API of h, serving the paths under /api/ (mount it
// at "/api/" without stripping the prefix). The handler is safe for
// concurrent use and never panics on client input.
func New(h *halley.Hub, opts Options) http.Handler {
	a := &api{hub: h, maxBody: opts.MaxBody, log: opts.Logger, hooks: opts.Hooks, keyed: opts.APIKey != "", leanStreams: opts.TakeOver}
	if a.maxBody <= 0 {
		a.maxBody = DefaultMaxBody
	}
	if a.bodyTimeout = opts.BodyTimeout; a.bodyTimeout <= 0 {
		a.bodyTimeout = DefaultBodyTimeout
	}
	if a.log == nil {
		a.log = slog.Default()
	}
	if a.hooks.Logger == nil {
		a.hooks.Logger = a.log
	}
	mux := http.NewServeMux()
	// Methods are dispatched by hand so that 404 and 405 answers are
	// JSON like every other error.
	mux.Handle("/api/channels", methods{http.MethodGet: a.listChannels, http.MethodPost: a.createChannel})
	mux.Handle("/api/channels/{id}", methods{http.MethodGet: a.getChannel, http.MethodDelete: a.deleteChannel})
	mux.Handle("/api/channels/{id}/presence", methods{http.MethodGet: a.presence})
	mux.Handle("/api/sessions", methods{http.MethodGet: a.listSessions, http.MethodPost: a.createSession})
	mux.Handle("/api/sessions/{id}", methods{http.MethodDelete: a.deleteSession})
	mux.Handle("/api/buses", methods{http.MethodPost: a.createBus})
	mux.Handle("/api/notifiers", methods{http.MethodPost: a.createNotifier})
	mux.Handle("/api/notify", methods{http.MethodPost: a.notify})
	mux.Handle("/api/listen", methods{http.MethodPost: a.listen})
	mux.Handle("/api/unlisten", methods{http.MethodPost: a.unlisten})
	mux.Handle("/api/unlisten_user", methods{http.MethodPost: a.unlistenUser})
	mux.Handle("/api/command", methods{http.MethodPost: a.command})
	mux.Handle("/api/stats", methods{http.MethodGet: a.stats})
	mux.Handle(streamPath, methods{http.MethodPost: a.publishStream})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no such endpoint: "+r.URL.Path)
	})
	rt := routes{mux: mux, publish: methods{http.MethodPost: a.publish}}
	var handler http.Handler = a.recover(authorize(opts.APIKey, rt))
	if opts.Observer != nil {
		handler = observe(opts.Observer, rt, handler)
	}
	if opts.TakeOver {
		handler = a.takeOver(handler)
	}
	return handler
}

// publishPath is the path backends call most: it is served without the
// mux's matching.
const publishPath = "/api/publish"

// routes serves the API: publishPath straight away, the rest through mux.
type routes struct {
	mux     *http.ServeMux
	publish http.Handler
}

func (rt routes) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == publishPath {
		rt.publish.ServeHTTP(w, r)
		return
	}
	rt.mux.ServeHTTP(w, r)
}

// route returns the pattern that serves r ("" for none).
func (rt routes) route(r *http.Request) string {
	if r.URL.Path == publishPath {
		return publishPath
	}
	_, pattern := rt.mux.Handler(r)
	return pattern
}

// methods routes a path's requests by method; others get 405 with Allow.
type methods map[string]http.HandlerFunc

func (m methods) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f, ok := m[r.Method]; ok {
		f(w, r)
		return
	}
	if r.Method == http.MethodHead {
		if f, ok := m[http.MethodGet]; ok {
			f(w, r)
			return
		}
	}
	allow := make([]string, 0, len(m))
	for k := range m {
		allow = append(allow, k)
	}
	slices.Sort(allow)
	w.Header().Set("Allow", strings.Join(allow, ", "))
	writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" is not allowed here")
}
