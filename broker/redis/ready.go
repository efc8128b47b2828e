package redis

import (
	"context"
	"fmt"

	"github.com/halleyhq/halley/broker"
)

// Ready implements broker.Checker: it publishes a probe on this node's own
// channel and waits for it to come back through the pub/sub connection,
// the path every delivery takes. It fails (with an error wrapping
// broker.ErrUnavailable) when Redis does not take the probe, when the probe
// does not arrive before ctx's deadline (Options.ReadyTimeout when ctx has
// none) — a stalled connection or handler — and while a stream waits to
// be caught up after a reconnection.
func (b *Broker) Ready(ctx context.Context) error {
	if err := b.usable(ctx); err != nil {
		return b.fail("ready", "", err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, b.opts.ReadyTimeout)
		defer cancel()
	}
	token := newEpoch() + newEpoch()
	arrived := make(chan struct{})
	b.mu.Lock()
	connected := b.conn != nil
	b.probes[token] = arrived
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		delete(b.probes, token)
		b.mu.Unlock()
	}()
	if !connected {
		return b.fail("ready", "", fmt.Errorf("%w: no pub/sub connection", broker.ErrUnavailable))
	}
	if err := b.client.Do(ctx, b.client.B().Publish().Channel(b.probeCh).Message(token).Build()).Error(); err != nil {
		return b.fail("ready", "", err)
	}
	select {
	case <-arrived:
	case <-ctx.Done():
		return fmt.Errorf("redis broker: ready: %w: the probe did not come back through pub/sub: %w", broker.ErrUnavailable, ctx.Err())
	}
	if n := b.staleCount(); n > 0 {
		return fmt.Errorf("redis broker: ready: %w: %d streams waiting to catch up from history", broker.ErrUnavailable, n)
	}
	return nil
}

func (b *Broker) staleCount() int {
	b.mu.Lock()
	subs := make([]*sub, 0, len(b.streams))
	for _, st := range b.streams {
		subs = append(subs, st)
	}
	b.mu.Unlock()
	n := 0
	for _, st := range subs {
		// A stream being delivered or caught up holds its lock: it is
		// not counted, rather than waited for.
		select {
		case st.mu <- struct{}{}:
			if st.live && st.stale {
				n++
			}
			st.mu.Unlock()
		default:
		}
	}
	return n
}
