package ring

import "testing"

// TestRing_DropOldestClearsSlot: the dropped value's slot holds the zero
// value, so a pointer in it no longer keeps its referent alive.
func TestRing_DropOldestClearsSlot(t *testing.T) {
	r := New[*int](4)
	for range 3 {
		r.Push(new(int))
	}
	slot := r.first % uint64(len(r.buf))
	if r.buf[slot] == nil {
		t.Fatal("the oldest slot is empty before DropOldest")
	}
	r.DropOldest()
	if r.buf[slot] != nil {
		t.Fatalf("slot %d still holds %p after DropOldest", slot, r.buf[slot])
	}
	for off := r.First(); off <= r.Top(); off++ {
		if v, ok := r.Get(off); !ok || v == nil {
			t.Fatalf("Get(%d) = %p, %v after DropOldest; want the retained value", off, v, ok)
		}
	}
}
