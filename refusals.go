package halley

import (
	"sync"
	"sync/atomic"
)

// refusals counts the requests, subscriptions and frames the hub refused,
// by reason: what an operator looks at when clients complain, or when
// somebody attacks. Reasons are the hub's own words, a small fixed set.
type refusals struct {
	m sync.Map // reason → *atomic.Uint64
}

func (r *refusals) add(reason string) {
	if c, ok := r.m.Load(reason); ok {
		c.(*atomic.Uint64).Add(1)
		return
	}
	c, _ := r.m.LoadOrStore(reason, new(atomic.Uint64))
	c.(*atomic.Uint64).Add(1)
}

func (r *refusals) snapshot() map[string]uint64 {
	out := make(map[string]uint64)
	r.m.Range(func(k, v any) bool {
		out[k.(string)] = v.(*atomic.Uint64).Load()
		return true
	})
	return out
}

// Refusals returns how many times the hub refused a client, by reason
// ("too_many_connections", "rate_limited", "forbidden", "invalid_token",
// "body_timeout"…, and "comet_<status>" for the legacy protocol), since it
// started: requests answered with an error, subscriptions ended as
// forbidden, frames answered with an error.
func (h *Hub) Refusals() map[string]uint64 { return h.refusals.snapshot() }
