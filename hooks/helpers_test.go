package hooks_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/hooks"
)

// newHub returns a quiet hub, shut down at the end of the test.
func newHub(t testing.TB) *halley.Hub {
	t.Helper()
	h, err := halley.New(halley.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := h.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return h
}

// newSession returns a session of h belonging to user ("" for none).
func newSession(t testing.TB, h *halley.Hub, user string) *halley.Session {
	t.Helper()
	s, err := h.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	s.SetUser(user)
	return s
}

// backend is an httptest server playing a backend: it records the
// requests and answers them with answer.
type backend struct {
	srv  *httptest.Server
	logs *syncBuffer

	mu   sync.Mutex
	reqs []hookRequest
}

// hookRequest is a request a backend received.
type hookRequest struct {
	header http.Header
	body   map[string]json.RawMessage
}

// answer is what a backend sends: a status and a body.
type answer struct {
	status int
	body   string
}

func newBackend(t testing.TB, answerFor func(body map[string]json.RawMessage) answer) *backend {
	t.Helper()
	b := &backend{logs: &syncBuffer{}}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var body map[string]json.RawMessage
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || json.Unmarshal(raw, &body) != nil {
			t.Errorf("backend got %s %q (%s)", r.Method, raw, r.Header.Get("Content-Type"))
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		b.mu.Lock()
		b.reqs = append(b.reqs, hookRequest{header: r.Header, body: body})
		b.mu.Unlock()
		a := answerFor(body)
		if a.body != "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(a.status)
		_, _ = io.WriteString(w, a.body)
	}))
	t.Cleanup(b.srv.Close)
	return b
}

// opts returns hook options that use the backend's client (whose
// connections the server closes) and log to b.logs.
func (b *backend) opts() hooks.Options {
	return hooks.Options{
		Client: b.srv.Client(),
		Logger: newLogger(b.logs),
	}
}

// requests returns the requests received so far.
func (b *backend) requests() []hookRequest {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]hookRequest(nil), b.reqs...)
}

// str decodes a JSON string field, "" when absent.
func str(t testing.TB, body map[string]json.RawMessage, field string) string {
	t.Helper()
	raw, ok := body[field]
	if !ok {
		return ""
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatalf("field %q = %s, not a string", field, raw)
	}
	return s
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newLogger(w *syncBuffer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }
