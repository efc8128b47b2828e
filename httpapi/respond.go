package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/broker"
)

// errorBody is the JSON of every error answer.
type errorBody struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

// writeJSON answers code with v as JSON.
func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Only our own response types get here; they always marshal.
		code = http.StatusInternalServerError
		b = []byte(`{"error":"internal","message":"cannot encode the answer"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}

// writeError answers code with a machine-readable reason and a message.
func writeError(w http.ResponseWriter, code int, reason, message string) {
	// The request's body may not have been read: without closing at
	// once, net/http would wait for it, however slowly it comes, before
	// answering or after.
	w.Header().Set("Connection", "close")
	_ = http.NewResponseController(w).SetReadDeadline(time.Now())
	writeJSON(w, code, errorBody{Error: reason, Message: message})
}

// statusOf maps the reasons of halley.Reason to HTTP statuses.
var statusOf = map[string]int{
	"name_taken":         http.StatusConflict,
	"too_many_channels":  http.StatusTooManyRequests,
	"too_many_sessions":  http.StatusTooManyRequests,
	"unknown_channel":    http.StatusNotFound,
	"unknown_session":    http.StatusNotFound,
	"session_closed":     http.StatusGone,
	"invalid_name":       http.StatusBadRequest,
	"invalid_options":    http.StatusBadRequest,
	"channel_ended":      http.StatusGone,
	"channel_full":       http.StatusConflict,
	"wrong_kind":         http.StatusBadRequest,
	"deactivated":        http.StatusServiceUnavailable,
	"shutdown":           http.StatusServiceUnavailable,
	"unknown_command":    http.StatusBadRequest,
	"unknown_notifier":   http.StatusNotFound,
	"rejected":           http.StatusUnprocessableEntity,
	"message_too_large":  http.StatusRequestEntityTooLarge,
	"not_a_bus":          http.StatusBadRequest,
	"broker_unavailable": http.StatusServiceUnavailable,
}

// writeHubError answers a library error with its reason and status;
// errors it does not know are logged and answered 500 internal.
func (a *api) writeHubError(w http.ResponseWriter, r *http.Request, err error) {
	reason := halley.Reason(err)
	if reason == "internal" && errors.Is(err, broker.ErrClosed) {
		// The broker closes at hub shutdown; writes racing it should
		// say so rather than look like a bug.
		reason = "shutdown"
	}
	code, ok := statusOf[reason]
	if !ok {
		a.log.Error("halley: api: internal error", "method", r.Method, "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, "internal", "internal error")
		return
	}
	msg := err.Error()
	if reason == "rejected" {
		msg = rejectMessage(msg)
	}
	writeError(w, code, reason, msg)
}

// rejectMessage returns the reason a bus filter gave for refusing a
// write: what follows "halley: rejected: " in the error (filters wrap
// halley.ErrRejected as "%w: reason"), so that the writer reads the
// filter's words rather than our wrapping.
func rejectMessage(msg string) string {
	prefix := halley.ErrRejected.Error() + ": "
	if i := strings.Index(msg, prefix); i >= 0 && i+len(prefix) < len(msg) {
		return msg[i+len(prefix):]
	}
	return "the bus filter rejected the write"
}
