package halley

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// refusals counts the requests, subscriptions and frames the hub refused,
// by reason: what an operator looks at when clients complain, or when
// somebody attacks. Reasons are the hub's own words, a small fixed set.
//
// Each refusal is also logged, at most once per reason per second, with
// the count since the last line of that reason: a flood of refused
// requests cannot flood the log.
type refusals struct {
	m   sync.Map // reason → *refusalCount
	log *slog.Logger
	// now is time.Now; tests set it.
	now func() time.Time
}

type refusalCount struct {
	n      atomic.Uint64
	logged atomic.Uint64 // n at the last log line
	last   atomic.Int64  // the second of the last log line (Unix)
}

func (r *refusals) add(reason string) {
	v, ok := r.m.Load(reason)
	if !ok {
		v, _ = r.m.LoadOrStore(reason, new(refusalCount))
	}
	c := v.(*refusalCount)
	n := c.n.Add(1)
	if r.log == nil {
		return
	}
	now := time.Now
	if r.now != nil {
		now = r.now
	}
	sec := now().Unix()
	last := c.last.Load()
	if last == sec || !c.last.CompareAndSwap(last, sec) {
		return
	}
	since := n - c.logged.Swap(n)
	r.log.LogAttrs(context.Background(), slog.LevelInfo, "halley: refused",
		slog.String("reason", reason), slog.Uint64("count", since))
}

func (r *refusals) snapshot() map[string]uint64 {
	out := make(map[string]uint64)
	r.m.Range(func(k, v any) bool {
		out[k.(string)] = v.(*refusalCount).n.Load()
		return true
	})
	return out
}

// Refusals returns how many times the hub refused a client, by reason
// ("too_many_connections", "rate_limited", "forbidden", "invalid_token",
// "body_timeout"…, and "comet_<status>" for the legacy protocol), since it
// started: requests answered with an error, subscriptions ended as
// forbidden, frames answered with an error. Each refusal is logged at
// level Info ("halley: refused", with its reason and a count), at most
// once per reason per second.
func (h *Hub) Refusals() map[string]uint64 { return h.refusals.snapshot() }
