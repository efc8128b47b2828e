package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"
)

// opsConfig is what an operator sets to watch the server: its logs and
// where its metrics are served. The config file's keys are its JSON
// names; every field is also a flag.
type opsConfig struct {
	LogLevel  string `json:"log_level"`  // debug, info, warn, error
	LogFormat string `json:"log_format"` // text or json
	AccessLog bool   `json:"access_log"`
	// MetricsAddr, when set, serves /metrics there, without the API's
	// access rule, and not on the main address.
	MetricsAddr string `json:"metrics_addr"`
}

func defaultOps() opsConfig { return opsConfig{LogLevel: "info", LogFormat: "text"} }

func (c *opsConfig) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "`level` of the logs on stderr: debug, info, warn or error")
	fs.StringVar(&c.LogFormat, "log-format", c.LogFormat, "`format` of the logs on stderr: text or json")
	fs.BoolVar(&c.AccessLog, "access-log", c.AccessLog, "log every HTTP request (method, path without its query, status, bytes, duration, client)")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", c.MetricsAddr, "`address` to serve Prometheus /metrics on, open to all who reach it (default: /metrics on --addr, under the API's access rule)")
}

func (c opsConfig) check() error {
	if _, err := parseLevel(c.LogLevel); err != nil {
		return err
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		return fmt.Errorf("log format %q: want text or json", c.LogFormat)
	}
	return nil
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("log level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

// logger returns the server's logger, writing to w.
func (c opsConfig) logger(w io.Writer) *slog.Logger {
	level, _ := parseLevel(c.LogLevel) // checked
	opts := &slog.HandlerOptions{Level: level}
	if strings.EqualFold(c.LogFormat, "json") {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// accessLog wraps next so that every request is logged once its handler
// returns: for WebSocket and SSE streams, which leave net/http once
// accepted (hijacked), that is when they start. The query is left out: it
// may carry a token.
func accessLog(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		aw := &accessWriter{ResponseWriter: w}
		defer func() {
			code := aw.code
			switch {
			case code != 0:
			case aw.hijacked && r.Header.Get("Sec-WebSocket-Key") != "":
				// The hub answered the handshake on the connection,
				// once it had checked it.
				code = http.StatusSwitchingProtocols
			case aw.n > 0 || aw.hijacked:
				code = http.StatusOK // a taken-over SSE stream wrote its own
			}
			log.LogAttrs(context.Background(), slog.LevelInfo, "halley: access",
				slog.String("method", r.Method), slog.String("path", r.URL.Path),
				slog.Int("status", code), slog.Int64("bytes", aw.n),
				slog.Duration("duration", time.Since(start)), slog.String("remote", r.RemoteAddr))
		}()
		next.ServeHTTP(aw, r)
	})
}

// accessWriter remembers an answer's status and size. Unwrap lets
// http.ResponseController reach the connection (flush, deadlines,
// hijack).
type accessWriter struct {
	http.ResponseWriter
	code     int
	n        int64
	hijacked bool
}

func (a *accessWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(a.ResponseWriter).Hijack()
	a.hijacked = err == nil
	return conn, brw, err
}

func (a *accessWriter) WriteHeader(code int) {
	if a.code == 0 {
		a.code = code
	}
	a.ResponseWriter.WriteHeader(code)
}

func (a *accessWriter) Write(b []byte) (int, error) {
	n, err := a.ResponseWriter.Write(b)
	a.n += int64(n)
	return n, err
}

func (a *accessWriter) Flush() { _ = http.NewResponseController(a.ResponseWriter).Flush() }

func (a *accessWriter) Unwrap() http.ResponseWriter { return a.ResponseWriter }
