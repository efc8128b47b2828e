package redis

import (
	"sync/atomic"

	"github.com/halleyhq/halley/broker"
)

// ops names the operations the broker counts, in OpCounts' order.
var ops = [...]string{"publish", "history", "remove", "broadcast", "subscribe", "unsubscribe"}

// opCounts counts calls and failures per operation: atomics, no lock.
type opCounts struct {
	calls, errors [len(ops)]atomic.Uint64
}

func opIndex(op string) int {
	for i, o := range ops {
		if o == op {
			return i
		}
	}
	return -1
}

// count counts a call of op.
func (b *Broker) count(op string) {
	if i := opIndex(op); i >= 0 {
		b.counts.calls[i].Add(1)
	}
}

// OpCounts implements broker.Counter.
func (b *Broker) OpCounts() []broker.OpCount {
	out := make([]broker.OpCount, len(ops))
	for i, op := range ops {
		out[i] = broker.OpCount{Op: op, Calls: b.counts.calls[i].Load(), Errors: b.counts.errors[i].Load()}
	}
	return out
}

var _ broker.Counter = (*Broker)(nil)
