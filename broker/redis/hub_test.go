package redis_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/internal/redistest"
)

// newHub returns a hub over a Redis broker on srv, shut down when the test
// ends.
func newHub(t *testing.T, srv *redistest.Server) *halley.Hub {
	t.Helper()
	hub, err := halley.New(halley.Config{Broker: newBroker(t, options(t, srv)), Logger: quiet(t)})
	if err != nil {
		t.Fatalf("halley.New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := hub.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return hub
}

// TestHub_TwoNodes: two hubs on one Redis are one server: a channel of the
// same name on both has one ring, written from either side. The second
// node declares it (a plain NewChannel finds the name taken).
func TestHub_TwoNodes(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	a, b := newHub(t, srv), newHub(t, srv)
	ca, err := a.NewChannel(t.Context(), halley.ChannelOptions{Name: "news"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.NewChannel(t.Context(), halley.ChannelOptions{Name: "news"}); !errors.Is(err, halley.ErrNameTaken) {
		t.Fatalf("NewChannel of a name another node has: %v; want ErrNameTaken", err)
	}
	cb, err := b.NewChannel(t.Context(), halley.ChannelOptions{Name: "news", Declare: true})
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range []struct {
		on   *halley.Channel
		data string
	}{{ca, "one"}, {ca, "two"}, {cb, "three"}} {
		out, err := w.on.Write(t.Context(), []byte(w.data))
		if err != nil {
			t.Fatalf("Write(%q): %v", w.data, err)
		}
		if out.Offset != uint64(i+1) {
			t.Fatalf("Write(%q) at offset %d; want %d, one counter for both nodes", w.data, out.Offset, i+1)
		}
	}
	for name, c := range map[string]*halley.Channel{"A": ca, "B": cb} {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		r := c.Reader(0)
		var got []string
		for len(got) < 3 {
			m, err := r.Next(ctx)
			if err != nil {
				t.Fatalf("node %s: reading after %v: %v", name, got, err)
			}
			if m.Offset != uint64(len(got)+1) {
				t.Fatalf("node %s: message %q at offset %d; want %d", name, m.Data, m.Offset, len(got)+1)
			}
			got = append(got, string(m.Data))
		}
		cancel()
		if got[0] != "one" || got[1] != "two" || got[2] != "three" {
			t.Errorf("node %s read %q; want one, two, three", name, got)
		}
	}
	// A channel opened later on a third node starts from the shared ring.
	cc, err := newHub(t, srv).NewChannel(t.Context(), halley.ChannelOptions{Name: "news", Declare: true})
	if err != nil {
		t.Fatal(err)
	}
	if off := cc.Offset(); off != 3 {
		t.Errorf("a third node's channel at offset %d; want 3", off)
	}
}
