package halley

import (
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"

	"github.com/halleyhq/halley/internal/wire/frame"
)

// clientWrite writes data to the bus id on behalf of session s, whose
// grant is g: what a client's write frame or POST /write does. The grant
// must allow it, and the message must be at most Config.MaxClientMessage.
func (h *Hub) clientWrite(ctx context.Context, s *Session, g *Grant, remote, id string, data []byte) (Outcome, error) {
	if err := h.mayWrite(g, id); err != nil {
		return Outcome{}, err
	}
	if len(data) > h.cfg.MaxClientMessage {
		return Outcome{}, fmt.Errorf("write to %q: %w: %d bytes, the limit for clients is %d", id, ErrTooLarge, len(data), h.cfg.MaxClientMessage)
	}
	b, ok := h.Bus(id)
	if !ok {
		if c, isChannel := h.Channel(id); isChannel && c.session == nil {
			return Outcome{}, fmt.Errorf("write to %q: %w", id, ErrNotABus)
		}
		return Outcome{}, fmt.Errorf("write to %q: %w", id, ErrUnknownChannel)
	}
	return b.WriteAs(ctx, Writer{Session: s, RemoteAddr: remote}, data)
}

// clientListen makes session s, whose grant is g, listen on key of the
// notifier called name, if the grant allows it.
func (h *Hub) clientListen(s *Session, g *Grant, name, key string) (string, error) {
	n, ok := h.notifier(name)
	if err := h.mayListen(g, name, key, n); err != nil {
		return "", err
	}
	if !ok {
		return "", fmt.Errorf("listen: %w: %q", ErrUnknownNotifier, name)
	}
	return n.listen(s, key)
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
	case "shutdown", "deactivated", "broker_unavailable":
		return http.StatusServiceUnavailable
	case "too_many_sessions", "rate_limited", "too_many_listens":
		return http.StatusTooManyRequests
	case "forbidden":
		return http.StatusForbidden
	case "internal":
		return http.StatusInternalServerError
	case "invalid_token", "token_expired":
		return http.StatusUnauthorized
	}
	return http.StatusBadRequest
}

// readClientJSON admits a client POST (see admit), checks its media type
// and reads its body as a frame. It answers the error itself and returns
// nil when the request is refused; the caller calls done on the visit it
// returns.
func (h *Hub) readClientJSON(w http.ResponseWriter, r *http.Request) (*visit, frame.Frame) {
	v := h.admit(w, r, http.MethodPost)
	if v == nil {
		return nil, frame.Frame{}
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		h.jsonError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "want application/json")
		v.done()
		return nil, frame.Frame{}
	}
	// A payload of MaxClientMessage bytes, in base64 or escaped, and the
	// frame around it.
	body, ok := h.readBody(w, r, h.cfg.MaxRequestBody+2*int64(h.cfg.MaxClientMessage))
	if !ok {
		v.done()
		return nil, frame.Frame{}
	}
	f, err := frame.Decode(body)
	if err != nil {
		h.jsonError(w, http.StatusBadRequest, "bad_json", err.Error())
		v.done()
		return nil, frame.Frame{}
	}
	return v, f
}

// WriteHandler returns POST /write: a client writes to a bus over HTTP (for
// the transports other than WebSocket). Body: {"channel": bus id, and the
// payload as "json", "data" or "data64"}; answer {"offset": n}. Writes of
// one session enter the bus in the order its requests are answered.
func (h *Hub) WriteHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, f := h.readClientJSON(w, r)
		if v == nil {
			return
		}
		defer v.done()
		if f.Channel == "" || !f.HasData() {
			h.jsonError(w, http.StatusBadRequest, "bad_request", "want a channel and a payload (json, data or data64)")
			return
		}
		if !v.join(w) {
			return
		}
		o, err := h.clientWrite(r.Context(), v.s, &v.grant, r.RemoteAddr, f.Channel, f.Data())
		if err != nil {
			h.jsonError(w, statusOf(err), Reason(err), clientMessage(err))
			return
		}
		v.keep()
		writeJSON(w, http.StatusOK, map[string]any{"session": v.s.id, "offset": o.Offset})
	})
}

// ListenHandler returns POST /listen and POST /unlisten (unlisten true):
// body {"notifier", "key"}; /listen answers {"channel": id}, the session's
// notification channel to subscribe to.
func (h *Hub) ListenHandler(unlisten bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, f := h.readClientJSON(w, r)
		if v == nil {
			return
		}
		defer v.done()
		if f.Notifier == "" || f.Key == "" {
			h.jsonError(w, http.StatusBadRequest, "bad_request", "want a notifier and a key")
			return
		}
		if !v.join(w) {
			return
		}
		if unlisten {
			if err := h.Unlisten(v.s, f.Notifier, f.Key); err != nil {
				h.jsonError(w, statusOf(err), Reason(err), clientMessage(err))
				return
			}
			v.keep()
			writeJSON(w, http.StatusOK, map[string]any{"session": v.s.id})
			return
		}
		ch, err := h.clientListen(v.s, &v.grant, f.Notifier, f.Key)
		if err != nil {
			h.jsonError(w, statusOf(err), Reason(err), clientMessage(err))
			return
		}
		v.keep()
		writeJSON(w, http.StatusOK, map[string]any{"session": v.s.id, "channel": ch})
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
