package halley

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/halleyhq/halley/internal/wire/ocsigen"
)

// cometBatch caps the messages one channel contributes to one answer, as
// Eliom caps a stateful answer at 100.
const cometBatch = 100

// CometHandler returns the transport of the legacy Ocsigen_comet protocol,
// byte-compatible with the original so that plain JavaScript Ocsigen comet
// clients work unchanged: POST with media type application/x-ocsigen-comet
// and a `registration` field of LF-separated channel ids; answer lines
// "id:value" (value percent-encoded) or "id:ENDED_CHANNEL", joined by LF; an
// empty 200 at the poll timeout; 400 for an empty or bad registration; 503
// while deactivated or when killed.
//
// The protocol carries no position. A broadcast channel gives what is
// written after the request started waiting (all of it, where the original
// gave only the first value); a session or lazy channel gives its queued
// messages, which count as read once answered. Any channel kind can be read.
func (h *Hub) CometHandler() http.Handler { return http.HandlerFunc(h.serveComet) }

type cometReg struct {
	c     *Channel
	seat  *seat // a session's queue of a session-scope bus
	after uint64
	// acks, for a channel of a cluster that the session consumes (a
	// session channel or a seat), is the session: what it was given is
	// recorded for the other nodes.
	acks *Session
}

func (h *Hub) serveComet(w http.ResponseWriter, r *http.Request) {
	if !h.cors(w, r, http.MethodPost) {
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.plainError(w, http.StatusMethodNotAllowed, "method not allowed: use POST")
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != ocsigen.MediaType {
		h.plainError(w, http.StatusUnsupportedMediaType, "unsupported media type: want "+ocsigen.MediaType)
		return
	}
	gen := h.control.generation()
	kill, released := h.control.signals()
	if !h.Active() || h.isShutdown() {
		closeAfter(w)
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	addr := h.clientAddr(r)
	slot, ok := h.limits.acquire(addr)
	if !ok {
		h.plainError(w, http.StatusTooManyRequests, "too many requests at a time from this address")
		return
	}
	// What the request holds, let go in reverse order when it ends here
	// or, parked, when it answers.
	var holds []func()
	parked := false
	defer func() {
		if !parked {
			endHolds(holds)
		}
	}()
	holds = append(holds, func() { h.limits.release(slot) })
	grant, err := h.grantOf(r)
	if err != nil {
		code, _, msg := h.authStatus(err)
		h.plainError(w, code, msg)
		return
	}
	body, ok := h.readCometBody(w, r)
	if !ok {
		return
	}
	ids, err := ocsigen.DecodeRegistrationMax(body, MaxSubscriptions)
	if err != nil {
		h.plainError(w, http.StatusBadRequest, "Empty or incorrect registration")
		return
	}
	// The legacy protocol has no session of its own: a request that names
	// a live session (header or cookie) reads as it, and no session is
	// made for one that does not.
	s, ok := h.Session(requestSessionID(r))
	if ok && s.bind(grant.User, h.authz()) {
		s.begin()
		holds = append(holds, s.end)
	} else {
		s = nil
	}
	if expires := grant.Expires; !expires.IsZero() {
		if expired(expires) {
			h.plainError(w, http.StatusUnauthorized, "the token has expired")
			return
		}
	}

	holds = append(holds, h.connOpened(TransportComet, s))
	regs := make([]cometReg, 0, len(ids))
	var ended []string
	for _, id := range ids {
		c, _ := h.resolve(s, &grant, id)
		if c == nil {
			// Unknown, another session's, or forbidden: all look alike,
			// as the original answers what a client may not see.
			ended = append(ended, id)
			continue
		}
		reg := cometReg{c: c}
		if c.bus != nil && c.bus.scope == BusSession && s != nil {
			if reg.seat, ok = c.bus.seatOf(s); !ok {
				ended = append(ended, id)
				continue
			}
		}
		if s != nil && c.shared && (reg.seat != nil || c.kind == KindSession) {
			reg.acks = s
			h.cometResume(reg.acks, c, reg.seat)
		}
		if reg.seat != nil {
			reg.after = reg.seat.start(c, 0)
		} else {
			reg.after = c.cometStart()
		}
		regs = append(regs, reg)
	}
	var wt *waiter
	var pp *parkedPoll
	cp := &cometPoll{h: h, regs: regs}
	if len(ended) == 0 {
		wt = newWaiter(true)
		wt.who, wt.linger = memberOf(s, &grant), true
		pp = h.parkable(r, cp, wt, gen)
		holds = append(holds, pp.stay)
		for _, reg := range regs {
			reg.c.addWaiter(wt) // a closed channel shows up as ended below
		}
		holds = append(holds, func() {
			for _, reg := range regs {
				reg.c.removeWaiter(wt)
			}
		})
	}

	wait := h.PollTimeout()
	if !grant.Expires.IsZero() {
		wait = min(wait, time.Until(grant.Expires))
	}
	var batch []*message
	if h.cometAnswer(w, regs, ended, batch[:0]) {
		return
	}
	cp.holds = holds // all of them by now
	if pp.park(w, wait) {
		parked = true
		return
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case <-wt.wake:
		case <-timer.C:
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusOK)
			return
		case <-kill:
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		case <-released:
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusOK)
			return
		case <-r.Context().Done():
			return
		}
		if h.cometAnswer(w, regs, ended, batch[:0]) {
			return
		}
	}
}

// endHolds lets go what a request holds, the last taken first.
func endHolds(holds []func()) {
	for i := len(holds) - 1; i >= 0; i-- {
		holds[i]()
	}
}

// readCometBody reads a legacy request's body like readBody, with the
// legacy protocol's plain-text errors.
func (h *Hub) readCometBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, deadline, err := h.readBodyUnder(w, r, h.cfg.MaxRequestBody)
	switch {
	case err == nil:
		if deadline {
			_ = http.NewResponseController(w).SetReadDeadline(time.Time{})
		}
		return body, true
	case isMaxBytes(err):
		h.plainError(w, http.StatusRequestEntityTooLarge, "request body too large")
	case errors.Is(err, os.ErrDeadlineExceeded):
		w.Header().Set("Connection", "close")
		h.plainError(w, http.StatusRequestTimeout, "request body timeout")
	default:
		h.plainError(w, http.StatusBadRequest, "cannot read request body")
	}
	return nil, false
}

func isMaxBytes(err error) bool {
	_, ok := errors.AsType[*http.MaxBytesError](err)
	return ok
}

// cometStart is where a legacy request starts reading: broadcast and newest
// channels at what comes next, session and lazy channels at what their
// client has not been given yet.
func (c *Channel) cometStart() uint64 {
	c.lockRead()
	defer c.unlockRead()
	if c.kind == KindSession || c.kind == KindLazy {
		return c.acked
	}
	return c.ring.Top()
}

// cometCollect takes what a registration's channel (or seat) has for a
// legacy request. It reports ended for a closed or dead channel.
func (reg cometReg) cometCollect(dst []*message) (_ []*message, ended bool) {
	c := reg.c
	if reg.seat != nil {
		reg.seat.mu.Lock()
		defer reg.seat.mu.Unlock()
	}
	c.lockRead()
	defer c.unlockRead()
	collect := func(dst []*message, after uint64) ([]*message, error) {
		if reg.seat != nil {
			return reg.seat.collectLocked(c, dst, after, cometBatch)
		}
		return c.collectLocked(dst, after, cometBatch)
	}
	n := len(dst)
	dst, err := collect(dst, reg.after)
	if err != nil {
		gap, ok := err.(*GapError)
		if !ok {
			return dst, true
		}
		// The protocol has no way to say "full": give the oldest
		// retained messages instead, as a legacy client expects no
		// more than the latest values.
		dst, _ = collect(dst, gap.Resume)
	}
	if len(dst) > n {
		last := dst[len(dst)-1].offset
		switch {
		case reg.seat != nil:
			reg.seat.acked = max(reg.seat.acked, last)
		case c.kind == KindSession || c.kind == KindLazy:
			c.ackLocked(last)
		}
	}
	return dst, false
}

// cometAnswer writes the answer if there is anything to say, and reports
// whether it did.
func (h *Hub) cometAnswer(w http.ResponseWriter, regs []cometReg, ended []string, batch []*message) bool {
	body, ok := h.cometBody(regs, ended, batch)
	if !ok {
		return false
	}
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
	return true
}

// cometBody takes what the registrations have and returns the answer's
// body, or false when there is nothing to answer. Positions of session
// channels are recorded as they are taken (cometAcked, through the
// broker in a cluster).
func (h *Hub) cometBody(regs []cometReg, ended []string, batch []*message) ([]byte, bool) {
	type part struct {
		c    *Channel
		msgs []*message
	}
	var parts []part
	for _, reg := range regs {
		n := len(batch)
		var gone bool
		batch, gone = reg.cometCollect(batch)
		if gone {
			ended = append(ended, reg.c.id)
		} else if len(batch) > n {
			parts = append(parts, part{reg.c, batch[n:]})
			if reg.acks != nil {
				last := batch[len(batch)-1]
				h.cometAcked(reg.acks, reg.c, last.offset, last.epoch)
			}
		}
	}
	if len(parts) == 0 && len(ended) == 0 {
		return nil, false
	}
	defer h.countComet(batch, ended)
	var b []byte
	for _, p := range parts {
		for _, m := range p.msgs {
			if len(b) > 0 {
				b = append(b, '\n')
			}
			b = append(b, m.cometLine(p.c.id)...)
		}
	}
	for _, id := range ended {
		if len(b) > 0 {
			b = append(b, '\n')
		}
		b = ocsigen.AppendEnded(b, id)
	}
	return b, true
}

// cometPoll is a legacy comet request's answer, parked.
type cometPoll struct {
	h     *Hub
	regs  []cometReg
	holds []func() // what the request holds
	body  []byte
	ok    bool
}

// look takes what the registrations have, on the owner only: recording a
// session channel's position may wait on the broker, which a writer must
// not, so a writer's look hands the poll to an owner.
func (a *cometPoll) look(owner bool) bool {
	if !owner || a.ok {
		return true
	}
	a.body, a.ok = a.h.cometBody(a.regs, nil, nil)
	return a.ok
}

// reply answers what look took whatever came after it: its positions
// are recorded already.
func (a *cometPoll) reply(stop string, _ bool) (int, string, []byte) {
	switch {
	case a.ok:
		return http.StatusOK, "text/plain", a.body
	case stop == "deactivated":
		return http.StatusServiceUnavailable, "", nil
	}
	return http.StatusOK, "text/plain", nil // timed out, or the shutdown
}

func (a *cometPoll) end() { endHolds(a.holds) }

// plainError answers a plain-text error, as the legacy protocol does.
func (h *Hub) plainError(w http.ResponseWriter, code int, reason string) {
	h.refusals.add("comet_" + strconv.Itoa(code))
	closeAfter(w)
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, reason)
}

// Handler returns the hub's client transports, to mount in any mux:
// POST /comet speaks the Ocsigen_comet protocol (see CometHandler); GET /ws
// (WebSocket), GET /sse (Server-Sent Events) and POST /poll (JSON
// long-poll) speak the Halley protocol (docs/protocol.md), with POST
// /write, /listen and /unlisten for clients of the one-way transports, and
// GET /presence (see PresenceHandler).
// Mount it at "/" (it answers only its own paths), or under a prefix with
// http.StripPrefix: mux.Handle("/push/", http.StripPrefix("/push",
// h.Handler())).
func (h *Hub) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/comet", h.CometHandler())
	mux.Handle("/poll", h.PollHandler())
	mux.Handle("/sse", h.SSEHandler())
	mux.Handle("/ws", h.WSHandler())
	mux.Handle("/write", h.WriteHandler())
	mux.Handle("/listen", h.ListenHandler(false))
	mux.Handle("/unlisten", h.ListenHandler(true))
	mux.Handle("/presence", h.PresenceHandler())
	return mux
}
