package brokertest

import (
	"fmt"
	"testing"

	"github.com/halleyhq/halley/broker"
)

// RunNodes runs the cases that need two nodes on one backend: each subtest
// calls newNode twice, for brokers A and B that must share their backend
// (two connections to one Redis), Starts each with its own Recorder and
// Closes them in t.Cleanup. A broker that keeps its state in its process,
// such as broker/memory, cannot run it.
//
// Names are unique per subtest, as in Run, and shared by both nodes.
func RunNodes(t *testing.T, newNode func(t testing.TB) broker.Broker) {
	t.Helper()
	for _, c := range nodeCases {
		t.Run(c.name, func(t *testing.T) {
			a := setup(t, newNode)
			b := setup(t, newNode)
			b.prefix = a.prefix
			c.fn(t, a, b)
		})
	}
}

var nodeCases = []struct {
	name string
	fn   func(t *testing.T, a, b *fixture)
}{
	{"OffsetsAtomic", testNodesOffsetsAtomic},
	{"DeliverAcross", testNodesDeliverAcross},
	{"HistoryAcross", testNodesHistoryAcross},
	{"SubscribeSameEpoch", testNodesSubscribeSameEpoch},
	{"RemoveAcross", testNodesRemoveAcross},
	{"Broadcast", testNodesBroadcast},
}

// testNodesOffsetsAtomic: publishers on both nodes at once get every offset
// exactly once, and each node's subscriber sees every message, in order.
func testNodesOffsetsAtomic(t *testing.T, a, b *fixture) {
	s := a.name("s")
	a.subscribe(t, s)
	b.subscribe(t, s)
	publishConcurrently(t, s, []*fixture{a, b}, 4, 150)
}

// testNodesDeliverAcross: what A publishes reaches B's handler, not A's
// (A did not subscribe).
func testNodesDeliverAcross(t *testing.T, a, b *fixture) {
	const n = 5
	s := a.name("s")
	b.subscribe(t, s)
	results := a.publishN(t, s, n, 10)
	checkMessages(t, "B's handler", b.rec.WaitMessages(t, s, n), s, 1, n, results[0].Position.Epoch)
	a.barrier(t)
	if got := a.rec.Messages(s); len(got) != 0 {
		t.Errorf("A's handler got %d messages (offsets %v) of a stream A did not subscribe to", len(got), offsets(got))
	}
}

// testNodesHistoryAcross: B answers History from what A published, as A
// would.
func testNodesHistoryAcross(t *testing.T, a, b *fixture) {
	s := a.name("s")
	results := a.publishN(t, s, 5, 3)
	last := results[len(results)-1].Position
	for _, f := range []*fixture{a, b} {
		h := f.history(t, s, 0, 0)
		checkMessages(t, "History(0, 0)", h.Messages, s, 3, 5, last.Epoch)
		if h.Position != last || h.First != 3 {
			t.Errorf("History: position %+v, first %d; want %+v and 3", h.Position, h.First, last)
		}
	}
	if h := b.history(t, s, 4, 0); len(h.Messages) != 1 || h.Messages[0].Offset != 5 {
		t.Errorf("B's History(4, 0): offsets %v; want [5]", offsets(h.Messages))
	}
}

// testNodesSubscribeSameEpoch: the epoch one node's Subscribe makes is the
// one the other node sees and publishes in.
func testNodesSubscribeSameEpoch(t *testing.T, a, b *fixture) {
	s := a.name("s")
	a.subscribe(t, s)
	b.subscribe(t, s)
	ha, hb := a.history(t, s, 0, 0), b.history(t, s, 0, 0)
	if ha.Position.Epoch == "" || ha.Position != hb.Position {
		t.Fatalf("History after both Subscribe: A %+v, B %+v; want one epoch, offset 0", ha.Position, hb.Position)
	}
	res := b.publish(t, s, payload(1), 10)
	if res.Position != (broker.Position{Offset: 1, Epoch: ha.Position.Epoch}) {
		t.Fatalf("B's first Publish at %+v; want offset 1 in epoch %q", res.Position, ha.Position.Epoch)
	}
	for _, f := range []*fixture{a, b} {
		checkMessages(t, "delivered", f.rec.WaitMessages(t, s, 1), s, 1, 1, ha.Position.Epoch)
	}
}

// testNodesRemoveAcross: after A removes a stream, B, subscribed, gets the
// next message at offset 1 in a new epoch.
func testNodesRemoveAcross(t *testing.T, a, b *fixture) {
	s := a.name("s")
	b.subscribe(t, s)
	old := a.publishN(t, s, 2, 10)[1].Position
	b.rec.WaitMessages(t, s, 2)
	if err := a.b.Remove(t.Context(), s); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	res := a.publish(t, s, payload(1), 10)
	if res.Position.Offset != 1 || res.Position.Epoch == old.Epoch {
		t.Fatalf("Publish after Remove at %+v; want offset 1 in a new epoch (old %q)", res.Position, old.Epoch)
	}
	msgs := b.rec.WaitMessages(t, s, 3)
	checkMessage(t, "B's message after Remove", msgs[2], s, 1, res.Position.Epoch, payload(1))
	if h := b.history(t, s, 0, 0); h.Position != res.Position {
		t.Errorf("B's History after Remove: position %+v; want %+v", h.Position, res.Position)
	}
}

// testNodesBroadcast: a broadcast from either node reaches both, the
// sender included.
func testNodesBroadcast(t *testing.T, a, b *fixture) {
	topic := a.name("topic")
	for i, f := range []*fixture{a, b} {
		if err := f.b.Broadcast(t.Context(), topic, fmt.Appendf(nil, "from %d", i)); err != nil {
			t.Fatalf("node %d: Broadcast: %v", i, err)
		}
	}
	for n, f := range []*fixture{a, b} {
		got := map[string]bool{}
		for _, bc := range f.rec.WaitBroadcasts(t, topic, 2) {
			got[string(bc.Data)] = true
		}
		if !got["from 0"] || !got["from 1"] || len(got) != 2 {
			t.Errorf("node %d got broadcasts %v; want from 0 and from 1", n, got)
		}
	}
}
