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
