package halley

import (
	"errors"
	"os"
	"time"
)

// sink is where a stream's bytes go: the response, or the connection
// taken over from net/http.
type sink interface {
	Write(b []byte) (int, error)
	Flush() error
	SetWriteDeadline(t time.Time) error
}

// sockWriter writes a stream's bytes, in one of two ways: its owner
// writes under the write deadline, waiting for the socket; a writer of
// the hub's (nb set) writes what the socket takes at once and keeps the
// rest in spill, for the owner. The first write error sticks.
type sockWriter struct {
	out sink
	// sock, when set, writes the connection without blocking: the
	// stream may be pooled.
	sock    *rawSock
	timeout time.Duration // Config.WriteTimeout
	err     error
	// lastWrite is when the stream last wrote: an idle stream sends a
	// heartbeat.
	lastWrite time.Time
	deadline  time.Time // the write deadline set last (see arm)
	// clearDeadline: a deadline may be set, to clear before parking.
	clearDeadline bool
	nb            bool   // a writer has the stream: writes do not block
	spill         []byte // what the socket did not take, for the owner
	// unsent is what a write cut short by the deadline left, when small
	// enough to finish (see finishUnsent); cut says that one was cut.
	unsent []byte
	cut    bool
	// q, during a writer's turn, queues the writes (sendqueue.go).
	q *sendQueue
}

// send writes b.
func (w *sockWriter) send(b []byte) {
	if w.err != nil || len(b) == 0 {
		return
	}
	if w.nb {
		w.writeNow(b)
		return
	}
	w.arm()
	n, err := w.out.Write(b)
	if err != nil {
		w.err = err
		if errors.Is(err, os.ErrDeadlineExceeded) {
			w.cut = true
			if rest := b[n:]; len(rest) <= maxUnsent {
				w.unsent = append([]byte(nil), rest...)
			}
		}
	}
}

// maxUnsent is the most of a write cut short that finishUnsent sends.
const maxUnsent = 64 << 10

// finishUnsent, after a write cut short by the deadline, writes the rest
// of it within timeout, so that a close frame may follow. It reports
// whether the stream's bytes are whole again.
func (w *sockWriter) finishUnsent(timeout time.Duration) bool {
	b, cut := w.unsent, w.cut
	w.unsent, w.cut = nil, false
	if cut && b == nil {
		return false // too much is missing
	}
	w.err = nil
	w.deadline = time.Now().Add(timeout)
	_ = w.out.SetWriteDeadline(w.deadline)
	if len(b) > 0 {
		_, w.err = w.out.Write(b)
	}
	return w.err == nil
}

// arm keeps a write deadline ahead: it moves it only once half of it has
// passed, since setting it costs a system call. A socket that takes no data
// is thus given between half and all of the write timeout.
func (w *sockWriter) arm() {
	now := time.Now()
	w.lastWrite = now
	if w.deadline.Sub(now) < w.timeout/2 {
		w.deadline = now.Add(w.timeout)
		w.clearDeadline = true
		_ = w.out.SetWriteDeadline(w.deadline)
	}
}

// unarm clears the write deadline before the stream parks: the writers
// never wait on the socket, and a deadline the owner set would end their
// writes once past.
func (w *sockWriter) unarm() {
	if w.clearDeadline {
		w.clearDeadline = false
		w.deadline = time.Time{}
		_ = w.out.SetWriteDeadline(time.Time{})
	}
}

// writeNow writes b to the socket without waiting; what the socket does
// not take is kept in spill, for the owner.
func (w *sockWriter) writeNow(b []byte) {
	if w.q != nil && w.spill == nil && w.q.queue(w, b) {
		w.lastWrite = time.Now()
		return
	}
	if w.err != nil {
		return // a queued send failed
	}
	if w.spill == nil {
		n, err := w.sock.try(b)
		if err != nil {
			w.err = err
			return
		}
		w.lastWrite = time.Now()
		b = b[n:]
		if len(b) == 0 {
			return
		}
		w.spill = make([]byte, 0, len(b))
	}
	w.spill = append(w.spill, b...)
}

// takeSpill returns what a writer left for the owner, and forgets it.
func (w *sockWriter) takeSpill() []byte {
	b := w.spill
	w.spill = nil
	return b
}
