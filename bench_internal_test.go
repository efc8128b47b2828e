package halley

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkPublish measures the fan-out hot path: one message written to a
// broadcast channel with n client connections waiting, each of which wakes,
// takes the message and writes its encoded line. It reports the cost per
// delivered message: time, and allocations beyond the one shared encoding.
func BenchmarkPublish(b *testing.B) {
	for _, n := range []int{1, 100, 10000} {
		b.Run(fmt.Sprintf("waiters=%d", n), func(b *testing.B) { benchPublish(b, n) })
	}
}

func benchPublish(b *testing.B, n int) {
	h, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer h.Shutdown(context.Background())
	c, err := h.NewChannel(context.Background(), ChannelOptions{Name: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	var pending atomic.Int64
	round := make(chan struct{}, 1)
	ready := make(chan struct{}, n)
	for range n {
		go func() {
			w := newWaiter(true)
			c.addWaiter(w)
			defer c.removeWaiter(w)
			ready <- struct{}{}
			var after uint64
			buf := make([]*message, 0, cometBatch)
			for {
				select {
				case <-w.wake:
				case <-ctx.Done():
					return
				}
				msgs, _ := cometReg{c: c, after: after}.cometCollect(buf[:0])
				for _, m := range msgs {
					_, _ = io.Discard.Write(m.cometLine(c.id))
					after = m.offset
				}
				if len(msgs) > 0 && pending.Add(-int64(len(msgs))) == 0 {
					round <- struct{}{}
				}
			}
		}()
	}
	for range n {
		<-ready
	}
	payload := []byte(`{"tick":12345,"text":"hello, world"}`)
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		pending.Store(int64(n))
		if o, err := c.Write(ctx, payload); err != nil || o.Delivered != n {
			b.Fatalf("write: %+v, %v", o, err)
		}
		<-round
	}
	elapsed := time.Since(start)
	b.StopTimer()
	runtime.ReadMemStats(&ms1)
	deliveries := float64(b.N) * float64(n)
	b.ReportMetric(float64(elapsed.Nanoseconds())/deliveries, "ns/delivery")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/deliveries, "allocs/delivery")
	b.ReportMetric(deliveries/elapsed.Seconds(), "deliveries/s")
}

// BenchmarkNotify measures notify to 10 000 listening sessions with a
// trivial prepare: time and allocations per delivered notification.
func BenchmarkNotify(b *testing.B) {
	h, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer h.Shutdown(context.Background())
	n, err := NewNotifier(h, NotifierOptions[string, string, string]{
		Name: "docs",
		Prepare: func(_ context.Context, _ Identity, _ string, v string) (string, bool, error) {
			return v, true, nil
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	const listeners = 10000
	for range listeners {
		s, _ := h.NewSession()
		if _, err := n.Listen(s, "42"); err != nil {
			b.Fatal(err)
		}
	}
	ctx := context.Background()
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		if sent, err := n.Notify(ctx, "42", "edited", NotFor{}); err != nil || sent != listeners {
			b.Fatalf("notify: %d, %v", sent, err)
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	runtime.ReadMemStats(&ms1)
	deliveries := float64(b.N) * listeners
	b.ReportMetric(float64(elapsed.Nanoseconds())/deliveries, "ns/delivery")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/deliveries, "allocs/delivery")
}
