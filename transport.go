package halley

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"time"

	"github.com/halleyhq/halley/internal/wire/frame"
)

// MaxSubscriptions bounds the channels one connection reads.
const MaxSubscriptions = 256

// jsonError answers {"error": reason, "message": message}.
func (h *Hub) jsonError(w http.ResponseWriter, code int, reason, message string) {
	h.refusals.add(reason)
	closeAfter(w)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}{reason, message})
}

// closeAfter makes an error answer close the connection at once: a
// refused request's body may not have been read, and net/http would
// otherwise wait to read the rest of it (the client may send it at one
// byte a minute), before the answer or after it, holding the connection.
func closeAfter(w http.ResponseWriter) {
	w.Header().Set("Connection", "close")
	_ = http.NewResponseController(w).SetReadDeadline(time.Now())
}

// refuse answers a request that comes while the hub does not serve.
// It reports whether it did.
func (h *Hub) refuse(w http.ResponseWriter) bool {
	switch {
	case h.isShutdown():
		h.jsonError(w, http.StatusServiceUnavailable, "shutdown", "the server is shutting down")
	case !h.Active():
		h.jsonError(w, http.StatusServiceUnavailable, "deactivated", "push is deactivated on this server")
	default:
		return false
	}
	return true
}

// gate admits a Halley-protocol request: the method, then the hub's state.
// It returns the kill and release signals a long-poll waits on, and the
// kill generation a stream watches (see stream.watch), both taken before
// the state is checked so that a Deactivate in between is not missed; or it
// answers the refusal itself and reports false.
func (h *Hub) gate(w http.ResponseWriter, r *http.Request, method string) (sig signals, ok bool) {
	if r.Method != method {
		w.Header().Set("Allow", method)
		h.jsonError(w, http.StatusMethodNotAllowed, "method_not_allowed", "use "+method)
		return sig, false
	}
	sig.gen = h.control.generation()
	sig.kill, sig.released = h.control.signals()
	if h.refuse(w) {
		return sig, false
	}
	return sig, true
}

// signals are what ends a request besides its own end: a kill or the
// hub's shutdown.
type signals struct {
	kill, released <-chan struct{}
	gen            uint64
}

// readBody reads a request's body, at most limit bytes, within
// Config.BodyTimeout. On failure it has answered (413, 408 or 400) and
// reports false.
func (h *Hub) readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, bool) {
	body, deadline, err := h.readBodyUnder(w, r, limit)
	if err == nil {
		if deadline {
			// The connection goes on being read (to see the client
			// leave): the deadline must not end a long poll.
			_ = http.NewResponseController(w).SetReadDeadline(time.Time{})
		}
		return body, true
	}
	if _, tooBig := errors.AsType[*http.MaxBytesError](err); tooBig {
		h.jsonError(w, http.StatusRequestEntityTooLarge, "body_too_large", err.Error())
	} else if errors.Is(err, os.ErrDeadlineExceeded) {
		// Closing spares net/http waiting for the rest of the body.
		w.Header().Set("Connection", "close")
		if h.isShutdown() {
			h.jsonError(w, http.StatusServiceUnavailable, "shutdown", "the server is shutting down")
		} else {
			h.jsonError(w, http.StatusRequestTimeout, "body_timeout", "the request body did not arrive in time")
		}
	} else {
		h.jsonError(w, http.StatusBadRequest, "bad_request", "cannot read the request body")
	}
	return nil, false
}

// readBodyUnder reads a body of at most limit bytes under
// Config.BodyTimeout, reporting whether the deadline could be set. The
// hub's shutdown ends the read at once, so that a client trickling a body
// does not hold the server's shutdown up.
func (h *Hub) readBodyUnder(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, bool, error) {
	rc := http.NewResponseController(w)
	deadline := rc.SetReadDeadline(time.Now().Add(h.cfg.BodyTimeout)) == nil
	if deadline {
		stop := context.AfterFunc(h.ctx, func() { _ = rc.SetReadDeadline(time.Now()) })
		defer stop()
	}
	if testHookBody != nil {
		testHookBody()
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	return body, deadline, err
}

// testHookBody, set only by tests, runs when a request starts reading its
// body.
var testHookBody func()

// jsonCursorError answers a cursor ParseCursorMax refused.
func (h *Hub) jsonCursorError(w http.ResponseWriter, err error) {
	if errors.Is(err, frame.ErrTooManyEntries) {
		h.jsonError(w, http.StatusBadRequest, "too_many_subscriptions", fmt.Sprintf("at most %d channels", MaxSubscriptions))
		return
	}
	h.jsonError(w, http.StatusBadRequest, "bad_cursor", err.Error())
}

// appendCursorIDs appends to ids, deduplicated, the channels of cur that
// ids does not name, sorted so that a stream's cursor keeps one order from
// one connection to the next. Both are bounded by the subscription cap
// (plus one, to be refused).
func appendCursorIDs(ids []string, cur frame.Cursor) []string {
	seen := make(map[string]struct{}, len(ids)+len(cur))
	out := ids[:0:0]
	for _, id := range ids {
		if _, dup := seen[id]; !dup {
			seen[id] = struct{}{}
			out = append(out, id)
		}
	}
	n := len(out)
	for id := range cur {
		if _, dup := seen[id]; !dup {
			seen[id] = struct{}{}
			out = append(out, id)
		}
	}
	slices.Sort(out[n:])
	return out
}

// checkChannels validates the channel list of a request, returning the
// refusal's status, reason and message, or 0.
func checkChannels(ids []string) (int, string, string) {
	switch {
	case len(ids) == 0:
		return http.StatusBadRequest, "bad_request", "no channels"
	case len(ids) > MaxSubscriptions:
		return http.StatusBadRequest, "too_many_subscriptions", fmt.Sprintf("at most %d channels", MaxSubscriptions)
	}
	return 0, "", ""
}

// subscribeAll subscribes the stream to ids: those with a position in cur
// resume from it (quietly: the client knows where it stands), the others
// start with their last n messages (0: from now). It appends the frames to
// send, each followed by LF.
func (st *stream) subscribeAll(dst []byte, ids []string, cur frame.Cursor, last int) []byte {
	for _, id := range ids {
		if p, resumed := cur[id]; resumed {
			dst = st.subscribe(dst, id, start{after: &p.Offset, epoch: p.Epoch}, true)
		} else {
			dst = st.subscribe(dst, id, start{last: last}, false)
		}
	}
	return dst
}
