package halley_test

import (
	"context"
	"testing"
	"time"

	"github.com/halleyhq/halley"
)

// newHub returns a hub shut down when the test ends.
func newHub(t testing.TB, cfg halley.Config) *halley.Hub {
	t.Helper()
	h, err := halley.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
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

// testCtx bounds a test's waits so a bug fails instead of hanging.
func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newChannel(t testing.TB, h *halley.Hub, opts halley.ChannelOptions) *halley.Channel {
	t.Helper()
	c, err := h.NewChannel(testCtx(t), opts)
	if err != nil {
		t.Fatalf("NewChannel(%+v): %v", opts, err)
	}
	return c
}

func write(t testing.TB, c *halley.Channel, data string) halley.Outcome {
	t.Helper()
	o, err := c.Write(testCtx(t), []byte(data))
	if err != nil {
		t.Fatalf("Write(%q): %v", data, err)
	}
	return o
}

func datas(msgs []halley.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = string(m.Data)
	}
	return out
}

func testCtxCancel(t testing.TB) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx, cancel
}
