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
		sw := &statusWriter{ResponseWriter: w}
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

// statusWriter remembers the status code of an answer.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
