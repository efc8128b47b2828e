package brokertest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/halleyhq/halley/broker"
)

// Run runs the conformance suite against brokers made by newBroker. Each
// subtest gets a fresh broker (newBroker is called per subtest and may call
// t.Skip); the suite Starts it with a Recorder and Closes it in t.Cleanup.
//
// Stream and topic names are unique per subtest, so a broker made by
// newBroker may share its backend with earlier ones. The suite assumes that
// Subscribe takes effect before it returns.
func Run(t *testing.T, newBroker func(t testing.TB) broker.Broker) {
	t.Helper()
	for _, group := range suite {
		t.Run(group.name, func(t *testing.T) {
			for _, c := range group.cases {
				t.Run(c.name, func(t *testing.T) {
					c.fn(t, setup(t, newBroker))
				})
			}
		})
	}
}

type testCase struct {
	name string
	fn   func(t *testing.T, f *fixture)
}

var suite = []struct {
	name  string
	cases []testCase
}{
	{"Publish", []testCase{
		{"OffsetsStartAtOne", testOffsetsStartAtOne},
		{"OffsetsPerStream", testOffsetsPerStream},
		{"EpochStable", testEpochStable},
		{"Concurrent", testConcurrent},
		{"CancelledContext", testPublishCancelled},
	}},
	{"Subscribe", []testCase{
		{"CreatesEpoch", testSubscribeCreatesEpoch},
	}},
	{"Deliver", []testCase{
		{"InOrder", testDeliverInOrder},
		{"NotSubscribed", testDeliverNotSubscribed},
		{"Unsubscribe", testDeliverUnsubscribe},
		{"AfterRemove", testDeliverAfterRemove},
	}},
	{"History", []testCase{
		{"All", testHistoryAll},
		{"Since", testHistorySince},
		{"Limit", testHistoryLimit},
		{"SinceTop", testHistorySinceTop},
		{"Retention", testHistoryRetention},
		{"SizeZero", testHistorySizeZero},
		{"Bytes", testHistoryBytes},
		{"BytesNewestAlwaysKept", testHistoryBytesNewest},
		{"BytesSmallerBound", testHistoryBytesSmaller},
		{"UnknownStream", testHistoryUnknown},
		{"CancelledContext", testHistoryCancelled},
	}},
	{"Remove", []testCase{
		{"NewEpoch", testRemoveNewEpoch},
		{"UnknownStream", testRemoveUnknown},
	}},
	{"Broadcast", []testCase{
		{"Delivered", testBroadcast},
	}},
	{"Closed", []testCase{
		{"Publish", testPublishClosed},
		{"OtherMethods", testClosedOthers},
		{"ConcurrentPublish", testClosedConcurrentPublish},
	}},
}

// fixture is one subtest's started broker.
type fixture struct {
	b      broker.Broker
	rec    *Recorder
	prefix string
	closed bool
}

func setup(t *testing.T, newBroker func(t testing.TB) broker.Broker) *fixture {
	t.Helper()
	b := newBroker(t)
	f := &fixture{b: b, rec: new(Recorder), prefix: "brokertest-" + strings.ToLower(rand.Text()[:12])}
	// The subtest's context is cancelled before cleanups run: Close gets its
	// own.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), WaitTimeout)
		defer cancel()
		if err := b.Close(ctx); err != nil && !f.closed {
			t.Errorf("Close: %v", err)
		}
	})
	if err := b.Start(t.Context(), f.rec); err != nil {
		t.Fatalf("Start: %v", err)
	}
	return f
}

// name returns a stream or topic name unique to the subtest.
func (f *fixture) name(s string) string { return f.prefix + "-" + s }

// close closes the broker, telling the cleanup to ignore a second Close's
// error.
func (f *fixture) close(t *testing.T) {
	t.Helper()
	f.closed = true
	if err := f.b.Close(t.Context()); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func (f *fixture) subscribe(t *testing.T, stream string) {
	t.Helper()
	if err := f.b.Subscribe(t.Context(), stream); err != nil {
		t.Fatalf("Subscribe(%q): %v", stream, err)
	}
}

func (f *fixture) publish(t *testing.T, stream string, data string, historySize int) broker.PublishResult {
	t.Helper()
	res, err := f.b.Publish(t.Context(), stream, []byte(data), broker.PublishOptions{HistorySize: historySize})
	if err != nil {
		t.Fatalf("Publish(%q, %q): %v", stream, data, err)
	}
	return res
}

// publishN publishes payload(1) … payload(n) on stream and returns the
// results.
func (f *fixture) publishN(t *testing.T, stream string, n, historySize int) []broker.PublishResult {
	t.Helper()
	out := make([]broker.PublishResult, n)
	for i := range n {
		out[i] = f.publish(t, stream, payload(i+1), historySize)
	}
	return out
}

func (f *fixture) history(t *testing.T, stream string, since uint64, limit int) broker.HistoryResult {
	t.Helper()
	res, err := f.b.History(t.Context(), stream, since, limit)
	if err != nil {
		t.Fatalf("History(%q, %d, %d): %v", stream, since, limit, err)
	}
	return res
}

// barrier publishes on a fresh subscribed stream and waits for its delivery.
// A broker that delivers asynchronously but in publication order has then
// delivered everything published before; this is how the suite checks that
// something was not delivered without sleeping. (A broker that reorders
// across streams could deliver late and still pass: the check can miss a
// bug, never invent one.)
func (f *fixture) barrier(t *testing.T) {
	t.Helper()
	s := f.name("barrier-" + strings.ToLower(rand.Text()[:8]))
	f.subscribe(t, s)
	f.publish(t, s, "barrier", 0)
	f.rec.WaitMessages(t, s, 1)
}

// payload is the data of the i-th test message.
func payload(i int) string { return fmt.Sprintf("message %d", i) }

func checkMessage(t *testing.T, what string, got broker.Message, stream string, offset uint64, epoch, data string) {
	t.Helper()
	if got.Stream != stream || got.Offset != offset || got.Epoch != epoch || !bytes.Equal(got.Data, []byte(data)) {
		t.Errorf("%s = {Stream:%q Offset:%d Epoch:%q Data:%q}; want {Stream:%q Offset:%d Epoch:%q Data:%q}",
			what, got.Stream, got.Offset, got.Epoch, got.Data, stream, offset, epoch, data)
	}
}

// checkMessages checks that msgs are offsets from..to of stream, carrying
// payload(offset), in order.
func checkMessages(t *testing.T, what string, msgs []broker.Message, stream string, from, to uint64, epoch string) {
	t.Helper()
	if want := int(to + 1 - from); len(msgs) != want {
		t.Fatalf("%s: got %d messages (offsets %v); want offsets %d..%d", what, len(msgs), offsets(msgs), from, to)
	}
	for i, m := range msgs {
		off := from + uint64(i)
		checkMessage(t, fmt.Sprintf("%s[%d]", what, i), m, stream, off, epoch, payload(int(off)))
	}
}

func offsets(msgs []broker.Message) []uint64 {
	out := make([]uint64, len(msgs))
	for i, m := range msgs {
		out[i] = m.Offset
	}
	return out
}

func testOffsetsStartAtOne(t *testing.T, f *fixture) {
	s := f.name("s")
	for i, res := range f.publishN(t, s, 5, 10) {
		if want := uint64(i + 1); res.Position.Offset != want {
			t.Errorf("Publish #%d: offset %d; want %d", i+1, res.Position.Offset, want)
		}
	}
}

func testOffsetsPerStream(t *testing.T, f *fixture) {
	a, b := f.name("a"), f.name("b")
	steps := []struct {
		stream string
		want   uint64
	}{{a, 1}, {b, 1}, {a, 2}, {a, 3}, {b, 2}, {a, 4}, {b, 3}}
	for i, st := range steps {
		res := f.publish(t, st.stream, payload(i), 10)
		if res.Position.Offset != st.want {
			t.Errorf("step %d: Publish(%q) offset %d; want %d", i, st.stream, res.Position.Offset, st.want)
		}
	}
}

func testEpochStable(t *testing.T, f *fixture) {
	s := f.name("s")
	results := f.publishN(t, s, 5, 10)
	epoch := results[0].Position.Epoch
	if epoch == "" {
		t.Fatal("first Publish returned an empty epoch")
	}
	for i, res := range results {
		if res.Position.Epoch != epoch {
			t.Errorf("Publish #%d: epoch %q; want %q as in the first", i+1, res.Position.Epoch, epoch)
		}
	}
	if h := f.history(t, s, 0, 0); h.Position.Epoch != epoch {
		t.Errorf("History epoch %q; want %q", h.Position.Epoch, epoch)
	}
}

func testConcurrent(t *testing.T, f *fixture) {
	s := f.name("s")
	f.subscribe(t, s)
	publishConcurrently(t, s, []*fixture{f}, 8, 200)
}

// publishConcurrently publishes each messages from each of goroutines
// goroutines on every node (fixture) at once to stream s, to which every
// node subscribed; it checks that Publish gave every offset exactly once
// and that every node's handler got every message, in offset order, with
// the data Publish was given for its offset.
func publishConcurrently(t *testing.T, s string, nodes []*fixture, goroutines, each int) {
	t.Helper()
	total := len(nodes) * goroutines * each
	// data[offset] is what Publish was given for the message at offset.
	var (
		mu   sync.Mutex
		data = make(map[uint64]string, total)
		dups []uint64
		wg   sync.WaitGroup
	)
	for n, f := range nodes {
		for g := range goroutines {
			wg.Go(func() {
				for i := range each {
					d := fmt.Sprintf("node%d-g%d-%d", n, g, i)
					res, err := f.b.Publish(t.Context(), s, []byte(d), broker.PublishOptions{HistorySize: 16})
					if err != nil {
						t.Errorf("node %d, goroutine %d: Publish #%d: %v", n, g, i, err)
						return
					}
					mu.Lock()
					if _, ok := data[res.Position.Offset]; ok {
						dups = append(dups, res.Position.Offset)
					}
					data[res.Position.Offset] = d
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if len(dups) > 0 {
		t.Fatalf("offsets given twice: %v", dups)
	}
	for off := uint64(1); off <= uint64(total); off++ {
		if _, ok := data[off]; !ok {
			t.Fatalf("offset %d never returned by Publish (%d distinct offsets)", off, len(data))
		}
	}
	for n, f := range nodes {
		msgs := f.rec.WaitMessages(t, s, total)
		if len(msgs) != total {
			t.Fatalf("node %d: handler got %d messages; want %d", n, len(msgs), total)
		}
		for i, m := range msgs {
			if want := uint64(i + 1); m.Offset != want {
				t.Fatalf("node %d: handler message #%d has offset %d; want %d (strictly increasing, no gaps)", n, i, m.Offset, want)
			}
			if string(m.Data) != data[m.Offset] {
				t.Fatalf("node %d: handler message at offset %d carries %q; Publish gave %q that offset", n, m.Offset, m.Data, data[m.Offset])
			}
		}
	}
}

func testPublishCancelled(t *testing.T, f *fixture) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := f.b.Publish(ctx, f.name("s"), []byte("x"), broker.PublishOptions{HistorySize: 1}); err == nil {
		t.Fatal("Publish with a cancelled context succeeded")
	}
}

func testPublishClosed(t *testing.T, f *fixture) {
	s := f.name("s")
	f.publish(t, s, "before", 1)
	f.close(t)
	_, err := f.b.Publish(t.Context(), s, []byte("after"), broker.PublishOptions{HistorySize: 1})
	if !errors.Is(err, broker.ErrClosed) {
		t.Fatalf("Publish after Close: err %v; want one wrapping broker.ErrClosed", err)
	}
}

// testClosedConcurrentPublish closes the broker while publishers create
// streams: every Publish either succeeds or fails with ErrClosed, and none
// panics.
func testClosedConcurrentPublish(t *testing.T, f *fixture) {
	var wg sync.WaitGroup
	errs := make(chan error, 8*50)
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				s := f.name(fmt.Sprintf("g%d-%d", g, i))
				_, err := f.b.Publish(t.Context(), s, []byte("x"), broker.PublishOptions{HistorySize: 1})
				if err != nil && !errors.Is(err, broker.ErrClosed) {
					errs <- err
				}
			}
		})
	}
	f.close(t)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Publish racing Close: %v; want nil or broker.ErrClosed", err)
	}
}

func testClosedOthers(t *testing.T, f *fixture) {
	s := f.name("s")
	f.publish(t, s, "before", 1)
	f.close(t)
	ctx := t.Context()
	if _, err := f.b.History(ctx, s, 0, 0); !errors.Is(err, broker.ErrClosed) {
		t.Errorf("History after Close: err %v; want broker.ErrClosed", err)
	}
	if err := f.b.Subscribe(ctx, s); !errors.Is(err, broker.ErrClosed) {
		t.Errorf("Subscribe after Close: err %v; want broker.ErrClosed", err)
	}
	if err := f.b.Broadcast(ctx, f.name("topic"), []byte("x")); !errors.Is(err, broker.ErrClosed) {
		t.Errorf("Broadcast after Close: err %v; want broker.ErrClosed", err)
	}
}

func testDeliverInOrder(t *testing.T, f *fixture) {
	const n = 20
	s := f.name("s")
	f.rec.SetReaders(3)
	f.subscribe(t, s)
	results := f.publishN(t, s, n, 0)
	for i, res := range results {
		if res.Delivered != -1 && res.Delivered != 3 {
			t.Errorf("Publish #%d: Delivered %d; want 3 (what the handler returned) or -1", i+1, res.Delivered)
		}
	}
	msgs := f.rec.WaitMessages(t, s, n)
	checkMessages(t, "delivered", msgs, s, 1, n, results[0].Position.Epoch)
}

func testDeliverNotSubscribed(t *testing.T, f *fixture) {
	s := f.name("s")
	f.rec.SetReaders(3)
	f.subscribe(t, f.name("other"))
	for i, res := range f.publishN(t, s, 3, 1) {
		if res.Delivered != -1 && res.Delivered != 0 {
			t.Errorf("Publish #%d on an unsubscribed stream: Delivered %d; want 0 or -1", i+1, res.Delivered)
		}
	}
	f.barrier(t)
	if got := f.rec.Messages(s); len(got) != 0 {
		t.Fatalf("handler got %d messages (offsets %v) from a stream nobody subscribed to", len(got), offsets(got))
	}
}

func testDeliverUnsubscribe(t *testing.T, f *fixture) {
	s := f.name("s")
	f.subscribe(t, s)
	first := f.publish(t, s, payload(1), 1)
	f.rec.WaitMessages(t, s, 1)
	if err := f.b.Unsubscribe(t.Context(), s); err != nil {
		t.Fatalf("Unsubscribe: %v", err)
	}
	f.publishN(t, s, 3, 1)
	f.barrier(t)
	checkMessages(t, "delivered", f.rec.Messages(s), s, 1, 1, first.Position.Epoch)
}

// testDeliverAfterRemove: a subscription outlives its stream's removal;
// the new stream's messages are delivered, and an Unsubscribe after that
// still stops them.
func testDeliverAfterRemove(t *testing.T, f *fixture) {
	s := f.name("s")
	f.subscribe(t, s)
	f.publish(t, s, payload(1), 1)
	f.rec.WaitMessages(t, s, 1)
	if err := f.b.Remove(t.Context(), s); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	again := f.publish(t, s, payload(2), 1)
	if again.Position.Offset != 1 {
		t.Fatalf("Publish after Remove: offset %d; want 1", again.Position.Offset)
	}
	f.rec.WaitMessages(t, s, 2)
	if err := f.b.Unsubscribe(t.Context(), s); err != nil {
		t.Fatalf("Unsubscribe: %v", err)
	}
	f.publishN(t, s, 2, 1)
	f.barrier(t)
	if got := f.rec.Messages(s); len(got) != 2 || got[1].Epoch != again.Position.Epoch || got[1].Offset != 1 {
		t.Fatalf("handler got offsets %v; want 1 of the first epoch, then 1 of the new one (%q), and nothing after Unsubscribe", offsets(got), again.Position.Epoch)
	}
}

// testSubscribeCreatesEpoch: a subscribed stream has an epoch before its
// first message, and keeps it when the first message comes.
func testSubscribeCreatesEpoch(t *testing.T, f *fixture) {
	s := f.name("s")
	if err := f.b.Subscribe(t.Context(), s); err != nil {
		t.Fatal(err)
	}
	h := f.history(t, s, 0, 0)
	if h.Position.Epoch == "" || h.Position.Offset != 0 || len(h.Messages) != 0 {
		t.Fatalf("History after Subscribe: %+v; want an epoch and no message", h)
	}
	res, err := f.b.Publish(t.Context(), s, []byte("x"), broker.PublishOptions{HistorySize: 4})
	if err != nil {
		t.Fatal(err)
	}
	if res.Position.Epoch != h.Position.Epoch || res.Position.Offset != 1 {
		t.Fatalf("first Publish at %+v; want offset 1 in epoch %q", res.Position, h.Position.Epoch)
	}
}

func testRemoveNewEpoch(t *testing.T, f *fixture) {
	s := f.name("s")
	old := f.publishN(t, s, 3, 10)[2].Position
	if err := f.b.Remove(t.Context(), s); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if h := f.history(t, s, 0, 0); len(h.Messages) != 0 || h.Position.Offset != 0 || h.First != 1 {
		t.Errorf("History after Remove: %d messages (offsets %v), position %d, first %d; want none, 0, 1",
			len(h.Messages), offsets(h.Messages), h.Position.Offset, h.First)
	}
	res := f.publish(t, s, payload(1), 10)
	if res.Position.Offset != 1 {
		t.Errorf("Publish after Remove: offset %d; want 1", res.Position.Offset)
	}
	if res.Position.Epoch == "" || res.Position.Epoch == old.Epoch {
		t.Errorf("Publish after Remove: epoch %q; want a new non-empty one (old %q)", res.Position.Epoch, old.Epoch)
	}
	h := f.history(t, s, 0, 0)
	checkMessages(t, "History after Remove and Publish", h.Messages, s, 1, 1, res.Position.Epoch)
	if h.Position != res.Position {
		t.Errorf("History position %+v; want %+v", h.Position, res.Position)
	}
}

func testRemoveUnknown(t *testing.T, f *fixture) {
	if err := f.b.Remove(t.Context(), f.name("never-published")); err != nil {
		t.Fatalf("Remove of an unknown stream: %v", err)
	}
}

func testBroadcast(t *testing.T, f *fixture) {
	topic, other := f.name("topic"), f.name("other")
	for _, d := range []string{"one", "two"} {
		if err := f.b.Broadcast(t.Context(), topic, []byte(d)); err != nil {
			t.Fatalf("Broadcast(%q): %v", topic, err)
		}
	}
	if err := f.b.Broadcast(t.Context(), other, []byte("three")); err != nil {
		t.Fatalf("Broadcast(%q): %v", other, err)
	}
	got := f.rec.WaitBroadcasts(t, topic, 2)
	f.rec.WaitBroadcasts(t, other, 1)
	// Order between broadcasts is not promised: compare as a set.
	var data []string
	for _, b := range got {
		data = append(data, string(b.Data))
	}
	slices.Sort(data)
	if !slices.Equal(data, []string{"one", "two"}) {
		t.Fatalf("broadcasts on %q carried %q; want [one two]", topic, data)
	}
}
