package halley

import (
	"errors"
	"io"
	"mime"
	"net/http"
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
	after uint64
}

func (h *Hub) serveComet(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		plainError(w, http.StatusMethodNotAllowed, "method not allowed: use POST")
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != ocsigen.MediaType {
		plainError(w, http.StatusUnsupportedMediaType, "unsupported media type: want "+ocsigen.MediaType)
		return
	}
	kill, released := h.control.signals()
	if !h.Active() || h.isShutdown() {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxRequestBody))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			plainError(w, http.StatusRequestEntityTooLarge, "request body too large")
			return
		}
		plainError(w, http.StatusBadRequest, "cannot read request body")
		return
	}
	ids, err := ocsigen.DecodeRegistration(body)
	if err != nil {
		plainError(w, http.StatusBadRequest, "Empty or incorrect registration")
		return
	}
	if s := h.requestSession(r); s != nil {
		s.begin()
		defer s.end()
	}

	regs := make([]cometReg, 0, len(ids))
	var ended []string
	for _, id := range ids {
		if c, ok := h.Channel(id); ok {
			regs = append(regs, cometReg{c: c, after: c.cometStart()})
		} else {
			ended = append(ended, id)
		}
	}
	var wt *waiter
	if len(ended) == 0 {
		wt = newWaiter(true)
		for _, reg := range regs {
			reg.c.addWaiter(wt) // a closed channel shows up as ended below
		}
		defer func() {
			for _, reg := range regs {
				reg.c.removeWaiter(wt)
			}
		}()
	}

	timer := time.NewTimer(h.PollTimeout())
	defer timer.Stop()
	var batch []*message
	for {
		if h.cometAnswer(w, regs, ended, batch[:0]) {
			return
		}
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
	}
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

// cometCollect takes what the channel has for a legacy request. It
// reports ended for a closed or dead channel.
func (c *Channel) cometCollect(dst []*message, after uint64) (_ []*message, ended bool) {
	c.lockRead()
	defer c.unlockRead()
	n := len(dst)
	dst, err := c.collectLocked(dst, after, cometBatch)
	if err != nil {
		gap, ok := err.(*GapError)
		if !ok || c.kind == KindSession {
			return dst, true
		}
		// The protocol has no way to say "full": give the oldest
		// retained messages instead, as a legacy client expects no
		// more than the latest values.
		dst, _ = c.collectLocked(dst, gap.Resume, cometBatch)
	}
	if len(dst) > n && (c.kind == KindSession || c.kind == KindLazy) {
		c.ackLocked(dst[len(dst)-1].offset)
	}
	return dst, false
}

// cometAnswer writes the answer if there is anything to say, and reports
// whether it did.
func (h *Hub) cometAnswer(w http.ResponseWriter, regs []cometReg, ended []string, batch []*message) bool {
	type part struct {
		c    *Channel
		msgs []*message
	}
	var parts []part
	for _, reg := range regs {
		n := len(batch)
		var gone bool
		batch, gone = reg.c.cometCollect(batch, reg.after)
		if gone {
			ended = append(ended, reg.c.id)
		} else if len(batch) > n {
			parts = append(parts, part{reg.c, batch[n:]})
		}
	}
	if len(parts) == 0 && len(ended) == 0 {
		return false
	}
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusOK)
	sep := false
	for _, p := range parts {
		for _, m := range p.msgs {
			if sep {
				_, _ = io.WriteString(w, "\n")
			}
			sep = true
			_, _ = w.Write(m.cometLine(p.c.id))
		}
	}
	for _, id := range ended {
		if sep {
			_, _ = io.WriteString(w, "\n")
		}
		sep = true
		_, _ = w.Write(ocsigen.AppendEnded(nil, id))
	}
	return true
}

// requestSession returns the live session a request names, if any, without
// creating one.
func (h *Hub) requestSession(r *http.Request) *Session {
	id := r.Header.Get(SessionHeader)
	if id == "" {
		if ck, err := r.Cookie(SessionCookie); err == nil {
			id = ck.Value
		}
	}
	if id == "" {
		return nil
	}
	s, _ := h.Session(id)
	return s
}

// plainError answers a plain-text error, as the legacy protocol does.
func plainError(w http.ResponseWriter, code int, reason string) {
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, reason)
}

// Handler returns the hub's client transports, to mount in any mux:
// POST /comet speaks the Ocsigen_comet protocol (see CometHandler); GET /ws
// (WebSocket), GET /sse (Server-Sent Events) and POST /poll (JSON
// long-poll) speak the Halley protocol (docs/protocol.md), with POST
// /write, /listen and /unlisten for clients of the one-way transports.
func (h *Hub) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/comet", h.CometHandler())
	mux.Handle("/poll", h.PollHandler())
	mux.Handle("/sse", h.SSEHandler())
	mux.Handle("/ws", h.WSHandler())
	mux.Handle("/write", h.WriteHandler())
	mux.Handle("/listen", h.ListenHandler(false))
	mux.Handle("/unlisten", h.ListenHandler(true))
	return mux
}
