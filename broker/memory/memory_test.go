package memory_test

import (
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
