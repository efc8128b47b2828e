package halley

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/halleyhq/halley/internal/wire/frame"
)

// MaxSubscriptions bounds the channels one connection reads.
const MaxSubscriptions = 256

// transportSession finds the session a Halley-protocol request names (the
// Halley-Session header, the halley_session cookie, or the session query
// parameter, which EventSource and WebSocket clients can set) or creates
// one, and marks a request under way: call the returned end when it is
// over.
func (h *Hub) transportSession(w http.ResponseWriter, r *http.Request) (*Session, func(), error) {
	if r.Header.Get(SessionHeader) == "" {
		if id := r.URL.Query().Get("session"); id != "" {
			r.Header.Set(SessionHeader, id)
		}
	}
	s, err := h.SessionFor(w, r)
	if err != nil {
		return nil, nil, err
	}
	s.begin()
	return s, s.end, nil
}

// jsonError answers {"error": reason, "message": message}.
func jsonError(w http.ResponseWriter, code int, reason, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}{reason, message})
}

// refuse answers a request that comes while the hub does not serve.
// It reports whether it did.
func (h *Hub) refuse(w http.ResponseWriter) bool {
	switch {
	case h.isShutdown():
		jsonError(w, http.StatusServiceUnavailable, "shutdown", "the server is shutting down")
	case !h.Active():
		jsonError(w, http.StatusServiceUnavailable, "deactivated", "push is deactivated on this server")
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
		jsonError(w, http.StatusMethodNotAllowed, "method_not_allowed", "use "+method)
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

// openSession is transportSession answering its error itself.
func (h *Hub) openSession(w http.ResponseWriter, r *http.Request) (*Session, func(), bool) {
	s, end, err := h.transportSession(w, r)
	if err != nil {
		jsonError(w, statusOf(err), Reason(err), err.Error())
		return nil, nil, false
	}
	return s, end, true
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
