package halley

import (
	"context"
	"sync"
	"time"
)

// watchers are the test goroutines waiting for waiters to be added to a
// channel; each gets a channel of its own, closed at the next addition.
var (
	watchMu  sync.Mutex
	watchers = map[*Channel][]chan struct{}{}
)

func init() {
	testHookListeners = func(c *Channel) {
		watchMu.Lock()
		defer watchMu.Unlock()
		for _, ch := range watchers[c] {
			close(ch)
		}
		delete(watchers, c)
	}
}

func (c *Channel) waitFor(ctx context.Context, cond func() bool) error {
	for {
		ch := make(chan struct{})
		watchMu.Lock()
		watchers[c] = append(watchers[c], ch)
		watchMu.Unlock()
		if cond() {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// WaitListeners blocks until the channel has at least n listeners (client
// connections waiting or streaming), or ctx is done.
func (c *Channel) WaitListeners(ctx context.Context, n int) error {
	return c.waitFor(ctx, func() bool { return c.Listeners() >= n })
}

// WaitListenersExactly blocks until the channel has exactly n listeners.
func (c *Channel) WaitListenersExactly(ctx context.Context, n int) error {
	return c.waitFor(ctx, func() bool { return c.Listeners() == n })
}

// WaitReaders blocks until the channel has at least n waiters of any sort.
func (c *Channel) WaitReaders(ctx context.Context, n int) error {
	return c.waitFor(ctx, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.waiters.len() >= n
	})
}

// ReadingBodies returns a channel that gets a value each time a request
// starts reading its body, until the test ends.
func ReadingBodies(t interface{ Cleanup(func()) }) <-chan struct{} {
	ch := make(chan struct{}, 16)
	testHookBody = func() {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	t.Cleanup(func() { testHookBody = nil })
	return ch
}

// FrameWaits returns a channel that gets a value each time a WebSocket
// reader waits for its client frame rate, until the test ends.
func FrameWaits(t interface{ Cleanup(func()) }) <-chan struct{} {
	ch := make(chan struct{}, 16)
	testHookFrameWait = func() {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	t.Cleanup(func() { testHookFrameWait = nil })
	return ch
}

// WaitPresenceWatchers blocks until n streams watch the channel's joins
// and leaves.
func (c *Channel) WaitPresenceWatchers(ctx context.Context, n int) error {
	return c.waitFor(ctx, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.pres != nil && len(c.pres.watchers) >= n
	})
}

// SetPresenceLinger sets how long a long-poll's member stays after its
// request, until the test ends.
func SetPresenceLinger(t interface{ Cleanup(func()) }, d time.Duration) {
	old := presenceLinger
	presenceLinger = d
	t.Cleanup(func() { presenceLinger = old })
}

// Watched returns the number of waiters that kills and the shutdown wake
// (streams, and polls that may park).
func (h *Hub) Watched() int {
	h.control.mu.Lock()
	defer h.control.mu.Unlock()
	return len(h.control.streams)
}
