package halley

import (
	"sync/atomic"
	"time"
)

// A waiter is one reader blocked on one or more channels: a long-poll
// request, a stream, or a server-side Reader. Channels wake it with a
// non-blocking send, so waking N waiters costs N sends and no allocation.
type waiter struct {
	wake chan struct{}
	// conn marks a client connection: it counts in Listeners and in the
	// Delivered figure of write outcomes. Server-side readers do not.
	conn bool
	// woken is when the pending wake was sent (monotonic, see sinceStart):
	// how long the waiter then took to run tells how far behind the
	// server is (see pacer).
	woken atomic.Int64
}

func newWaiter(conn bool) *waiter {
	return &waiter{wake: make(chan struct{}, 1), conn: conn}
}

func (w *waiter) notify() {
	select {
	case w.wake <- struct{}{}:
		w.woken.Store(sinceStart())
	default:
	}
}

// lag returns how long ago the last wake was sent; 0 before any.
func (w *waiter) lag() time.Duration {
	t := w.woken.Load()
	if t == 0 {
		return 0
	}
	return time.Duration(sinceStart() - t)
}

// start0 is the reference of monotonic times.
var start0 = time.Now()

// sinceStart returns the monotonic time since the process started, in
// nanoseconds.
func sinceStart() int64 { return int64(time.Since(start0)) }
