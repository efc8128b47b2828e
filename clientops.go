package halley

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"

	"github.com/halleyhq/halley/internal/wire/frame"
)

// clientWrite writes data to the bus id on behalf of session s: what a
// client's write frame or POST /write does.
func (h *Hub) clientWrite(ctx context.Context, s *Session, remote, id string, data []byte) (Outcome, error) {
	b, ok := h.Bus(id)
	if !ok {
		if _, isChannel := h.Channel(id); isChannel {
			return Outcome{}, fmt.Errorf("write to %q: %w", id, ErrNotABus)
		}
		return Outcome{}, fmt.Errorf("write to %q: %w", id, ErrUnknownChannel)
	}
	return b.WriteAs(ctx, Writer{Session: s, RemoteAddr: remote}, data)
}

// statusOf maps a library error to the HTTP status of its reason.
func statusOf(err error) int {
	switch Reason(err) {
	case "unknown_channel", "unknown_notifier", "unknown_session":
		return http.StatusNotFound
	case "rejected":
		return http.StatusUnprocessableEntity
	case "message_too_large":
		return http.StatusRequestEntityTooLarge
	case "channel_ended", "session_closed":
		return http.StatusGone
	case "shutdown", "deactivated":
		return http.StatusServiceUnavailable
	case "too_many_sessions":
		return http.StatusTooManyRequests
	case "internal":
		return http.StatusInternalServerError
	}
	return http.StatusBadRequest
}

// readClientJSON checks the method and media type of a client POST and
// reads its body as a frame. It answers the error itself and returns false
// when the request is bad.
func (h *Hub) readClientJSON(w http.ResponseWriter, r *http.Request) (frame.Frame, bool) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		jsonError(w, http.StatusMethodNotAllowed, "method_not_allowed", "use POST")
		return frame.Frame{}, false
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		jsonError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "want application/json")
		return frame.Frame{}, false
	}
	if h.refuse(w) {
		return frame.Frame{}, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxRequestBody+int64(h.cfg.MaxMessageSize)))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			jsonError(w, http.StatusRequestEntityTooLarge, "body_too_large", err.Error())
		} else {
			jsonError(w, http.StatusBadRequest, "bad_request", "cannot read the body")
		}
		return frame.Frame{}, false
	}
	f, err := frame.Decode(body)
	if err != nil {
		jsonError(w, http.StatusBadRequest, "bad_json", err.Error())
		return frame.Frame{}, false
	}
	return f, true
}

// WriteHandler returns POST /write: a client writes to a bus over HTTP (for
// the transports other than WebSocket). Body: {"channel": bus id, and the
// payload as "json", "data" or "data64"}; answer {"offset": n}. Writes of
// one session enter the bus in the order its requests are answered.
func (h *Hub) WriteHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, ok := h.readClientJSON(w, r)
		if !ok {
			return
		}
		if f.Channel == "" || !f.HasData() {
			jsonError(w, http.StatusBadRequest, "bad_request", "want a channel and a payload (json, data or data64)")
			return
		}
		s, end, ok := h.openSession(w, r)
		if !ok {
			return
		}
		defer end()
		o, err := h.clientWrite(r.Context(), s, r.RemoteAddr, f.Channel, f.Data())
		if err != nil {
			jsonError(w, statusOf(err), Reason(err), clientMessage(err))
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"session": s.id, "offset": o.Offset})
	})
}

// ListenHandler returns POST /listen and POST /unlisten (unlisten true):
// body {"notifier", "key"}; /listen answers {"channel": id}, the session's
// notification channel to subscribe to.
func (h *Hub) ListenHandler(unlisten bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, ok := h.readClientJSON(w, r)
		if !ok {
			return
		}
		if f.Notifier == "" || f.Key == "" {
			jsonError(w, http.StatusBadRequest, "bad_request", "want a notifier and a key")
			return
		}
		s, end, ok := h.openSession(w, r)
		if !ok {
			return
		}
		defer end()
		if unlisten {
			if err := h.Unlisten(s, f.Notifier, f.Key); err != nil {
				jsonError(w, statusOf(err), Reason(err), clientMessage(err))
				return
			}
			writeJSON(w, http.StatusOK, map[string]any{"session": s.id})
			return
		}
		ch, err := h.Listen(s, f.Notifier, f.Key)
		if err != nil {
			jsonError(w, statusOf(err), Reason(err), clientMessage(err))
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"session": s.id, "channel": ch})
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
