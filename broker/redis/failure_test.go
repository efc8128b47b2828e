package redis_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/halleyhq/halley/broker"
	"github.com/halleyhq/halley/broker/brokertest"
	"github.com/halleyhq/halley/broker/redis"
	"github.com/halleyhq/halley/internal/redistest"
)

// checkOffsets checks that msgs are offsets from..to of epoch, carrying
// "m<offset>", in order.
func checkOffsets(t *testing.T, msgs []broker.Message, from, to uint64, epoch string) {
	t.Helper()
	if len(msgs) != int(to-from+1) {
		t.Fatalf("got %d messages (%v); want offsets %d..%d", len(msgs), describe(msgs), from, to)
	}
	for i, m := range msgs {
		off := from + uint64(i)
		if m.Offset != off || m.Epoch != epoch || string(m.Data) != fmt.Sprintf("m%d", off) {
			t.Fatalf("message #%d: offset %d, epoch %q, data %q; want %d, %q, m%d (all: %v)", i, m.Offset, m.Epoch, m.Data, off, epoch, off, describe(msgs))
		}
	}
}

func describe(msgs []broker.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = fmt.Sprintf("%d@%s:%s", m.Offset, m.Epoch, m.Data)
	}
	return out
}

// publishM publishes "m<i>" for i in from..to, retrying each (the client
// redials by itself after a restart) until timeout.
func publishM(t *testing.T, b broker.Broker, stream string, from, to int) broker.Position {
	t.Helper()
	var pos broker.Position
	for i := from; i <= to; i++ {
		eventually(t, 10*time.Second, fmt.Sprintf("Publish m%d", i), func() error {
			res, err := b.Publish(t.Context(), stream, fmt.Appendf(nil, "m%d", i), broker.PublishOptions{HistorySize: 100})
			pos = res.Position
			return err
		})
	}
	return pos
}

// gate holds the broker's reconnection until opened.
type gate struct {
	reached chan struct{}
	open    chan struct{}
}

func newGate(b *redis.Broker) *gate {
	g := &gate{reached: make(chan struct{}, 1), open: make(chan struct{})}
	redis.SetBeforeReconnect(b, func(ctx context.Context) {
		select {
		case g.reached <- struct{}{}:
		default:
		}
		select {
		case <-g.open:
		case <-ctx.Done():
		}
	})
	return g
}

// wait waits until the supervisor is held at the gate: the node's pub/sub
// connection is down.
func (g *gate) wait(t *testing.T) {
	t.Helper()
	select {
	case <-g.reached:
	case <-time.After(brokertest.WaitTimeout):
		t.Fatal("the broker never tried to reconnect")
	}
}

func TestBroker_Restart(t *testing.T) {
	t.Run("Persistent", func(t *testing.T) {
		// History and epoch survive; delivery resumes on the new
		// subscription.
		srv := redistest.Start(t, redistest.Options{Persist: true})
		b, rec := startBroker(t, options(t, srv))
		subscribe(t, b, "s")
		epoch := publishM(t, b, "s", 1, 3).Epoch
		rec.WaitMessages(t, "s", 3)
		srv.Restart()
		if pos := publishM(t, b, "s", 4, 5); pos != (broker.Position{Offset: 5, Epoch: epoch}) {
			t.Fatalf("Publish after the restart at %+v; want offset 5 in epoch %q", pos, epoch)
		}
		checkOffsets(t, rec.WaitMessages(t, "s", 5), 1, 5, epoch)
		h, err := b.History(t.Context(), "s", 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		checkOffsets(t, h.Messages, 1, 5, epoch)
	})

	t.Run("Ephemeral", func(t *testing.T) {
		// Redis lost everything: the stream gets a new epoch, and the
		// subscribed node passes it on with the next message.
		srv := redistest.Start(t, redistest.Options{})
		b, rec := startBroker(t, options(t, srv))
		subscribe(t, b, "s")
		old := publishM(t, b, "s", 1, 3).Epoch
		rec.WaitMessages(t, "s", 3)
		srv.Restart()
		pos := publishM(t, b, "s", 1, 1)
		if pos.Offset != 1 || pos.Epoch == old || pos.Epoch == "" {
			t.Fatalf("Publish after the restart at %+v; want offset 1 in a new epoch (old %q)", pos, old)
		}
		msgs := rec.WaitMessages(t, "s", 4)
		checkOffsets(t, msgs[:3], 1, 3, old)
		checkOffsets(t, msgs[3:], 1, 1, pos.Epoch)
		h, err := b.History(t.Context(), "s", 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if h.Position != pos {
			t.Errorf("History after the restart at %+v; want %+v", h.Position, pos)
		}
	})
}

func TestBroker_Resubscribe(t *testing.T) {
	for _, tt := range []struct {
		name string
		cut  func(srv *redistest.Server)
	}{
		{"ConnectionKilled", func(srv *redistest.Server) { srv.MustDo("CLIENT", "KILL", "TYPE", "pubsub") }},
		{"RedisRestarted", func(srv *redistest.Server) { srv.Restart() }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := redistest.Start(t, redistest.Options{Persist: true})
			b := newBroker(t, options(t, srv))
			g := newGate(b)
			rec := new(brokertest.Recorder)
			if err := b.Start(t.Context(), rec); err != nil {
				t.Fatal(err)
			}
			subscribe(t, b, "s")
			epoch := publishM(t, b, "s", 1, 1).Epoch
			rec.WaitMessages(t, "s", 1)

			tt.cut(srv)
			g.wait(t)
			// The node is not subscribed now; what is published goes to
			// history only.
			publishM(t, b, "s", 2, 5)
			if got := rec.Messages("s"); len(got) != 1 {
				t.Fatalf("handler got %v while the subscription was down; want only m1", describe(got))
			}
			if err := b.Ready(t.Context()); !errors.Is(err, broker.ErrUnavailable) {
				t.Errorf("Ready without a pub/sub connection: %v; want an error wrapping broker.ErrUnavailable", err)
			}
			close(g.open)

			// Resubscribed, the node delivers 2..5 from history before 6.
			checkOffsets(t, rec.WaitMessages(t, "s", 5), 1, 5, epoch)
			publishM(t, b, "s", 6, 6)
			checkOffsets(t, rec.WaitMessages(t, "s", 6), 1, 6, epoch)
			eventually(t, 5*time.Second, "Ready after resubscription", func() error { return b.Ready(t.Context()) })
		})
	}
}

func TestBroker_GapFill(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})

	t.Run("FromHistory", func(t *testing.T) {
		b, rec := startBroker(t, options(t, srv))
		subscribe(t, b, "gap")
		epoch := publishM(t, b, "gap", 1, 1).Epoch
		rec.WaitMessages(t, "gap", 1)
		for i := 2; i <= 3; i++ {
			if _, err := redis.PublishSilently(t.Context(), b, "gap", fmt.Appendf(nil, "m%d", i), broker.PublishOptions{HistorySize: 100}); err != nil {
				t.Fatal(err)
			}
		}
		publishM(t, b, "gap", 4, 4)
		checkOffsets(t, rec.WaitMessages(t, "gap", 4), 1, 4, epoch)
		if n := redis.Fills(b); n != 1 {
			t.Errorf("%d holes filled; want 1 (2..3 before 4)", n)
		}
	})

	t.Run("NoLongerRetained", func(t *testing.T) {
		// History kept only the newest: the node delivers it, the hole
		// stays visible to the hub as an offset jump.
		b, rec := startBroker(t, options(t, srv))
		subscribe(t, b, "trimmed")
		res := publish(t, b, "trimmed", "m1")
		rec.WaitMessages(t, "trimmed", 1)
		for i := 2; i <= 3; i++ {
			if _, err := redis.PublishSilently(t.Context(), b, "trimmed", fmt.Appendf(nil, "m%d", i), broker.PublishOptions{HistorySize: 1}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := b.Publish(t.Context(), "trimmed", []byte("m4"), broker.PublishOptions{HistorySize: 1}); err != nil {
			t.Fatal(err)
		}
		msgs := rec.WaitMessages(t, "trimmed", 2)
		checkOffsets(t, msgs[:1], 1, 1, res.Position.Epoch)
		checkOffsets(t, msgs[1:], 4, 4, res.Position.Epoch)
	})

	t.Run("DuplicatesDropped", func(t *testing.T) {
		b, rec := startBroker(t, options(t, srv))
		subscribe(t, b, "dup")
		epoch := publishM(t, b, "dup", 1, 2).Epoch
		rec.WaitMessages(t, "dup", 2)
		redis.Inject(b, "dup", "1 "+epoch+" ........whatever"+"m1")
		redis.Inject(b, "dup", "2 "+epoch+" ........"+redis.LastID(b, "dup")+"m2")
		redis.Inject(b, "dup", "garbage")
		if err := b.Ready(t.Context()); err != nil {
			t.Errorf("Ready after duplicates: %v; want nil (nothing to catch up)", err)
		}
		publishM(t, b, "dup", 3, 3)
		checkOffsets(t, rec.WaitMessages(t, "dup", 3), 1, 3, epoch)
	})
}

func TestBroker_Unavailable(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	b, _ := startBroker(t, options(t, srv))
	subscribe(t, b, "s")
	if err := b.Ready(t.Context()); err != nil {
		t.Fatalf("Ready: %v", err)
	}
	srv.Stop()

	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	if err := b.Ready(ctx); !errors.Is(err, broker.ErrUnavailable) {
		t.Errorf("Ready with Redis stopped: %v; want an error wrapping broker.ErrUnavailable", err)
	}
	if _, err := b.Publish(ctx, "s", []byte("x"), broker.PublishOptions{HistorySize: 1}); !errors.Is(err, broker.ErrUnavailable) {
		t.Errorf("Publish with Redis stopped: %v; want an error wrapping broker.ErrUnavailable", err)
	}
	if _, err := b.History(ctx, "s", 0, 0); !errors.Is(err, broker.ErrUnavailable) {
		t.Errorf("History with Redis stopped: %v; want an error wrapping broker.ErrUnavailable", err)
	}
	if err := b.Subscribe(ctx, "other"); !errors.Is(err, broker.ErrUnavailable) {
		t.Errorf("Subscribe with Redis stopped: %v; want an error wrapping broker.ErrUnavailable", err)
	}
	if ctx.Err() != nil {
		t.Errorf("the calls took more than 3s to fail: %v", ctx.Err())
	}

	srv.Start()
	eventually(t, 10*time.Second, "Ready after Redis came back", func() error { return b.Ready(t.Context()) })
	publish(t, b, "s", "back")
}

// stallHandler is a Recorder whose HandleMessage blocks on one stream until
// released.
type stallHandler struct {
	*brokertest.Recorder
	stream  string
	release chan struct{}
}

func (h stallHandler) HandleMessage(m broker.Message) int {
	if m.Stream == h.stream {
		<-h.release
	}
	return h.Recorder.HandleMessage(m)
}

func TestBroker_ReadyStalled(t *testing.T) {
	// A handler stuck on delivery holds the pub/sub path: the probe cannot
	// come back, and Ready says so.
	srv := redistest.Start(t, redistest.Options{})
	b := newBroker(t, options(t, srv))
	h := stallHandler{Recorder: new(brokertest.Recorder), stream: "stuck", release: make(chan struct{})}
	released := false
	release := func() {
		if !released {
			released = true
			close(h.release)
		}
	}
	t.Cleanup(release) // before the broker's Close, registered earlier
	if err := b.Start(t.Context(), h); err != nil {
		t.Fatal(err)
	}
	if err := b.Ready(t.Context()); err != nil {
		t.Fatalf("Ready before the stall: %v", err)
	}
	subscribe(t, b, "stuck")
	publish(t, b, "stuck", "m1")
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	if err := b.Ready(ctx); !errors.Is(err, broker.ErrUnavailable) {
		t.Fatalf("Ready with delivery stalled: %v; want an error wrapping broker.ErrUnavailable", err)
	}
	release()
	h.WaitMessages(t, "stuck", 1)
	// A stall longer than IOTimeout (a machine under load) makes the client
	// drop the connection, and the broker dial again: wait for it.
	eventually(t, 10*time.Second, "Ready after the stall", func() error { return b.Ready(t.Context()) })
}

// checkNoReuse checks that no offset was delivered twice, or out of order,
// in one epoch.
func checkNoReuse(t *testing.T, msgs []broker.Message) {
	t.Helper()
	top := map[string]uint64{}
	for _, m := range msgs {
		if m.Offset <= top[m.Epoch] {
			t.Fatalf("offset %d delivered again in epoch %s: %v", m.Offset, m.Epoch, describe(msgs))
		}
		top[m.Epoch] = m.Offset
	}
}

// awaitData waits until the last message delivered on stream carries data.
func awaitData(t *testing.T, rec *brokertest.Recorder, stream, data string) []broker.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), brokertest.WaitTimeout)
	defer cancel()
	err := rec.Await(ctx, func(msgs map[string][]broker.Message, _ []brokertest.Broadcast) bool {
		s := msgs[stream]
		return len(s) > 0 && string(s[len(s)-1].Data) == data
	})
	msgs := rec.Messages(stream)
	if err != nil {
		t.Fatalf("%q not delivered last: %v; delivered %v", data, err, describe(msgs))
	}
	return msgs
}

// TestBroker_WentBack: Redis has the node's epoch but not what the node
// delivered (a failover to a replica that was behind): the stream gets a
// new epoch, so that no offset is given twice in one epoch, and the node
// delivers what Redis has in it.
func TestBroker_WentBack(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	// others replaces the stream's messages by n others, in its epoch.
	others := func(t *testing.T, b *redis.Broker, n int) {
		srv.MustDo("DEL", "{halley:s}:hist")
		srv.MustDo("HSET", "{halley:s}:meta", "top", "0", "bytes", "0")
		srv.MustDo("HDEL", "{halley:s}:meta", "last")
		for i := 1; i <= n; i++ {
			if _, err := redis.PublishSilently(t.Context(), b, "s", fmt.Appendf(nil, "other%d", i), broker.PublishOptions{HistorySize: 100}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, tt := range []struct {
		name string
		// rewind makes Redis's copy of stream s go back, from m1..m5
		// delivered.
		rewind func(t *testing.T, b *redis.Broker)
	}{
		{"TopBelow", func(t *testing.T, b *redis.Broker) {
			srv.MustDo("HSET", "{halley:s}:meta", "top", "3")
			srv.MustDo("LTRIM", "{halley:s}:hist", "0", "2")
			srv.MustDo("CLIENT", "KILL", "TYPE", "pubsub")
		}},
		{"OtherAtOffset", func(t *testing.T, b *redis.Broker) {
			others(t, b, 5)
			srv.MustDo("CLIENT", "KILL", "TYPE", "pubsub")
		}},
		{"OtherAtOffsetLive", func(t *testing.T, b *redis.Broker) {
			// The subscription stays up and brings another message 5.
			others(t, b, 4)
			publish(t, b, "s", "other5")
		}},
		{"NextAfterOtherLive", func(t *testing.T, b *redis.Broker) {
			// The subscription stays up and brings message 6, which
			// follows another message 5.
			others(t, b, 5)
			publish(t, b, "s", "other6")
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv.MustDo("FLUSHALL")
			b, rec := startBroker(t, options(t, srv))
			subscribe(t, b, "s")
			epoch := publishM(t, b, "s", 1, 5).Epoch
			rec.WaitMessages(t, "s", 5)
			tt.rewind(t, b)

			final, i := "", 0
			eventually(t, 10*time.Second, "a publication in a new epoch", func() error {
				i++
				final = fmt.Sprintf("final%d", i)
				res, err := b.Publish(t.Context(), "s", []byte(final), broker.PublishOptions{HistorySize: 100})
				if err == nil && res.Position.Epoch == epoch {
					err = fmt.Errorf("published at %+v, in the epoch that went back", res.Position)
				}
				return err
			})
			msgs := awaitData(t, rec, "s", final)
			checkOffsets(t, msgs[:5], 1, 5, epoch)
			checkNoReuse(t, msgs)
			h, err := b.History(t.Context(), "s", 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			var inNew []string
			for _, m := range msgs {
				if m.Epoch == h.Position.Epoch {
					inNew = append(inNew, fmt.Sprintf("%d:%s", m.Offset, m.Data))
				}
			}
			var want []string
			for _, m := range h.Messages {
				want = append(want, fmt.Sprintf("%d:%s", m.Offset, m.Data))
			}
			if h.Position.Epoch == epoch || fmt.Sprint(inNew) != fmt.Sprint(want) {
				t.Errorf("delivered in epoch %s: %v; want what History has in it, %v (old epoch %s)", h.Position.Epoch, inNew, want, epoch)
			}
		})
	}
}

// TestBroker_ResubscribeMany: more streams than one SUBSCRIBE carries on
// reconnection, each caught up.
func TestBroker_ResubscribeMany(t *testing.T) {
	const streams = 700
	srv := redistest.Start(t, redistest.Options{})
	b := newBroker(t, options(t, srv))
	g := newGate(b)
	rec := new(brokertest.Recorder)
	if err := b.Start(t.Context(), rec); err != nil {
		t.Fatal(err)
	}
	name := func(i int) string { return fmt.Sprintf("s%d", i) }
	for i := range streams {
		subscribe(t, b, name(i))
	}
	srv.MustDo("CLIENT", "KILL", "TYPE", "pubsub")
	g.wait(t)
	for i := range streams {
		publish(t, b, name(i), "m1")
	}
	close(g.open)
	for i := range streams {
		rec.WaitMessages(t, name(i), 1)
		publish(t, b, name(i), "m2")
	}
	for i := range streams {
		if msgs := rec.WaitMessages(t, name(i), 2); len(msgs) != 2 || string(msgs[0].Data) != "m1" || string(msgs[1].Data) != "m2" {
			t.Fatalf("stream %s delivered %v; want m1 (caught up), m2 (live)", name(i), describe(msgs))
		}
	}
	if got := srv.MustDo("PUBSUB", "NUMSUB", "{halley:s699}:msg"); got != "{halley:s699}:msg\n1" {
		t.Errorf("PUBSUB NUMSUB of the last stream: %q; want one subscriber", got)
	}
}
