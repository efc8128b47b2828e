package httpapi

import (
	"net/http"
	"time"
)

// RequestObserver is told of every API request once it is answered: its
// route (the pattern it matched, such as "/api/channels/{id}", or "other"
// for paths the API does not serve), its status code and how long it
// took. Package metrics has one that feeds Prometheus. ObserveRequest is
// called on the request's goroutine, concurrently: it must be quick.
type RequestObserver interface {
	ObserveRequest(route string, code int, elapsed time.Duration)
}

// Protect wraps h with the API's access rule for key (see Options.APIKey):
// what the server uses to put other operator endpoints, such as /metrics,
// behind the same rule as the API.
func Protect(key string, h http.Handler) http.Handler { return authorize(key, h) }

// observe wraps next, the API's handler, so that o sees every request
// with the route mux gives it.
func observe(o RequestObserver, rt routes, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		route := rt.route(r)
		if route == "" || route == "/" {
			route = "other"
		}
		sw := answerWriterOf(w) // the lean loop's is used again
		defer func() {
			code := sw.code
			if code == 0 {
				code = http.StatusOK
			}
			o.ObserveRequest(route, code, time.Since(start))
		}()
		next.ServeHTTP(sw, r)
	})
}

// answerWriter remembers the status code of an answer (for observe) and
// whether it started (for recover): one per request serves both. It
// also lends its scratch space to the answer's encoding.
type answerWriter struct {
	http.ResponseWriter
	code    int
	scratch [64]byte
}

// answerWriterOf returns w as an *answerWriter, wrapping it when it is
// not one yet.
func answerWriterOf(w http.ResponseWriter) *answerWriter {
	if aw, ok := w.(*answerWriter); ok {
		return aw
	}
	return &answerWriter{ResponseWriter: w}
}

// started reports whether the answer has started.
func (s *answerWriter) started() bool { return s.code != 0 }

func (s *answerWriter) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *answerWriter) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *answerWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// scratchOf returns a small buffer to encode an answer to w in: w's
// scratch space when w is an *answerWriter (no allocation), else a new
// one. The answer must be written before the next use.
func scratchOf(w http.ResponseWriter) []byte {
	if aw, ok := w.(*answerWriter); ok {
		return aw.scratch[:0]
	}
	return make([]byte, 0, 64)
}
