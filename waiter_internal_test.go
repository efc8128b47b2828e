package halley

import (
	"slices"
	"testing"
)

// TestWaiterSet: adds and removes in any order keep each waiter once, a
// walk reaches every waiter once in batches of at most wakeBatchLen, and
// successive walks begin at successive waiters.
func TestWaiterSet(t *testing.T) {
	var s waiterSet
	ws := make([]*waiter, 100)
	for i := range ws {
		ws[i] = newWaiter(true)
		if !s.add(ws[i]) {
			t.Fatalf("add %d: false", i)
		}
	}
	if s.add(ws[3]) {
		t.Fatal("a second add of the same waiter: true")
	}
	for _, i := range []int{0, 99, 50, 3, 98} {
		if !s.remove(ws[i]) {
			t.Fatalf("remove %d: false", i)
		}
	}
	if s.remove(ws[50]) {
		t.Fatal("a second remove: true")
	}
	want := map[*waiter]bool{}
	for i, w := range ws {
		if !slices.Contains([]int{0, 99, 50, 3, 98}, i) {
			want[w] = true
		}
	}
	var firsts []*waiter
	for range 3 {
		seen := map[*waiter]bool{}
		first := true
		s.walk(func(b []*waiter) {
			if len(b) == 0 || len(b) > wakeBatchLen {
				t.Fatalf("a batch of %d", len(b))
			}
			if first {
				firsts, first = append(firsts, b[0]), false
			}
			for _, w := range b {
				if seen[w] || !want[w] {
					t.Fatalf("walk: waiter %p twice or not in the set", w)
				}
				seen[w] = true
			}
		})
		if len(seen) != len(want) || s.len() != len(want) {
			t.Fatalf("walk reached %d, len %d, want %d", len(seen), s.len(), len(want))
		}
	}
	if firsts[0] == firsts[1] || firsts[1] == firsts[2] {
		t.Fatal("successive walks begin at the same waiter")
	}
	// Shrinking: remove all but one; the list's room follows.
	for w := range want {
		if len(s.list) == 1 {
			break
		}
		s.remove(w)
	}
	if cap(s.list) > 64 {
		t.Fatalf("one waiter left in a list of room %d", cap(s.list))
	}
	var empty waiterSet
	empty.walk(func([]*waiter) { t.Fatal("a walk of an empty set calls f") })
}
