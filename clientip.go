package halley

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// clientAddr returns the address of the client of r: the peer of the
// connection, or, when that is a trusted proxy, the nearest address of
// X-Forwarded-For that is not one.
func (h *Hub) clientAddr(r *http.Request) netip.Addr {
	peer := remoteIP(r.RemoteAddr)
	if !h.trusted(peer) {
		return peer
	}
	addr := peer
	// The proxies append: walk from the nearest hop back to the client.
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		list := hops[i]
		for list != "" {
			var hop string
			if j := strings.LastIndexByte(list, ','); j >= 0 {
				hop, list = list[j+1:], list[:j]
			} else {
				hop, list = list, ""
			}
			a, err := netip.ParseAddr(strings.TrimSpace(hop))
			if err != nil {
				return addr
			}
			addr = a.Unmap()
			if !h.trusted(addr) {
				return addr
			}
		}
	}
	return addr
}

// trusted reports whether a is one of Config.TrustedProxies.
func (h *Hub) trusted(a netip.Addr) bool {
	for _, p := range h.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// secure reports whether the client reached the server over TLS: the
// connection is TLS, or a trusted proxy says so in X-Forwarded-Proto.
func (h *Hub) secure(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	return h.trusted(remoteIP(r.RemoteAddr)) && strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// remoteIP parses a RemoteAddr ("host:port"); it is the zero Addr when it
// cannot (a test's ResponseRecorder, a Unix socket).
func remoteIP(remote string) netip.Addr {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

// clientKey groups addresses for per-client limits: an IPv4 address, or
// the /64 of an IPv6 one (what one subscriber usually holds).
func clientKey(a netip.Addr) netip.Addr {
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.Addr()
	}
	return a
}

// maxTracked bounds the client addresses the limiter keeps; past it, new
// addresses share one entry, so that the table cannot be grown without
// bound and the limits still hold for them, together.
const maxTracked = 1 << 20

// limiter enforces the per-address limits: concurrent requests
// (Config.MaxConnsPerIP) and new sessions (Config.SessionRate).
type limiter struct {
	maxConns   int
	maxTracked int
	rate       rate.Limit
	burst      int

	mu      sync.Mutex
	clients map[netip.Addr]*clientState
	shared  *clientState // for addresses beyond maxTracked
}

type clientState struct {
	conns    int
	sessions *rate.Limiter
}

func newLimiter(cfg Config) *limiter {
	l := &limiter{maxConns: cfg.MaxConnsPerIP, maxTracked: maxTracked, burst: cfg.SessionBurst, clients: make(map[netip.Addr]*clientState)}
	if cfg.SessionRate < 0 {
		l.rate = rate.Inf
	} else {
		l.rate = rate.Limit(cfg.SessionRate)
	}
	l.shared = l.newState()
	return l
}

func (l *limiter) newState() *clientState {
	return &clientState{sessions: rate.NewLimiter(l.rate, l.burst)}
}

// state returns the entry of key, making it. l.mu is held.
func (l *limiter) state(key netip.Addr) *clientState {
	cs := l.clients[key]
	if cs == nil {
		if len(l.clients) >= l.maxTracked {
			return l.shared
		}
		cs = l.newState()
		l.clients[key] = cs
	}
	return cs
}

// acquire takes a request slot of the client at a, and returns the entry
// to give it back to (nil when nothing is counted); it reports false when
// the client has MaxConnsPerIP requests under way already.
func (l *limiter) acquire(a netip.Addr) (*clientState, bool) {
	if l.maxConns < 0 || !a.IsValid() {
		return nil, true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	cs := l.state(clientKey(a))
	if cs.conns >= l.maxConns {
		return nil, false
	}
	cs.conns++
	return cs, true
}

// release gives back a slot that acquire took from cs (nil: none). The
// entry itself is given back, not looked up again: an address counted in
// the shared entry stays counted there.
func (l *limiter) release(cs *clientState) {
	if cs == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	cs.conns--
}

// allowSession reports whether the client at a may get a new session now,
// and if not, how long until it may.
func (l *limiter) allowSession(a netip.Addr) (bool, time.Duration) {
	if l.rate == rate.Inf || !a.IsValid() {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	lim := l.state(clientKey(a)).sessions
	now := time.Now()
	if lim.AllowN(now, 1) {
		return true, 0
	}
	// One more token comes in 1/rate.
	return false, time.Duration(float64(time.Second) / float64(l.rate))
}

// sweep forgets the addresses with nothing under way and a full bucket:
// they are as good as new.
func (l *limiter) sweep(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for key, cs := range l.clients {
		if cs.conns == 0 && cs.sessions.TokensAt(now) >= float64(l.burst) {
			delete(l.clients, key)
		}
	}
}

// tracked returns how many addresses the limiter holds (tests).
func (l *limiter) tracked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.clients)
}
