package httpapi

import (
	"net/http"
	"runtime/debug"
)

// recover answers 500 internal if a handler panics, and logs the stack. It
// is a safety net: the handlers do not panic on client input.
func (a *api) recover(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// observe's writer, when it wraps this, tells whether the
		// answer started: no second one.
		rw := answerWriterOf(w)
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			a.log.Error("halley: api: panic", "method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
			if !rw.started() {
				writeError(w, http.StatusInternalServerError, "internal", "internal error")
			}
		}()
		next.ServeHTTP(rw, r)
	})
}
