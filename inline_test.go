//go:build unix

package halley

import (
	"context"
	"testing"
	"time"

	"github.com/halleyhq/halley/broker"
	"github.com/halleyhq/halley/internal/wire/frame"
)

// TestDeferWrites_PublisherWrites: a write made under DeferWrites keeps
// the parked stream it wakes, no writer starts, and the flush writes the
// message to the client on the calling goroutine.
func TestDeferWrites_PublisherWrites(t *testing.T) {
	h, c, cl, ev := parkedNews(t, Config{})
	ctx, flush := h.DeferWrites(context.Background())
	d := h.deferredOf(ctx)
	for i := uint64(1); i <= 3; i++ {
		if _, err := c.Write(ctx, []byte(`"m"`)); err != nil {
			t.Fatal(err)
		}
		if d.n != 1 {
			t.Fatalf("write %d: %d streams kept, want 1", i, d.n)
		}
		flush()
		if d.n != 0 {
			t.Fatalf("after the flush: %d streams kept", d.n)
		}
		if f := cl.expect(t, frame.TypeMsg); *f.Offset != i {
			t.Fatalf("message %d: %+v", i, f)
		}
	}
	ev.mu.Lock()
	defer ev.mu.Unlock()
	if ev.count["spawn"] != 0 {
		t.Fatalf("%d writers started for deferred writes, want none", ev.count["spawn"])
	}
	// A context of another hub keeps nothing for this one.
	other, _ := New(Config{})
	defer other.Shutdown(context.Background())
	if octx, _ := other.DeferWrites(context.Background()); h.deferredOf(octx) != nil {
		t.Fatal("another hub's deferred writes are taken for this hub's")
	}
}

// TestDeferWrites_ManyStreamsGoToWriters: a write that wakes more streams
// than a deferred write keeps hands the rest to the writers; every client
// gets the message.
func TestDeferWrites_ManyStreamsGoToWriters(t *testing.T) {
	ev := watchPool(t)
	h, srv := poolHub(t, Config{})
	c, err := h.NewChannel(context.Background(), ChannelOptions{Name: "news"})
	if err != nil {
		t.Fatal(err)
	}
	const n = deferMax + 3
	var cls []*rawSSE
	for range n {
		cl := dialSSE(t, srv, "channel=news")
		cl.expect(t, frame.TypeSubscribed)
		cls = append(cls, cl)
	}
	for range n {
		<-ev.parks
	}
	ctx, flush := h.DeferWrites(context.Background())
	if _, err := c.Write(ctx, []byte(`"m"`)); err != nil {
		t.Fatal(err)
	}
	if d := h.deferredOf(ctx); d.n != deferMax {
		t.Fatalf("%d streams kept, want %d", d.n, deferMax)
	}
	flush()
	for i, cl := range cls {
		if f := cl.expect(t, frame.TypeMsg); *f.Offset != 1 {
			t.Fatalf("client %d: %+v", i, f)
		}
	}
}

// TestDeferWrites_BusyStreamRests: a deferred turn whose write gathers
// two messages rests the stream although no writer runs: a writer starts
// to end the rest, and a message written during the rest reaches the
// client after it.
func TestDeferWrites_BusyStreamRests(t *testing.T) {
	h, c, cl, ev := parkedNews(t, Config{WriteDelay: 10 * time.Millisecond})
	ctx, flush := h.DeferWrites(context.Background())
	for range 2 {
		if _, err := c.Write(ctx, []byte(`"m"`)); err != nil {
			t.Fatal(err)
		}
	}
	flush() // one write with both: the stream is busy and rests
	<-ev.rest
	if _, err := c.Write(context.Background(), []byte(`"m"`)); err != nil {
		t.Fatal(err)
	}
	for i := uint64(1); i <= 3; i++ {
		if f := cl.expect(t, frame.TypeMsg); *f.Offset != i {
			t.Fatalf("message %d: %+v", i, f)
		}
	}
}

// TestDeferWrites_WritingTo: within a write under DeferWrites the
// broker's delivery gets the written channel from the write, not by
// looking its name up: with the name gone from the hub's table, the
// message still reaches the channel's reader (a write under another
// context reaches nobody). The channel is the write's only while it
// writes, only for its own stream, and not once closed.
func TestDeferWrites_WritingTo(t *testing.T) {
	h, c, cl, _ := parkedNews(t, Config{})
	ctx, flush := h.DeferWrites(context.Background())
	d := h.deferredOf(ctx)
	h.mu.Lock()
	delete(h.channels, c.ID())
	h.mu.Unlock()
	out, err := c.Write(ctx, []byte(`"m"`))
	flush()
	other, otherErr := c.Write(context.Background(), []byte(`"n"`))
	h.mu.Lock()
	h.channels[c.ID()] = c
	h.mu.Unlock()
	if err != nil || otherErr != nil {
		t.Fatal(err, otherErr)
	}
	if out.Delivered != 1 || other.Delivered != 0 {
		t.Fatalf("delivered to %d and %d, want 1 under DeferWrites, 0 without", out.Delivered, other.Delivered)
	}
	if f := cl.expect(t, frame.TypeMsg); *f.Offset != 1 {
		t.Fatalf("got %+v, want message 1", f)
	}
	if d.writing.Load() != nil {
		t.Fatal("the write's channel outlives the write")
	}
	d.writing.Store(c)
	if d.writingTo(c.ID()) != c || d.writingTo(c.ID()+"-other") != nil {
		t.Fatal("writingTo does not tell the written channel by its stream")
	}
	var none *deferredWrites
	if none.writingTo(c.ID()) != nil {
		t.Fatal("no deferred writes, yet a channel")
	}
	if err := c.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n, open := c.deliverOpen(d, broker.Message{Stream: c.ID(), Offset: 2, Epoch: c.epoch}); open || n != 0 {
		t.Fatalf("a closed channel took a delivery: %d, open %v", n, open)
	}
}
