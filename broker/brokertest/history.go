package brokertest

import (
	"context"
	"fmt"
	"testing"
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
