package redis_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/broker"
	"github.com/halleyhq/halley/broker/redis"
	"github.com/halleyhq/halley/internal/redistest"
)

// hookedBroker is a Redis broker that runs afterSubscribe once Subscribe
// is done, before it returns, and tells seen of every message its handler
// got.
type hookedBroker struct {
	*redis.Broker
	afterSubscribe func(stream string)
	seen           chan uint64
}

func (b *hookedBroker) Start(ctx context.Context, h broker.Handler) error {
	return b.Broker.Start(ctx, seenHandler{h, b.seen})
}

func (b *hookedBroker) Subscribe(ctx context.Context, stream string) error {
	if err := b.Broker.Subscribe(ctx, stream); err != nil {
		return err
	}
	b.afterSubscribe(stream)
	return nil
}

type seenHandler struct {
	broker.Handler
	seen chan uint64
}

func (h seenHandler) HandleMessage(m broker.Message) int {
	n := h.Handler.HandleMessage(m)
	select {
	case h.seen <- m.Offset:
	default:
	}
	return n
}

// TestHub_CopyMadeWhileWritten: a node that takes up a channel while
// another writes it has its whole history, also when a new message reaches
// its subscription before it read the history. (The copy began at that
// message: a session's client moving to that node lost everything before
// it without a gap.)
func TestHub_CopyMadeWhileWritten(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	a := newHub(t, srv)
	ca, err := a.NewChannel(t.Context(), halley.ChannelOptions{Name: "news", Size: 100})
	if err != nil {
		t.Fatal(err)
	}
	const before = 5
	for i := 1; i <= before; i++ {
		if _, err := ca.Write(t.Context(), fmt.Appendf(nil, "m%d", i)); err != nil {
			t.Fatal(err)
		}
	}

	hooked := false
	hb := &hookedBroker{Broker: newBroker(t, options(t, srv)), seen: make(chan uint64, 64)}
	hb.afterSubscribe = func(stream string) {
		if stream != "news" || hooked {
			return
		}
		hooked = true
		// Between Subscribe and History: A writes, and B's subscription
		// delivers it.
		out, err := ca.Write(t.Context(), []byte(fmt.Sprintf("m%d", before+1)))
		if err != nil {
			t.Errorf("write during the copy: %v", err)
			return
		}
		for off := range hb.seen {
			if off == out.Offset {
				return
			}
		}
	}
	b, err := halley.New(halley.Config{Broker: hb, Logger: quiet(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := b.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	cb, ok := b.Channel("news")
	if !ok {
		t.Fatal("B does not find the channel")
	}
	msgs, err := cb.Read(t.Context(), 0, 0)
	if err != nil {
		t.Fatalf("B reads from the start: %v", err)
	}
	if len(msgs) != before+1 {
		t.Fatalf("B's copy holds %d messages, want %d", len(msgs), before+1)
	}
	for i, m := range msgs {
		if want := fmt.Sprintf("m%d", i+1); string(m.Data) != want || m.Offset != uint64(i+1) {
			t.Fatalf("B's message %d: %q at offset %d, want %q at %d", i, m.Data, m.Offset, want, i+1)
		}
	}
}
