package halley

import (
	"context"
	"sync"
)

// listenersChanged is closed and replaced each time a waiter is added.
var (
	listenersMu      sync.Mutex
	listenersChanged = make(chan struct{})
)

func init() {
	testHookListeners = func() {
		listenersMu.Lock()
		defer listenersMu.Unlock()
		close(listenersChanged)
		listenersChanged = make(chan struct{})
	}
}

// WaitListeners blocks until the channel has at least n listeners (client
// connections waiting or streaming), or ctx is done.
func (c *Channel) WaitListeners(ctx context.Context, n int) error {
	for {
		listenersMu.Lock()
		changed := listenersChanged
		listenersMu.Unlock()
		if c.Listeners() >= n {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// WaitReaders blocks until the channel has at least n waiters of any sort.
func (c *Channel) WaitReaders(ctx context.Context, n int) error {
	for {
		listenersMu.Lock()
		changed := listenersChanged
		listenersMu.Unlock()
		c.mu.Lock()
		got := len(c.waiters)
		c.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
