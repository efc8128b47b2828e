package memory_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/halleyhq/halley/broker"
	"github.com/halleyhq/halley/broker/brokertest"
	"github.com/halleyhq/halley/broker/memory"
)

func TestBroker(t *testing.T) {
	brokertest.Run(t, func(testing.TB) broker.Broker { return memory.New() })
}

// newBroker returns a started memory broker and its recording handler.
func newBroker(t *testing.T) (*memory.Broker, *brokertest.Recorder) {
	t.Helper()
	b := memory.New()
	rec := new(brokertest.Recorder)
	if err := b.Start(t.Context(), rec); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := b.Close(t.Context()); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return b, rec
}

func publish(t *testing.T, b *memory.Broker, stream, data string, historySize int) broker.PublishResult {
	t.Helper()
	res, err := b.Publish(t.Context(), stream, []byte(data), broker.PublishOptions{HistorySize: historySize})
	if err != nil {
		t.Fatalf("Publish(%q, %q): %v", stream, data, err)
	}
	return res
}

func TestBroker_Publish(t *testing.T) {
	t.Run("DeliveredIsHandlerResult", func(t *testing.T) {
		b, rec := newBroker(t)
		if err := b.Subscribe(t.Context(), "s"); err != nil {
			t.Fatal(err)
		}
		for i, readers := range []int{3, 0, 7} {
			rec.SetReaders(readers)
			res := publish(t, b, "s", "x", 1)
			if res.Delivered != readers {
				t.Errorf("Publish #%d: Delivered %d; want %d, what the handler returned", i+1, res.Delivered, readers)
			}
			// Delivery is synchronous: the handler already ran, no waiting.
			if got := len(rec.Messages("s")); got != i+1 {
				t.Errorf("after Publish #%d returned the handler had %d messages; want %d", i+1, got, i+1)
			}
		}
	})

	t.Run("NotSubscribedDeliversNone", func(t *testing.T) {
		b, rec := newBroker(t)
		rec.SetReaders(3)
		if res := publish(t, b, "s", "x", 1); res.Delivered != 0 {
			t.Errorf("Delivered %d on an unsubscribed stream; want 0", res.Delivered)
		}
		if got := rec.Messages("s"); len(got) != 0 {
			t.Errorf("handler got %d messages from an unsubscribed stream", len(got))
		}
	})

	t.Run("GrowHistorySize", func(t *testing.T) {
		b, _ := newBroker(t)
		for _, d := range []string{"1", "2", "3"} {
			publish(t, b, "s", d, 2)
		}
		// Growing the ring on publication 4 keeps 2 and 3.
		publish(t, b, "s", "4", 5)
		checkHistory(t, b, "s", 2, "2", "3", "4")
		for _, d := range []string{"5", "6", "7", "8"} {
			publish(t, b, "s", d, 5)
		}
		checkHistory(t, b, "s", 4, "4", "5", "6", "7", "8")
	})

	t.Run("SmallerHistorySizeKeepsMore", func(t *testing.T) {
		// "Brokers may keep more": the memory broker never shrinks a ring,
		// so a smaller HistorySize does not drop retained messages.
		b, _ := newBroker(t)
		for _, d := range []string{"1", "2", "3"} {
			publish(t, b, "s", d, 3)
		}
		publish(t, b, "s", "4", 1)
		checkHistory(t, b, "s", 2, "2", "3", "4")
	})
}

// checkHistory checks that History(stream, 0, 0) starts at first and
// carries data, in order.
func checkHistory(t *testing.T, b *memory.Broker, stream string, first uint64, data ...string) {
	t.Helper()
	h, err := b.History(t.Context(), stream, 0, 0)
	if err != nil {
		t.Fatalf("History: %v", err)
	}
	var got []string
	for i, m := range h.Messages {
		got = append(got, string(m.Data))
		if m.Offset != first+uint64(i) {
			t.Errorf("History message #%d has offset %d; want %d", i, m.Offset, first+uint64(i))
		}
	}
	if h.First != first || len(got) != len(data) || (len(data) > 0 && h.Position.Offset != first+uint64(len(data))-1) {
		t.Fatalf("History: first %d, top %d, data %q; want first %d, data %q", h.First, h.Position.Offset, got, first, data)
	}
	for i := range data {
		if got[i] != data[i] {
			t.Fatalf("History data %q; want %q", got, data)
		}
	}
}

// sized returns n bytes starting with i, so that every message differs.
func sized(i, n int) string {
	s := fmt.Sprintf("%d ", i)
	return s + strings.Repeat(".", n-len(s))
}

// publishSized publishes sized(i, n) for i in from..to and returns what it
// published, by i.
func publishSized(t *testing.T, b *memory.Broker, stream string, from, to, n int, opts broker.PublishOptions) []string {
	t.Helper()
	var out []string
	for i := from; i <= to; i++ {
		d := sized(i, n)
		if _, err := b.Publish(t.Context(), stream, []byte(d), opts); err != nil {
			t.Fatalf("Publish(%q, %q): %v", stream, d, err)
		}
		out = append(out, d)
	}
	return out
}

func TestBroker_HistoryBytes(t *testing.T) {
	t.Run("KeepsAllThatFit", func(t *testing.T) {
		b, _ := newBroker(t)
		d := publishSized(t, b, "s", 1, 10, 40, broker.PublishOptions{HistorySize: 100, HistoryBytes: 100})
		checkHistory(t, b, "s", 9, d[8:]...)
	})

	t.Run("ExactFit", func(t *testing.T) {
		b, _ := newBroker(t)
		d := publishSized(t, b, "s", 1, 10, 25, broker.PublishOptions{HistorySize: 100, HistoryBytes: 100})
		checkHistory(t, b, "s", 7, d[6:]...)
	})

	t.Run("SizeEvictionCounted", func(t *testing.T) {
		// Messages pushed out by HistorySize leave the byte count: 3 of
		// 30 bytes always fit in 100.
		b, _ := newBroker(t)
		d := publishSized(t, b, "s", 1, 10, 30, broker.PublishOptions{HistorySize: 3, HistoryBytes: 100})
		checkHistory(t, b, "s", 8, d[7:]...)
	})

	t.Run("SizeZeroForgetsBytes", func(t *testing.T) {
		b, _ := newBroker(t)
		publishSized(t, b, "s", 1, 5, 30, broker.PublishOptions{HistoryBytes: 100})
		d := publishSized(t, b, "s", 6, 8, 30, broker.PublishOptions{HistorySize: 3, HistoryBytes: 100})
		checkHistory(t, b, "s", 6, d...)
	})

	t.Run("GrowSizeKeepsCount", func(t *testing.T) {
		b, _ := newBroker(t)
		d := publishSized(t, b, "s", 1, 3, 30, broker.PublishOptions{HistorySize: 2, HistoryBytes: 100})
		d = append(d, publishSized(t, b, "s", 4, 6, 30, broker.PublishOptions{HistorySize: 5, HistoryBytes: 100})...)
		checkHistory(t, b, "s", 4, d[3:]...)
	})

	t.Run("NewestAlone", func(t *testing.T) {
		b, _ := newBroker(t)
		publishSized(t, b, "s", 1, 3, 30, broker.PublishOptions{HistorySize: 10, HistoryBytes: 100})
		d := publishSized(t, b, "s", 4, 4, 500, broker.PublishOptions{HistorySize: 10, HistoryBytes: 100})
		checkHistory(t, b, "s", 4, d...)
		// The next message makes room again: the big one goes.
		d = publishSized(t, b, "s", 5, 6, 30, broker.PublishOptions{HistorySize: 10, HistoryBytes: 100})
		checkHistory(t, b, "s", 5, d...)
	})

	t.Run("BoundChanges", func(t *testing.T) {
		b, _ := newBroker(t)
		d := publishSized(t, b, "s", 1, 4, 20, broker.PublishOptions{HistorySize: 10, HistoryBytes: 1000})
		checkHistory(t, b, "s", 1, d...)
		// A smaller bound trims what the larger one kept.
		d = append(d, publishSized(t, b, "s", 5, 5, 20, broker.PublishOptions{HistorySize: 10, HistoryBytes: 45})...)
		checkHistory(t, b, "s", 4, d[3:]...)
		// A larger one lets the history grow again from there.
		d = append(d, publishSized(t, b, "s", 6, 8, 20, broker.PublishOptions{HistorySize: 10, HistoryBytes: 1000})...)
		checkHistory(t, b, "s", 4, d[3:]...)
		// No bound: HistorySize alone.
		d = append(d, publishSized(t, b, "s", 9, 20, 20, broker.PublishOptions{HistorySize: 10})...)
		checkHistory(t, b, "s", 11, d[10:]...)
	})

	t.Run("ReaderBehindSeesLoss", func(t *testing.T) {
		b, _ := newBroker(t)
		publishSized(t, b, "s", 1, 10, 40, broker.PublishOptions{HistorySize: 100, HistoryBytes: 100})
		h, err := b.History(t.Context(), "s", 5, 0)
		if err != nil {
			t.Fatal(err)
		}
		if h.First != 9 || len(h.Messages) != 2 || h.Messages[0].Offset != 9 {
			t.Fatalf("History(5): First %d, %d messages; want First 9 and offsets 9, 10", h.First, len(h.Messages))
		}
	})
}

// ctxHandler records the context of each message it is given.
type ctxHandler struct {
	brokertest.Recorder
	ctxs []context.Context
}

func (h *ctxHandler) HandleMessageContext(ctx context.Context, m broker.Message) int {
	h.ctxs = append(h.ctxs, ctx)
	return h.HandleMessage(m)
}

// TestBroker_ContextHandler: a handler that is a broker.ContextHandler
// gets each message with the context of the Publish that delivers it.
func TestBroker_ContextHandler(t *testing.T) {
	b := memory.New()
	h := &ctxHandler{}
	if err := b.Start(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	if err := b.Subscribe(context.Background(), "s"); err != nil {
		t.Fatal(err)
	}
	type key struct{}
	ctx := context.WithValue(context.Background(), key{}, "publisher")
	if _, err := b.Publish(ctx, "s", []byte("m"), broker.PublishOptions{HistorySize: 1}); err != nil {
		t.Fatal(err)
	}
	if len(h.ctxs) != 1 || h.ctxs[0].Value(key{}) != "publisher" {
		t.Fatalf("contexts %v, want the publisher's", h.ctxs)
	}
}
