//go:build unix

package halley

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/halleyhq/halley/internal/uring"
	"github.com/halleyhq/halley/internal/wire/frame"
)

// haveURing reports whether this machine has io_uring.
func haveURing() bool {
	b, err := uring.New()
	if err != nil {
		return false
	}
	b.Close()
	return true
}

// TestPool_BatchedSends: the writers send the streams' writes in batches
// where io_uring is available, and each client gets every message once,
// in order; with Config.NoIOURing each write is its own send.
func TestPool_BatchedSends(t *testing.T) {
	for _, off := range []bool{false, true} {
		t.Run(fmt.Sprint("NoIOURing=", off), func(t *testing.T) {
			ev := watchPool(t)
			h, srv := poolHub(t, Config{NoIOURing: off})
			c, err := h.NewChannel(context.Background(), ChannelOptions{Name: "news"})
			if err != nil {
				t.Fatal(err)
			}
			const clients, msgs = 20, 5
			var cls []*rawSSE
			for range clients {
				cl := dialSSE(t, srv, "channel=news")
				cl.expect(t, frame.TypeSubscribed)
				<-ev.parks
				cls = append(cls, cl)
			}
			for i := 1; i <= msgs; i++ {
				if _, err := c.Write(context.Background(), []byte(fmt.Sprintf(`"m%d"`, i))); err != nil {
					t.Fatal(err)
				}
			}
			for j, cl := range cls {
				for i := uint64(1); i <= msgs; i++ {
					if f := cl.expect(t, frame.TypeMsg); *f.Offset != i {
						t.Fatalf("client %d: message %+v, want offset %d", j, f, i)
					}
				}
			}
			runs := h.pool.sent.runs.Load()
			switch {
			case off && runs != 0:
				t.Errorf("%d runs batched with NoIOURing", runs)
			case !off && haveURing() && runs == 0:
				t.Error("nothing was batched")
			}
		})
	}
}

// TestPool_QueuedSendFallsShort: a client that stops reading fills its
// socket with small messages, each a queued send; the one the socket
// takes only part of leaves the rest to the stream's owner, and when the
// client reads again it gets every message once, in order.
func TestPool_QueuedSendFallsShort(t *testing.T) {
	if !haveURing() {
		t.Skip("SKIP: io_uring is not available on this machine")
	}
	ev := watchPool(t)
	h, srv := poolHub(t, Config{})
	const most = 40000
	c, err := h.NewChannel(context.Background(), ChannelOptions{Name: "news", Size: most, MaxBytes: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	cl := dialSSE(t, srv, "channel=news")
	cl.expect(t, frame.TypeSubscribed)
	<-ev.park
	for len(ev.idle) > 0 {
		<-ev.idle
	}
	// One message at a time, each the writer's one run for the stream.
	payload := strings.Repeat("x", 512)
	n := 0
	for handedBack := false; !handedBack; {
		if n++; n > most {
			t.Fatalf("%d messages and the stream was not handed back", most)
		}
		if _, err := c.Write(context.Background(), []byte(fmt.Sprintf(`"%d %s"`, n, payload))); err != nil {
			t.Fatal(err)
		}
		select {
		case <-ev.idle:
		case <-ev.handback:
			handedBack = true
		}
	}
	if h.pool.sent.short.Load() == 0 {
		t.Error("no queued send fell short")
	}
	for i := 1; i <= n; i++ {
		f := cl.frame(t)
		if f.Type != frame.TypeMsg || f.Offset == nil || *f.Offset != uint64(i) {
			t.Fatalf("frame %d: %+v, want message %d", i, f, i)
		}
	}
}
