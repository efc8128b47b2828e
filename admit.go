package halley

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"time"
)

// visit is one request of a client transport, let in by admit: where it
// comes from, what its token grants, and the session it joins. Its owner
// calls done when the request is over.
type visit struct {
	h     *Hub
	r     *http.Request
	sig   signals
	addr  netip.Addr
	slot  *clientState // the request slot of its address it holds, if any
	grant Grant
	s     *Session
	begun bool // s.begin was called
	// fresh is set when the session was made for this request: it is
	// closed at done unless the request was accepted (kept), so refused
	// requests leave no session behind.
	fresh bool
	kept  bool
	// closed counts the end of the accepted connection (stats.go).
	closed func()
}

// admit lets a request of a Halley transport in, in this order: the page's
// origin (and CORS), the method, the hub's state, a request slot of the
// client's address, and the client's token. On refusal it has answered
// and returns nil.
func (h *Hub) admit(w http.ResponseWriter, r *http.Request, method string) *visit {
	if !h.cors(w, r, method) {
		return nil
	}
	sig, ok := h.gate(w, r, method)
	if !ok {
		return nil
	}
	v := &visit{h: h, r: r, sig: sig, addr: h.clientAddr(r)}
	if v.slot, ok = h.limits.acquire(v.addr); !ok {
		h.logRefusal(r, "too_many_connections")
		h.jsonError(w, http.StatusTooManyRequests, "too_many_connections",
			fmt.Sprintf("at most %d requests at a time from one address", h.cfg.MaxConnsPerIP))
		return nil
	}
	var err error
	v.grant, err = h.grantOf(r)
	if err != nil {
		h.logRefusal(r, "token")
		h.writeAuthError(w, err)
		v.done()
		return nil
	}
	return v
}

// join finds the session the request names, or makes one, and marks a
// request under way on it. On refusal it has answered and reports false.
func (v *visit) join(w http.ResponseWriter) bool {
	s, fresh, err := v.h.sessionOf(w, v.r, v.addr, v.grant.User)
	if err != nil {
		var rl *rateLimitError
		if errors.As(err, &rl) {
			w.Header().Set("Retry-After", strconv.Itoa(max(1, int((rl.wait+time.Second-1)/time.Second))))
		}
		v.h.logRefusal(v.r, Reason(err))
		v.h.jsonError(w, statusOf(err), Reason(err), err.Error())
		return false
	}
	v.s, v.fresh = s, fresh
	s.begin()
	v.begun = true
	return true
}

// slim keeps of the request only what the Authorizer may need again, for
// a connection that outlives it (a WebSocket's token refresh): its
// method, URL, headers and addresses, under the hub's context. Without an
// Authorizer nothing is kept.
func (v *visit) slim() {
	r := v.r
	if v.h.cfg.Authorizer == nil || r == nil {
		v.r = nil
		return
	}
	v.r = (&http.Request{
		Method: r.Method, URL: r.URL, Proto: r.Proto, ProtoMajor: r.ProtoMajor, ProtoMinor: r.ProtoMinor,
		Header: r.Header, Host: r.Host, RemoteAddr: r.RemoteAddr, RequestURI: r.RequestURI, TLS: r.TLS,
	}).WithContext(v.h.ctx)
}

// keep marks the request accepted: a session made for it stays.
func (v *visit) keep() {
	v.kept = true
	if v.closed == nil {
		v.closed = v.h.connOpened(visitTransport(v.r), v.s)
	}
}

// done releases what the request held.
func (v *visit) done() {
	if v.begun {
		v.s.end()
		v.begun = false
	}
	if v.fresh && !v.kept {
		v.s.Close()
	}
	v.h.limits.release(v.slot)
	v.slot = nil
	if v.closed != nil {
		v.closed()
		v.closed = nil
	}
}

// rateLimitError refuses a new session to a client that asked for too
// many too fast; it matches ErrRateLimited.
type rateLimitError struct{ wait time.Duration }

func (e *rateLimitError) Error() string {
	return fmt.Sprintf("%v: too many new sessions from this address; retry in %v", ErrRateLimited, e.wait.Round(time.Millisecond))
}

func (e *rateLimitError) Unwrap() error { return ErrRateLimited }

// requestSessionID returns the session id a request names: the
// Halley-Session header, the session query parameter (for EventSource and
// browser WebSockets), or the halley_session cookie. What a client names
// itself comes before the cookie, which every tab of a browser shares: a
// tab keeps a session of its own by naming it (or an id it does not have,
// such as "new", for a new one).
func requestSessionID(r *http.Request) string {
	if id := r.Header.Get(SessionHeader); id != "" {
		return id
	}
	if id := r.URL.Query().Get("session"); id != "" {
		return id
	}
	if ck, err := r.Cookie(SessionCookie); err == nil && ck.Value != "" {
		return ck.Value
	}
	return ""
}

// sessionOf returns the live session the request names, if it may have it
// (see Session.bind), or a new one, given back in the answer's header and
// cookie; fresh reports a new one. A new session counts against
// Config.MaxSessions and the client address's Config.SessionRate.
func (h *Hub) sessionOf(w http.ResponseWriter, r *http.Request, addr netip.Addr, user string) (s *Session, fresh bool, err error) {
	if s, ok := h.Session(requestSessionID(r)); ok && s.bind(user, h.cfg.Authorizer != nil) {
		s.Touch()
		return s, false, nil
	}
	return h.newSessionFor(w, r, addr, user)
}

// newSessionFor makes a session for a request of the client at addr,
// within the session cap and the address's rate.
func (h *Hub) newSessionFor(w http.ResponseWriter, r *http.Request, addr netip.Addr, user string) (s *Session, fresh bool, err error) {
	if ok, wait := h.limits.allowSession(addr); !ok {
		return nil, false, &rateLimitError{wait: wait}
	}
	s, err = h.NewSession()
	if err != nil {
		return nil, false, err
	}
	if user != "" {
		s.SetUser(user)
	}
	h.giveSession(w, r, s)
	return s, true, nil
}

// giveSession hands a new session's id back in the answer.
func (h *Hub) giveSession(w http.ResponseWriter, r *http.Request, s *Session) {
	w.Header().Set(SessionHeader, s.id)
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: s.id, Path: "/",
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: h.secure(r),
	})
}

// bind reports whether a request of user may use the session. Without an
// Authorizer a session is its id's bearer's. With one, a session belongs to
// the user it was made for: a session without a user takes the first one
// that comes with a token, and then answers that user only (an anonymous
// request, or another user's, gets a session of its own), so a stolen
// session id is worth nothing without its user's token.
func (s *Session) bind(user string, authz bool) bool {
	if !authz {
		return true
	}
	s.mu.Lock()
	ok, bound := s.user == user, false
	if !ok && s.user == "" {
		s.user, ok, bound = user, true, true
	}
	s.mu.Unlock()
	if bound && s.hub.clustered() {
		// Bound for every node.
		if err := s.hub.shareSession(s); err != nil {
			s.hub.log.Warn("halley: session user", "err", err)
		}
	}
	return ok
}
