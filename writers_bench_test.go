//go:build unix

package halley

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/halleyhq/halley/internal/sockio"
)

// BenchmarkPoolPublish measures the SSE fan-out through the hub's writers
// in process: one message written to a broadcast channel read by n parked
// streams, each of which a writer wakes, pulls and writes to its socket
// (here /dev/null, so that the kernel's loopback delivery is left out).
// It reports the cost per delivery, one message at a time (nothing to
// gather): the hub's own share of a delivery, beside the write system
// calls (on Linux two here: a send, which /dev/null refuses as not a
// socket, then a write).
func BenchmarkPoolPublish(b *testing.B) {
	for _, n := range []int{1, 100, 10000, 20000} {
		b.Run(fmt.Sprintf("streams=%d", n), func(b *testing.B) { benchPool(b, n) })
	}
}

func benchPool(b *testing.B, n int) {
	h, err := New(Config{Heartbeat: time.Hour, MaxSessions: -1})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	c, err := h.NewChannel(ctx, ChannelOptions{Name: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer devnull.Close()
	rc, err := devnull.SyscallConn()
	if err != nil {
		b.Fatal(err)
	}
	owners := make(chan struct{}, n)
	for range n {
		s, err := h.NewSession()
		if err != nil {
			b.Fatal(err)
		}
		st := h.newStream(s, &Grant{})
		sc := &sseConn{h: h, s: s, st: st, pooled: true}
		sc.out, sc.sock = fileSink{devnull}, &rawSock{fd: sockio.FD(rc)}
		sc.pace = newPacer(h.cfg.WriteDelay, &h.writes)
		sc.onEnd = func() { // at the hub's shutdown
			st.close()
			owners <- struct{}{}
		}
		sc.slot = poolSlot{p: &h.pool, s: sc}
		st.w.pooled = &sc.slot
		st.watch(h.control.killGen.Load())
		st.subscribeAll(nil, []string{"bench"}, nil, 0)
		sc.track(st)
		sc.slot.ps.Store(psParked) // as its owner leaves it
	}
	payload := []byte(`{"tick":12345,"text":"hello, world"}`)
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	want := h.stats.delivered.Load()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		if o, err := c.Write(ctx, payload); err != nil || o.Delivered != n {
			b.Fatalf("write: %+v, %v", o, err)
		}
		want += uint64(n)
		for h.stats.delivered.Load() < want {
			runtime.Gosched()
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	runtime.ReadMemStats(&ms1)
	deliveries := float64(b.N) * float64(n)
	b.ReportMetric(float64(elapsed.Nanoseconds())/deliveries, "ns/delivery")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/deliveries, "allocs/delivery")
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := h.Shutdown(sctx); err != nil {
		b.Fatal(err)
	}
	for range n {
		<-owners
	}
}

// fileSink writes an SSE stream to a file.
type fileSink struct{ f *os.File }

func (s fileSink) Write(b []byte) (int, error)    { return s.f.Write(b) }
func (fileSink) Flush() error                     { return nil }
func (fileSink) SetWriteDeadline(time.Time) error { return nil }
