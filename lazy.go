package halley

import (
	"context"
	"errors"
	"io"
	"iter"
)

// lazyDemand tracks whether anybody waits on a lazy channel, so that its
// producer runs only then. It is guarded by the channel's mutex.
type lazyDemand struct {
	n      int
	signal chan struct{}      // closed when demand appears; nil unless the producer loop is idle
	cancel context.CancelFunc // cancels the producer call under way
	closed bool
}

func (d *lazyDemand) add() {
	d.n++
	d.wake()
}

// wake lets an idle producer loop look at the demand again.
func (d *lazyDemand) wake() {
	if d.signal != nil {
		close(d.signal)
		d.signal = nil
	}
}

func (d *lazyDemand) remove() {
	d.n--
	if d.n == 0 && d.cancel != nil {
		d.cancel()
		d.cancel = nil
	}
}

func (d *lazyDemand) close() {
	d.closed = true
	d.wake()
	if d.cancel != nil {
		d.cancel()
		d.cancel = nil
	}
}

// produce is the goroutine of a lazy channel, owned by the hub's wait
// group. Like Eliom's unlimited channels, a lazy channel is a queue consumed
// by its readers: the producer is called while somebody waits and nothing
// produced is left unconsumed, so a producer that never blocks is still
// called once per request. The loop stops when the channel closes or the
// hub shuts down.
func (c *Channel) produce() {
	defer c.hub.wg.Done()
	produce := c.producer
	if c.seq != nil {
		next, stop := iter.Pull(c.seq)
		defer stop()
		produce = func(context.Context) ([]byte, error) {
			if v, ok := next(); ok {
				return v, nil
			}
			return nil, io.EOF
		}
	}
	for {
		ctx, ok := c.awaitDemand()
		if !ok {
			return
		}
		data, err := produce(ctx)
		abandoned := ctx.Err() != nil // before the cancel below
		c.mu.Lock()
		if c.demand.cancel != nil {
			c.demand.cancel()
			c.demand.cancel = nil
		}
		c.mu.Unlock()
		switch {
		case err == nil:
			_, _ = c.writeLocal(nil, data)
		case c.hub.ctx.Err() != nil:
			return
		case abandoned:
			// The last waiter left: wait for the next one.
		default:
			if !errors.Is(err, io.EOF) && !errors.Is(err, ErrChannelClosed) {
				c.hub.log.Error("halley: lazy producer failed; closing the channel", "channel", c.id, "err", err)
			}
			_ = c.Close(context.Background())
			return
		}
	}
}

// awaitDemand blocks until somebody waits on the channel and every value
// produced so far was consumed, and returns the context of the next producer
// call, or false when the loop must stop.
func (c *Channel) awaitDemand() (context.Context, bool) {
	c.mu.Lock()
	for (c.demand.n == 0 || c.ring.Top() > c.acked) && !c.demand.closed {
		signal := make(chan struct{})
		c.demand.signal = signal
		c.mu.Unlock()
		select {
		case <-signal:
		case <-c.hub.ctx.Done():
			return nil, false
		}
		c.mu.Lock()
	}
	defer c.mu.Unlock()
	if c.demand.closed {
		return nil, false
	}
	ctx, cancel := context.WithCancel(c.hub.ctx)
	c.demand.cancel = cancel
	return ctx, true
}
