package redis_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/halleyhq/halley/broker"
	"github.com/halleyhq/halley/broker/brokertest"
	"github.com/halleyhq/halley/broker/redis"
	"github.com/halleyhq/halley/internal/redistest"
)

// quiet is the tests' logger: the broker's logs only with -v.
func quiet(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// options returns the tests' Options for srv: a short ReadyTimeout, so
// that a stopped server shows quickly.
func options(t testing.TB, srv *redistest.Server) redis.Options {
	return redis.Options{
		URL:          srv.URL(),
		Logger:       quiet(t),
		DialTimeout:  time.Second,
		IOTimeout:    5 * time.Second,
		ReadyTimeout: time.Second,
	}
}

// newBroker returns a broker on srv, not started, closed when the test ends.
func newBroker(t testing.TB, opts redis.Options) *redis.Broker {
	t.Helper()
	b, err := redis.New(t.Context(), opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := b.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return b
}

// startBroker returns a broker on srv, started with a Recorder.
func startBroker(t testing.TB, opts redis.Options) (*redis.Broker, *brokertest.Recorder) {
	t.Helper()
	b := newBroker(t, opts)
	rec := new(brokertest.Recorder)
	if err := b.Start(t.Context(), rec); err != nil {
		t.Fatalf("Start: %v", err)
	}
	return b, rec
}

func subscribe(t testing.TB, b broker.Broker, stream string) {
	t.Helper()
	if err := b.Subscribe(t.Context(), stream); err != nil {
		t.Fatalf("Subscribe(%q): %v", stream, err)
	}
}

func publish(t testing.TB, b broker.Broker, stream, data string) broker.PublishResult {
	t.Helper()
	res, err := b.Publish(t.Context(), stream, []byte(data), broker.PublishOptions{HistorySize: 100})
	if err != nil {
		t.Fatalf("Publish(%q, %q): %v", stream, data, err)
	}
	return res
}

// eventually calls f until it returns nil, failing the test with its last
// error after timeout. It is for conditions nothing signals, such as a
// client that reconnects by itself.
func eventually(t testing.TB, timeout time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still failing after %v: %v", what, timeout, err)
		}
		select {
		case <-t.Context().Done():
			t.Fatalf("%s: %v", what, t.Context().Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
