package brokertest

import (
	"context"
	"fmt"
	"testing"

	"github.com/halleyhq/halley/broker"
)

func testHistoryAll(t *testing.T, f *fixture) {
	s := f.name("s")
	results := f.publishN(t, s, 5, 10)
	last := results[len(results)-1].Position
	h := f.history(t, s, 0, 0)
	checkMessages(t, "History(0, 0)", h.Messages, s, 1, 5, last.Epoch)
	if h.Position != last {
		t.Errorf("History position %+v; want %+v as returned by the last Publish", h.Position, last)
	}
	if h.First != 1 {
		t.Errorf("History first %d; want 1", h.First)
	}
}

func testHistorySince(t *testing.T, f *fixture) {
	s := f.name("s")
	epoch := f.publishN(t, s, 5, 10)[0].Position.Epoch
	for since := uint64(1); since <= 4; since++ {
		h := f.history(t, s, since, 0)
		checkMessages(t, fmt.Sprintf("History(%d, 0)", since), h.Messages, s, since+1, 5, epoch)
		if h.Position.Offset != 5 || h.First != 1 {
			t.Errorf("History(%d, 0): position %d, first %d; want 5, 1", since, h.Position.Offset, h.First)
		}
	}
}

func testHistoryLimit(t *testing.T, f *fixture) {
	s := f.name("s")
	epoch := f.publishN(t, s, 5, 10)[0].Position.Epoch
	tests := []struct {
		since    uint64
		limit    int
		from, to uint64
	}{
		{since: 0, limit: 2, from: 1, to: 2},
		{since: 2, limit: 2, from: 3, to: 4},
		{since: 3, limit: 5, from: 4, to: 5},
		{since: 0, limit: 1, from: 1, to: 1},
	}
	for _, tt := range tests {
		h := f.history(t, s, tt.since, tt.limit)
		checkMessages(t, fmt.Sprintf("History(%d, %d)", tt.since, tt.limit), h.Messages, s, tt.from, tt.to, epoch)
		if h.Position.Offset != 5 {
			t.Errorf("History(%d, %d): position %d; want 5 whatever the limit", tt.since, tt.limit, h.Position.Offset)
		}
	}
}

func testHistorySinceTop(t *testing.T, f *fixture) {
	s := f.name("s")
	f.publishN(t, s, 3, 10)
	for _, since := range []uint64{3, 4, 100} {
		if h := f.history(t, s, since, 0); len(h.Messages) != 0 || h.Position.Offset != 3 {
			t.Errorf("History(%d, 0): %d messages (offsets %v), position %d; want none, position 3",
				since, len(h.Messages), offsets(h.Messages), h.Position.Offset)
		}
	}
}

func testHistoryRetention(t *testing.T, f *fixture) {
	s := f.name("s")
	results := f.publishN(t, s, 10, 3)
	last := results[len(results)-1].Position
	for _, since := range []uint64{0, 2, 7} {
		h := f.history(t, s, since, 0)
		if h.First != 8 {
			t.Errorf("History(%d, 0): first %d; want 8 (10 messages, 3 retained)", since, h.First)
		}
		if h.Position != last {
			t.Errorf("History(%d, 0): position %+v; want %+v", since, h.Position, last)
		}
		checkMessages(t, fmt.Sprintf("History(%d, 0)", since), h.Messages, s, 8, 10, last.Epoch)
	}
	h := f.history(t, s, 8, 0)
	checkMessages(t, "History(8, 0)", h.Messages, s, 9, 10, last.Epoch)
}

func testHistorySizeZero(t *testing.T, f *fixture) {
	s := f.name("s")
	results := f.publishN(t, s, 3, 0)
	for i, res := range results {
		if want := uint64(i + 1); res.Position.Offset != want {
			t.Errorf("Publish #%d with HistorySize 0: offset %d; want %d", i+1, res.Position.Offset, want)
		}
	}
	last := results[len(results)-1].Position
	h := f.history(t, s, 0, 0)
	if len(h.Messages) != 0 {
		t.Errorf("History retained %d messages (offsets %v) with HistorySize 0", len(h.Messages), offsets(h.Messages))
	}
	if h.Position != last {
		t.Errorf("History position %+v; want %+v", h.Position, last)
	}
	if h.First != last.Offset+1 {
		t.Errorf("History first %d; want %d (position + 1: nothing retained)", h.First, last.Offset+1)
	}
}

func testHistoryUnknown(t *testing.T, f *fixture) {
	h := f.history(t, f.name("never-published"), 0, 0)
	if len(h.Messages) != 0 || h.Position.Offset != 0 || h.First != 1 {
		t.Fatalf("History of an unknown stream: %d messages, position %d, first %d; want 0, 0, 1",
			len(h.Messages), h.Position.Offset, h.First)
	}
}

func testHistoryCancelled(t *testing.T, f *fixture) {
	s := f.name("s")
	f.publish(t, s, "x", 1)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := f.b.History(ctx, s, 0, 0); err == nil {
		t.Fatal("History with a cancelled context succeeded")
	}
}

// sized returns the data of the i-th message of a byte-bound case: n bytes,
// starting with payload(i) so that every message differs.
func sized(i, n int) string {
	s := payload(i) + " "
	for len(s) < n {
		s += "."
	}
	return s[:n]
}

// publishSized publishes sized(i, n) for i in from..to with both bounds.
func (f *fixture) publishSized(t *testing.T, stream string, from, to, n int, opts broker.PublishOptions) broker.Position {
	t.Helper()
	var last broker.Position
	for i := from; i <= to; i++ {
		res, err := f.b.Publish(t.Context(), stream, []byte(sized(i, n)), opts)
		if err != nil {
			t.Fatalf("Publish(%q, message %d): %v", stream, i, err)
		}
		last = res.Position
	}
	return last
}

// checkByteBound checks a History answer under a byte bound: the retained
// messages run without a hole from First to the top, the newest among them,
// carry what published gave them, and weigh at most bound bytes unless the
// newest is alone. It returns First.
func checkByteBound(t *testing.T, what string, h broker.HistoryResult, top broker.Position, bound int, published func(off uint64) string) uint64 {
	t.Helper()
	if h.Position != top {
		t.Fatalf("%s: position %+v; want %+v", what, h.Position, top)
	}
	if len(h.Messages) == 0 {
		t.Fatalf("%s: no message retained; want at least the newest (offset %d)", what, top.Offset)
	}
	if h.First != h.Messages[0].Offset {
		t.Errorf("%s: First %d; want %d, the oldest message returned", what, h.First, h.Messages[0].Offset)
	}
	total := 0
	for i, m := range h.Messages {
		checkMessage(t, fmt.Sprintf("%s[%d]", what, i), m, m.Stream, h.First+uint64(i), top.Epoch, published(h.First+uint64(i)))
		total += len(m.Data)
	}
	if last := h.Messages[len(h.Messages)-1].Offset; last != top.Offset {
		t.Errorf("%s: newest retained offset %d; want %d, the top", what, last, top.Offset)
	}
	if total > bound && len(h.Messages) > 1 {
		t.Errorf("%s: %d messages (offsets %v) of %d bytes in all; want at most %d bytes", what, len(h.Messages), offsets(h.Messages), total, bound)
	}
	return h.First
}

// testHistoryBytes: with messages of 40 bytes and a bound of 100, at most
// the newest 2 are retained; a reader further behind learns it missed
// messages.
func testHistoryBytes(t *testing.T, f *fixture) {
	const size, bound = 40, 100
	s := f.name("s")
	top := f.publishSized(t, s, 1, 10, size, broker.PublishOptions{HistorySize: 100, HistoryBytes: bound})
	pub := func(off uint64) string { return sized(int(off), size) }

	first := checkByteBound(t, "History(0, 0)", f.history(t, s, 0, 0), top, bound, pub)
	if first < 9 {
		t.Fatalf("First %d; want 9 or more (2 messages of %d bytes fit in %d)", first, size, bound)
	}
	// Readers behind First, asking from where they stand, get only what is
	// retained, and First tells them they missed messages.
	for _, since := range []uint64{0, 1, first - 2} {
		h := f.history(t, s, since, 0)
		checkByteBound(t, fmt.Sprintf("History(%d, 0)", since), h, top, bound, pub)
		if since+1 >= h.First {
			t.Errorf("History(%d, 0): First %d; a reader at %d must see it missed offsets %d..%d", since, h.First, since, since+1, h.First-1)
		}
	}
	// A reader at First-1 missed nothing.
	if h := f.history(t, s, first-1, 0); len(h.Messages) != int(top.Offset-first+1) || h.First != first {
		t.Errorf("History(%d, 0): %d messages, First %d; want %d messages and nothing missed", first-1, len(h.Messages), h.First, top.Offset-first+1)
	}
}

// testHistoryBytesNewest: a message larger than the bound is retained
// alone.
func testHistoryBytesNewest(t *testing.T, f *fixture) {
	const bound = 100
	s := f.name("s")
	opts := broker.PublishOptions{HistorySize: 100, HistoryBytes: bound}
	f.publishSized(t, s, 1, 5, 30, opts)
	top := f.publishSized(t, s, 6, 6, 3*bound, opts)
	h := f.history(t, s, 0, 0)
	checkByteBound(t, "History(0, 0)", h, top, bound, func(off uint64) string {
		if off == 6 {
			return sized(6, 3*bound)
		}
		return sized(int(off), 30)
	})
	if h.First != 6 || len(h.Messages) != 1 {
		t.Fatalf("History: First %d, offsets %v; want the newest message only, at 6", h.First, offsets(h.Messages))
	}
}

// testHistoryBytesSmaller: a Publish with a smaller bound than before
// trims what the earlier ones kept.
func testHistoryBytesSmaller(t *testing.T, f *fixture) {
	const size = 40
	s := f.name("s")
	pub := func(off uint64) string { return sized(int(off), size) }
	top := f.publishSized(t, s, 1, 5, size, broker.PublishOptions{HistorySize: 100, HistoryBytes: 1000})
	checkByteBound(t, "History with a bound of 1000", f.history(t, s, 0, 0), top, 1000, pub)

	// 2 messages of 40 bytes do not fit in 50: only the newest does.
	top = f.publishSized(t, s, 6, 6, size, broker.PublishOptions{HistorySize: 100, HistoryBytes: 50})
	h := f.history(t, s, 0, 0)
	checkByteBound(t, "History with a bound of 50", h, top, 50, pub)
	if h.First != 6 {
		t.Fatalf("History with a bound of 50: First %d, offsets %v; want the newest message only, at 6", h.First, offsets(h.Messages))
	}
}
