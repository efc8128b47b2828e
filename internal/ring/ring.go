// Package ring is a bounded buffer of values addressed by a monotonically
// increasing offset: it keeps the last Size values and forgets older ones.
//
// A Ring is not safe for concurrent use; its owner locks around it. Its
// memory grows with what it holds, by doubling, up to one slot per value it
// may retain, and never depends on how many readers hold positions in it:
// readers keep their own offsets.
package ring

// initialSlots is the capacity of a new ring: many channels never hold
// more than a few messages.
const initialSlots = 8

// Ring holds the values with offsets First() through Top().
type Ring[T any] struct {
	buf   []T // value of offset o at buf[o % len(buf)]
	size  int // the most values retained
	first uint64
	top   uint64 // offset of the newest value; 0 before the first
}

// New returns a ring that retains the last size values (at least one).
func New[T any](size int) *Ring[T] {
	if size < 1 {
		size = 1
	}
	return &Ring[T]{buf: make([]T, min(size, initialSlots)), size: size, first: 1}
}

// Size returns how many values the ring retains at most.
func (r *Ring[T]) Size() int { return r.size }

// Top returns the offset of the newest value, or the offset before the first
// value to come when nothing was stored yet.
func (r *Ring[T]) Top() uint64 { return r.top }

// First returns the offset of the oldest retained value, or Top()+1 when the
// ring is empty.
func (r *Ring[T]) First() uint64 { return r.first }

// Len returns how many values are retained.
func (r *Ring[T]) Len() int { return int(r.top + 1 - r.first) }

// Push stores v at offset Top()+1 and returns that offset.
func (r *Ring[T]) Push(v T) uint64 {
	r.Put(r.top+1, v)
	return r.top
}

// Put stores v at offset off. An offset at or below Top() is a duplicate and
// is ignored (Put reports false). An offset beyond Top()+1 means values were
// missed: the ring forgets what it held and starts again at off, so readers
// behind off see a gap rather than a silent hole.
func (r *Ring[T]) Put(off uint64, v T) bool {
	if off <= r.top {
		return false
	}
	if off != r.top+1 {
		r.Reset(off - 1)
	}
	if r.Len() == len(r.buf) && len(r.buf) < r.size {
		r.grow()
	}
	r.buf[off%uint64(len(r.buf))] = v
	r.top = off
	if r.top-r.first+1 > uint64(len(r.buf)) {
		r.first = r.top - uint64(len(r.buf)) + 1
	}
	return true
}

// grow doubles the slots (up to size), keeping the values in place.
func (r *Ring[T]) grow() {
	buf := make([]T, min(2*len(r.buf), r.size))
	for off := r.first; off <= r.top; off++ {
		buf[off%uint64(len(buf))] = r.buf[off%uint64(len(r.buf))]
	}
	r.buf = buf
}

// Reset forgets every value; the next Push gets offset top+1.
func (r *Ring[T]) Reset(top uint64) {
	clear(r.buf)
	r.top = top
	r.first = top + 1
}

// DropOldest forgets the oldest retained value, so that First() moves up by
// one, and clears its slot so that nothing keeps what it referenced alive.
// It reports false, doing nothing, when the ring is empty. Readers whose
// position falls before the new First() then get lost from AppendSince, as
// if the value had been pushed out: owners use it to bound a ring by
// something other than its Size (its values' bytes, say).
func (r *Ring[T]) DropOldest() bool {
	if r.first > r.top {
		return false
	}
	var zero T
	r.buf[r.first%uint64(len(r.buf))] = zero
	r.first++
	return true
}

// Get returns the value at offset off, if retained.
func (r *Ring[T]) Get(off uint64) (T, bool) {
	if off < r.first || off > r.top {
		var zero T
		return zero, false
	}
	return r.buf[off%uint64(len(r.buf))], true
}

// Newest returns the value at Top(), if any.
func (r *Ring[T]) Newest() (T, bool) { return r.Get(r.top) }

// AppendSince appends to dst the retained values with offsets greater than
// after, oldest first, at most max of them (max <= 0: no limit). It reports
// lost=true, appending nothing, when values after the position were already
// forgotten: the reader fell off the ring.
func (r *Ring[T]) AppendSince(dst []T, after uint64, max int) (_ []T, lost bool) {
	if after >= r.top {
		return dst, false
	}
	if after+1 < r.first {
		return dst, true
	}
	n := r.top - after
	if max > 0 && n > uint64(max) {
		n = uint64(max)
	}
	for off := after + 1; off <= after+n; off++ {
		dst = append(dst, r.buf[off%uint64(len(r.buf))])
	}
	return dst, false
}
