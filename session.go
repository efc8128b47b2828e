package halley

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Session names and headers used by the transports.
const (
	// SessionHeader carries the session id on requests and answers.
	SessionHeader = "Halley-Session"
	// SessionCookie carries the session id for browsers.
	SessionCookie = "halley_session"
)

// Session is one client process (Eliom's term): a browser tab or a client
// program, created on its first request and identified by an id it sends
// back. It owns its session channels. It is closed after
// Config.SessionTimeout without a request, or by Close, and then everything
// it held is released. Its methods are safe for concurrent use.
type Session struct {
	hub  *Hub
	id   string
	done chan struct{}
	// ended is set as the session closes (done closes once its channels
	// have): streams look at it at every write, more cheaply than at done.
	ended atomic.Bool

	mu       sync.Mutex
	closed   bool
	open     int // requests under way: the session does not expire meanwhile
	timer    *time.Timer
	channels map[*Channel]struct{}
	user     string
	onClose  []func()
	notify   *Channel // notifications, made on first Listen
	streams  map[*waiter]struct{}
	listens  int // keys listened on, over all notifiers

	// refreshed is when this node last renewed the session's record in
	// the registry (UnixNano), in a cluster.
	refreshed atomic.Int64
}

// addListen counts one more key listened on, unless the session has max.
func (s *Session) addListen(max int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.listens >= max {
		return false
	}
	s.listens++
	return true
}

func (s *Session) dropListen() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.listens--
}

// watchStream makes the session's end wake a stream's waiter; it reports
// false if the session already closed.
func (s *Session) watchStream(w *waiter) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	if s.streams == nil {
		s.streams = make(map[*waiter]struct{})
	}
	s.streams[w] = struct{}{}
	return true
}

func (s *Session) unwatchStream(w *waiter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.streams, w)
}

// closed reports, without blocking, whether the session closed.
func (s *Session) isClosed() bool { return s.ended.Load() }

// SetUser records the user the session belongs to (the application
// authenticates; Halley only keeps the name). Notifiers use it for
// UnlistenUser and NotForUser, bus filters see it in Writer.User.
func (s *Session) SetUser(user string) {
	s.mu.Lock()
	changed := s.user != user
	s.user = user
	s.mu.Unlock()
	if changed && s.hub.clustered() {
		if err := s.hub.shareSession(s); err != nil {
			s.hub.log.Warn("halley: session user", "err", err)
		}
	}
}

// User returns the session's user, or "".
func (s *Session) User() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.user
}

// whenClosed registers f to run when the session closes (at once if it
// already has). It reports false in that case.
func (s *Session) whenClosed(f func()) bool {
	s.mu.Lock()
	if !s.closed {
		s.onClose = append(s.onClose, f)
		s.mu.Unlock()
		return true
	}
	s.mu.Unlock()
	f()
	return false
}

// ID returns the session id.
func (s *Session) ID() string { return s.id }

// Done returns a channel closed when the session has closed, and its
// channels with it.
func (s *Session) Done() <-chan struct{} { return s.done }

// Touch marks the session active now, restarting its inactivity timeout.
func (s *Session) Touch() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed && s.open == 0 {
		s.timer.Reset(s.hub.cfg.SessionTimeout)
	}
}

// begin marks a request under way; the session cannot expire until end.
func (s *Session) begin() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.open++
	if s.open == 1 && !s.closed {
		s.timer.Stop()
	}
}

func (s *Session) end() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.open--
	if s.open == 0 && !s.closed {
		s.timer.Reset(s.hub.cfg.SessionTimeout)
	}
}

// Close closes the session and every channel it owns, on every node of a
// cluster. Closing twice is a no-op.
func (s *Session) Close() {
	if s.finish(true) && s.hub.clustered() {
		s.endEverywhere()
	}
}

// closeHere forgets the session on this node only: its copies of the
// session's channels close here, and other nodes keep serving it.
func (s *Session) closeHere() { s.finish(false) }

// finish closes the session on this node, and its channels for every node
// (all) or for this one. It reports false if the session was closed.
func (s *Session) finish(all bool) bool {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return false
	}
	s.closed = true
	s.timer.Stop()
	chans := make([]*Channel, 0, len(s.channels))
	for c := range s.channels {
		chans = append(chans, c)
	}
	s.channels = nil
	hooks := s.onClose
	s.onClose = nil
	s.ended.Store(true)
	for w := range s.streams {
		w.notify()
	}
	s.mu.Unlock()

	for _, f := range hooks {
		f()
	}
	for _, c := range chans {
		if all {
			_ = c.Close(s.hub.ctx)
		} else {
			c.closeHere()
		}
	}
	s.hub.forgetSession(s)
	close(s.done) // last: a waiter on Done finds the channels gone
	return true
}

// adopt records a channel the session owns; false if the session closed.
func (s *Session) adopt(c *Channel) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.channels[c] = struct{}{}
	return true
}

func (s *Session) forget(c *Channel) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.channels, c)
}

// NewSession creates a session. It fails with ErrTooManySessions past
// Config.MaxSessions, and ErrShutdown.
//
// In a cluster the session is recorded for every node (and it fails with an
// error wrapping broker.ErrUnavailable when the broker cannot record it).
func (h *Hub) NewSession() (*Session, error) {
	s, err := h.newLocalSession()
	if err != nil || !h.clustered() {
		return s, err
	}
	if err := h.shareSession(s); err != nil {
		s.closeHere()
		return nil, err
	}
	return s, nil
}

// newSessionObject returns a session that is not registered yet, its
// inactivity timer running.
func (h *Hub) newSessionObject() *Session {
	s := &Session{hub: h, done: make(chan struct{}), channels: make(map[*Channel]struct{})}
	s.timer = time.AfterFunc(h.cfg.SessionTimeout, s.expire)
	return s
}

// newLocalSession makes a session on this node.
func (h *Hub) newLocalSession() (*Session, error) {
	s := h.newSessionObject()
	h.smu.Lock()
	defer h.smu.Unlock()
	if h.isShutdown() {
		s.timer.Stop()
		return nil, ErrShutdown
	}
	if h.cfg.MaxSessions > 0 && len(h.sessions) >= h.cfg.MaxSessions {
		s.timer.Stop()
		return nil, fmt.Errorf("%w: the cap is %d", ErrTooManySessions, h.cfg.MaxSessions)
	}
	for {
		s.id = newID()
		if _, taken := h.sessions[s.id]; !taken {
			break
		}
	}
	h.sessions[s.id] = s
	return s, nil
}

// Session returns the live session with the given id. In a cluster, a
// session made on another node is found through the broker's registry, and
// one that expired or ended there is not.
func (h *Hub) Session(id string) (*Session, bool) {
	h.smu.RLock()
	s, ok := h.sessions[id]
	h.smu.RUnlock()
	if ok && s.isClosed() {
		// Closing: it leaves the map last. Alone, it is gone; in a
		// cluster, other nodes may serve it on.
		s, ok = nil, false
	}
	if !h.clustered() {
		return s, ok
	}
	if ok {
		if s.refresh() {
			return s, true
		}
		s.closeHere()
	}
	return h.foundSession(id)
}

// SessionCount returns the number of live sessions.
func (h *Hub) SessionCount() int {
	h.smu.RLock()
	defer h.smu.RUnlock()
	return len(h.sessions)
}

// SessionFor returns the session of an HTTP request, found by the
// Halley-Session header, the halley_session cookie or the session query
// parameter, and marks it active. When the request has none (or an expired
// one), it creates a session, within Config.MaxSessions and the client
// address's Config.SessionRate, and hands its id back in the answer's
// header and cookie (Secure over TLS), as Eliom creates a client process
// on first contact. It does not check the request's token: the hub's
// transports do, and bind sessions to their users.
func (h *Hub) SessionFor(w http.ResponseWriter, r *http.Request) (*Session, error) {
	if s, ok := h.Session(requestSessionID(r)); ok {
		s.Touch()
		return s, nil
	}
	s, _, err := h.newSessionFor(w, r, h.clientAddr(r), "")
	return s, err
}

func (h *Hub) forgetSession(s *Session) {
	h.smu.Lock()
	defer h.smu.Unlock()
	if h.sessions[s.id] == s {
		delete(h.sessions, s.id)
	}
}
