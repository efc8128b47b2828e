package halley

import (
	"encoding/json"
	"net/http"
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
