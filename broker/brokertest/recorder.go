package brokertest

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/halleyhq/halley/broker"
)

// WaitTimeout is how long the Recorder's Wait methods, and the suite, wait
// for a delivery before failing the test. It is generous because a shared
// backend on a loaded CI machine can be slow; a correct broker never gets
// near it.
const WaitTimeout = 10 * time.Second

// Broadcast is one call of Handler.HandleBroadcast seen by a Recorder.
type Broadcast struct {
	Topic string
	Data  []byte
}

// Recorder is a broker.Handler that records every message and broadcast it
// is handed and lets tests wait for them. The zero value is ready to use. It
// is safe for concurrent use.
type Recorder struct {
	mu      sync.Mutex
	readers int
	msgs    map[string][]broker.Message
	bcasts  []Broadcast
	// changed is closed, and set to nil, on every event; waiters make it on
	// demand. Closing wakes every waiter whatever their number, and nothing
	// is allocated while nobody waits.
	changed chan struct{}
}

var _ broker.Handler = (*Recorder)(nil)

// SetReaders sets what HandleMessage returns from now on: the number of
// local readers it claims to have handed each message to. It is 0 until set.
func (r *Recorder) SetReaders(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.readers = n
}

// Readers returns what HandleMessage returns.
func (r *Recorder) Readers() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.readers
}

// HandleMessage implements broker.Handler: it records m and returns the
// number set by SetReaders.
func (r *Recorder) HandleMessage(m broker.Message) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.msgs == nil {
		r.msgs = make(map[string][]broker.Message)
	}
	r.msgs[m.Stream] = append(r.msgs[m.Stream], m)
	r.notifyLocked()
	return r.readers
}

// HandleBroadcast implements broker.Handler: it records the broadcast.
func (r *Recorder) HandleBroadcast(topic string, data []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.bcasts = append(r.bcasts, Broadcast{Topic: topic, Data: data})
	r.notifyLocked()
}

func (r *Recorder) notifyLocked() {
	if r.changed != nil {
		close(r.changed)
		r.changed = nil
	}
}

// Messages returns the messages recorded so far on stream, in the order
// they were handled.
func (r *Recorder) Messages(stream string) []broker.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.msgs[stream])
}

// Broadcasts returns the broadcasts recorded so far on topic, in the order
// they were handled.
func (r *Recorder) Broadcasts(topic string) []Broadcast {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Broadcast
	for _, b := range r.bcasts {
		if b.Topic == topic {
			out = append(out, b)
		}
	}
	return out
}

// Await blocks until cond returns true or ctx is done. cond runs with the
// Recorder locked, once now and again after every recorded event, so it must
// not call the Recorder's methods, nor modify or keep what it is given.
func (r *Recorder) Await(ctx context.Context, cond func(msgs map[string][]broker.Message, bcasts []Broadcast) bool) error {
	for {
		r.mu.Lock()
		if cond(r.msgs, r.bcasts) {
			r.mu.Unlock()
			return nil
		}
		if r.changed == nil {
			r.changed = make(chan struct{})
		}
		changed := r.changed
		r.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

// AwaitMessages waits until at least n messages were recorded on stream and
// returns all of them.
func (r *Recorder) AwaitMessages(ctx context.Context, stream string, n int) ([]broker.Message, error) {
	err := r.Await(ctx, func(msgs map[string][]broker.Message, _ []Broadcast) bool {
		return len(msgs[stream]) >= n
	})
	return r.Messages(stream), err
}

// WaitMessages waits up to WaitTimeout for at least n messages on stream and
// returns all of them; it fails the test on timeout. Like t.Fatal, call it
// only from the test's goroutine.
func (r *Recorder) WaitMessages(t testing.TB, stream string, n int) []broker.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), WaitTimeout)
	defer cancel()
	msgs, err := r.AwaitMessages(ctx, stream, n)
	if err != nil {
		t.Fatalf("waiting for %d messages on %q: got %d: %v", n, stream, len(msgs), err)
	}
	return msgs
}

// WaitBroadcasts waits up to WaitTimeout for at least n broadcasts on topic
// and returns all of them; it fails the test on timeout. Like t.Fatal, call
// it only from the test's goroutine.
func (r *Recorder) WaitBroadcasts(t testing.TB, topic string, n int) []Broadcast {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), WaitTimeout)
	defer cancel()
	err := r.Await(ctx, func(_ map[string][]broker.Message, bcasts []Broadcast) bool {
		got := 0
		for _, b := range bcasts {
			if b.Topic == topic {
				got++
			}
		}
		return got >= n
	})
	got := r.Broadcasts(topic)
	if err != nil {
		t.Fatalf("waiting for %d broadcasts on %q: got %d: %v", n, topic, len(got), err)
	}
	return got
}
