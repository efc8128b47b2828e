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
	return newHubWith(t, srv, halley.Config{})
}

// newHubWith is newHub with more of the hub's configuration.
func newHubWith(t *testing.T, srv *redistest.Server, cfg halley.Config) *halley.Hub {
	t.Helper()
	cfg.Broker, cfg.Logger = newBroker(t, options(t, srv)), quiet(t)
	hub, err := halley.New(cfg)
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

// TestHub_SessionExpiresWhenNoNodeSawIt: a session lives while any node
// serves it; a node that no longer sees it forgets its copy, and the
// session ends for all, with its channels, once no node saw it for the
// timeout.
func TestHub_SessionExpiresWhenNoNodeSawIt(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	cfg := halley.Config{SessionTimeout: time.Second}
	a, b := newHubWith(t, srv, cfg), newHubWith(t, srv, cfg)
	s, err := a.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	s.SetUser("ada")
	id := s.ID()

	// The client's requests now all go to B: A forgets its copy, the
	// session lives on.
	for {
		sb, ok := b.Session(id)
		if !ok {
			t.Fatal("B lost the session while serving it")
		}
		if sb.User() != "ada" {
			t.Fatalf("B's copy has user %q, want ada", sb.User())
		}
		sb.Touch()
		select {
		case <-s.Done():
		case <-t.Context().Done():
			t.Fatal("A never forgot its copy")
		default:
			continue
		}
		break
	}
	sa, ok := a.Session(id)
	if !ok || sa.User() != "ada" {
		t.Fatalf("A finds the session again: %v, user %q", ok, sa.User())
	}
	c, err := a.NewChannel(t.Context(), halley.ChannelOptions{Kind: halley.KindSession, Session: sa})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := b.Channel(c.ID()); !ok {
		t.Fatal("B does not find the session's channel")
	}

	// Nobody sees it any more: it ends on both, with its channel.
	sb, ok := b.Session(id)
	if !ok {
		t.Fatal("B lost the session")
	}
	for _, copy := range []*halley.Session{sa, sb} {
		select {
		case <-copy.Done():
		case <-t.Context().Done():
			t.Fatal("the session never expired")
		}
	}
	if _, ok := b.Session(id); ok {
		t.Fatal("B still finds the session after it expired")
	}
	if _, ok := b.Channel(c.ID()); ok {
		t.Fatal("the expired session's channel is still there")
	}
}
