package halley

import (
	"context"
	"errors"
	"fmt"
)

// ErrBrokerUnavailable is what Ready returns when the broker cannot
// deliver: its connection is down, or its delivery path stalls.
var ErrBrokerUnavailable = errors.New("halley: broker unavailable")

// readyChecker is a broker that can check its own delivery path end to
// end (broker.Checker).
type readyChecker interface {
	Ready(ctx context.Context) error
}

// Ready reports whether the hub should take traffic: it is not shut down
// (ErrShutdown), not deactivated (ErrDeactivated), and its broker delivers
// (ErrBrokerUnavailable, for brokers that can check that, such as the
// Redis one: it publishes a probe and waits to see it arrive, within
// ctx). Load balancers and Kubernetes probe it through the server's
// /readyz.
func (h *Hub) Ready(ctx context.Context) error {
	switch {
	case h.isShutdown():
		return ErrShutdown
	case !h.Active():
		return ErrDeactivated
	}
	if c, ok := h.broker.(readyChecker); ok {
		if err := c.Ready(ctx); err != nil {
			return fmt.Errorf("%w: %w", ErrBrokerUnavailable, err)
		}
	}
	return nil
}
