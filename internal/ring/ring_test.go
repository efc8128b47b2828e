package ring_test

import (
	"slices"
	"testing"

	"github.com/halleyhq/halley/internal/ring"
)

func TestRing_Push(t *testing.T) {
	r := ring.New[int](3)
	if r.Top() != 0 || r.First() != 1 || r.Len() != 0 {
		t.Fatalf("empty ring: top %d first %d len %d", r.Top(), r.First(), r.Len())
	}
	for i := 1; i <= 5; i++ {
		if off := r.Push(i * 10); off != uint64(i) {
			t.Fatalf("Push #%d got offset %d", i, off)
		}
	}
	if r.Top() != 5 || r.First() != 3 || r.Len() != 3 {
		t.Fatalf("after 5 pushes: top %d first %d len %d", r.Top(), r.First(), r.Len())
	}
	if _, ok := r.Get(2); ok {
		t.Fatal("offset 2 should be forgotten")
	}
	if v, ok := r.Get(4); !ok || v != 40 {
		t.Fatalf("Get(4) = %d, %v", v, ok)
	}
	if v, ok := r.Newest(); !ok || v != 50 {
		t.Fatalf("Newest = %d, %v", v, ok)
	}
}

func TestRing_AppendSince(t *testing.T) {
	r := ring.New[int](4)
	for i := 1; i <= 6; i++ {
		r.Push(i)
	}
	tests := []struct {
		name  string
		after uint64
		max   int
		want  []int
		lost  bool
	}{
		{name: "OK", after: 3, want: []int{4, 5, 6}},
		{name: "Max", after: 3, max: 2, want: []int{4, 5}},
		{name: "AtOldestBoundary", after: 2, want: []int{3, 4, 5, 6}},
		{name: "ChannelFull", after: 1, lost: true},
		{name: "UpToDate", after: 6},
		{name: "Beyond", after: 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, lost := r.AppendSince(nil, tt.after, tt.max)
			if lost != tt.lost || !slices.Equal(got, tt.want) {
				t.Fatalf("AppendSince(%d, %d) = %v, %v; want %v, %v", tt.after, tt.max, got, lost, tt.want, tt.lost)
			}
		})
	}
}

func TestRing_Put(t *testing.T) {
	r := ring.New[string](2)
	r.Put(1, "a")
	if r.Put(1, "dup") {
		t.Fatal("duplicate offset accepted")
	}
	// Offsets 2..4 were missed: the ring restarts at 5 and readers behind it
	// see a gap.
	r.Put(5, "e")
	if r.First() != 5 || r.Top() != 5 {
		t.Fatalf("after a jump: first %d top %d", r.First(), r.Top())
	}
	if _, lost := r.AppendSince(nil, 1, 0); !lost {
		t.Fatal("reader at 1 should have lost messages 2..4")
	}
	r.Reset(10)
	if r.Push("k") != 11 {
		t.Fatal("Reset(10) should make the next offset 11")
	}
}

func TestRing_Grows(t *testing.T) {
	r := ring.New[int](100)
	for i := 1; i <= 250; i++ {
		r.Push(i)
		// Whatever the slots, the ring holds exactly the last min(i, 100).
		want := min(i, 100)
		if r.Len() != want || r.First() != uint64(i-want+1) {
			t.Fatalf("after %d pushes: len %d first %d", i, r.Len(), r.First())
		}
	}
	got, lost := r.AppendSince(nil, 150, 0)
	if lost || len(got) != 100 || got[0] != 151 || got[99] != 250 {
		t.Fatalf("AppendSince(150): %d values from %v, lost %v", len(got), got[:1], lost)
	}
	if r.Size() != 100 {
		t.Fatalf("Size %d", r.Size())
	}
}

func TestRing_DropOldest(t *testing.T) {
	t.Run("Empty", func(t *testing.T) {
		r := ring.New[int](3)
		if r.DropOldest() {
			t.Fatal("DropOldest on an empty ring reported true")
		}
		if r.First() != 1 || r.Top() != 0 || r.Len() != 0 {
			t.Fatalf("after DropOldest on an empty ring: first %d top %d len %d", r.First(), r.Top(), r.Len())
		}
	})

	t.Run("OK", func(t *testing.T) {
		r := ring.New[int](4)
		for i := 1; i <= 6; i++ {
			r.Push(i) // retains 3..6
		}
		if !r.DropOldest() {
			t.Fatal("DropOldest reported false on a full ring")
		}
		if r.First() != 4 || r.Top() != 6 || r.Len() != 3 {
			t.Fatalf("after DropOldest: first %d top %d len %d; want 4 6 3", r.First(), r.Top(), r.Len())
		}
		if _, ok := r.Get(3); ok {
			t.Error("Get(3) still finds the dropped value")
		}
		if got, lost := r.AppendSince(nil, 2, 0); !lost || got != nil {
			t.Errorf("AppendSince(2) = %v, %v; want lost: offset 3 was dropped", got, lost)
		}
		if got, lost := r.AppendSince(nil, 3, 0); lost || !slices.Equal(got, []int{4, 5, 6}) {
			t.Errorf("AppendSince(3) = %v, %v; want [4 5 6]", got, lost)
		}
		// The ring goes on as before: pushes fill the freed room first.
		r.Push(7)
		if r.First() != 4 || r.Len() != 4 {
			t.Fatalf("after Push(7): first %d len %d; want 4 4", r.First(), r.Len())
		}
		r.Push(8)
		if r.First() != 5 || r.Len() != 4 {
			t.Fatalf("after Push(8): first %d len %d; want 5 4", r.First(), r.Len())
		}
	})

	t.Run("ToEmpty", func(t *testing.T) {
		r := ring.New[int](3)
		r.Push(1)
		r.Push(2)
		for range 2 {
			if !r.DropOldest() {
				t.Fatal("DropOldest reported false with values retained")
			}
		}
		if r.DropOldest() {
			t.Fatal("DropOldest reported true on an emptied ring")
		}
		if r.Len() != 0 || r.First() != r.Top()+1 || r.Top() != 2 {
			t.Fatalf("emptied ring: len %d first %d top %d; want 0, top+1, 2", r.Len(), r.First(), r.Top())
		}
		if _, ok := r.Newest(); ok {
			t.Error("Newest found a value in an emptied ring")
		}
		if off := r.Push(3); off != 3 || r.First() != 3 || r.Len() != 1 {
			t.Fatalf("Push after emptying: offset %d first %d len %d; want 3 3 1", off, r.First(), r.Len())
		}
	})

	t.Run("ThenGrow", func(t *testing.T) {
		// Dropping before the slots double: grow copies only what is
		// retained, and every offset stays where Get finds it.
		r := ring.New[int](100)
		for i := 1; i <= 8; i++ {
			r.Push(i)
		}
		r.DropOldest()
		r.DropOldest()
		for i := 9; i <= 40; i++ {
			r.Push(i)
		}
		got, lost := r.AppendSince(nil, 2, 0)
		if lost || len(got) != 38 || got[0] != 3 || got[37] != 40 {
			t.Fatalf("AppendSince(2) = %v, %v; want 3..40", got, lost)
		}
	})
}
