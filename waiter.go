package halley

// A waiter is one reader blocked on one or more channels: a long-poll
// request, a stream, or a server-side Reader. Channels wake it with a
// non-blocking send, so waking N waiters costs N sends and no allocation.
type waiter struct {
	wake chan struct{}
	// conn marks a client connection: it counts in Listeners and in the
	// Delivered figure of write outcomes. Server-side readers do not.
	conn bool
	// who is the connection's client, for presence (presence.go);
	// linger marks a long-poll, whose member stays a while after it.
	who    member
	linger bool
	// pooled, for a stream the hub's writers may write, takes the
	// wake-ups while they have it (writers.go).
	pooled *poolSlot
}

func newWaiter(conn bool) *waiter {
	return &waiter{wake: make(chan struct{}, 1), conn: conn}
}

func (w *waiter) notify() { w.notifyDeferred(nil) }

// notifyDeferred is notify for a write made under Hub.DeferWrites: a
// pooled stream it queues is kept in d, when d has room, rather than
// handed to the writers.
func (w *waiter) notifyDeferred(d *deferredWrites) {
	if w.pooled != nil && w.pooled.ready(d) {
		return
	}
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// waiterSet is a channel's waiters: a list to wake them by, and an index
// into it to remove one. Walking a list costs less than ranging over a
// map (no random start to draw, no empty slots, the entries in a row),
// which shows on every write to a channel with one reader; to keep the
// wake order fair, each walk starts where the last one began plus one
// (walk).
type waiterSet struct {
	list []*waiter
	at   map[*waiter]int // w's index in list
	next int             // where the next walk starts
}

// add puts w in the set, and reports false when it was there already.
func (s *waiterSet) add(w *waiter) bool {
	if _, ok := s.at[w]; ok {
		return false
	}
	if s.at == nil {
		s.at = make(map[*waiter]int)
	}
	s.at[w] = len(s.list)
	s.list = append(s.list, w)
	return true
}

// remove takes w out of the set, and reports false when it was not in it.
// The last waiter takes w's place; a list shrunk to a quarter of its
// room gets a smaller one, so a channel that once had many readers does
// not keep their room.
func (s *waiterSet) remove(w *waiter) bool {
	i, ok := s.at[w]
	if !ok {
		return false
	}
	delete(s.at, w)
	last := len(s.list) - 1
	if i != last {
		s.list[i] = s.list[last]
		s.at[s.list[i]] = i
	}
	s.list[last] = nil
	s.list = s.list[:last]
	if c := cap(s.list); c > 64 && len(s.list) < c/4 {
		s.list = append(make([]*waiter, 0, c/2), s.list...)
	}
	return true
}

// len returns the number of waiters.
func (s *waiterSet) len() int { return len(s.list) }

// walk calls f with the waiters in batches of at most wakeBatchLen, the
// first batch beginning one past where the previous walk began.
func (s *waiterSet) walk(f func([]*waiter)) {
	n := len(s.list)
	if n == 0 {
		return
	}
	start := s.next % n
	s.next = start + 1
	for _, part := range [2][]*waiter{s.list[start:], s.list[:start]} {
		for len(part) > 0 {
			k := min(len(part), wakeBatchLen)
			f(part[:k])
			part = part[k:]
		}
	}
}
