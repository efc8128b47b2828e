package redis_test

import (
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/halleyhq/halley/broker"
	"github.com/halleyhq/halley/internal/redistest"
)

// counter is a broker.Handler that only counts.
type counter struct{ msgs atomic.Int64 }

func (c *counter) HandleMessage(broker.Message) int { c.msgs.Add(1); return 1 }
func (c *counter) HandleBroadcast(string, []byte)   {}
func (c *counter) wait(b *testing.B, n int64, d time.Duration) {
	deadline := time.Now().Add(d)
	for c.msgs.Load() < n && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
}

// commandStats returns the calls of each command so far.
func commandStats(b *testing.B, srv *redistest.Server) map[string]int64 {
	out := map[string]int64{}
	for _, line := range strings.Split(srv.MustDo("INFO", "commandstats"), "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":calls=")
		if !ok {
			continue
		}
		calls, _, _ := strings.Cut(rest, ",")
		n, _ := strconv.ParseInt(calls, 10, 64)
		out[strings.TrimPrefix(name, "cmdstat_")] = n
	}
	return out
}

// BenchmarkPublish publishes 100-byte messages on one stream that the node
// subscribed to (history of 1000), from one goroutine and from four, and
// reports the Redis commands each publication cost (evalsha/op: the one
// script call, one round trip; script_cmds/op: what the script runs
// inside Redis; other_cmds/op: anything else a client sent) and publishes
// per second.
func BenchmarkPublish(b *testing.B) {
	srv := redistest.Start(b, redistest.Options{})
	for _, publishers := range []int{1, 4} {
		b.Run("publishers="+strconv.Itoa(publishers), func(b *testing.B) {
			br := newBroker(b, options(b, srv))
			h := new(counter)
			if err := br.Start(b.Context(), h); err != nil {
				b.Fatal(err)
			}
			subscribe(b, br, "bench")
			data := []byte(strings.Repeat("x", 100))
			opts := broker.PublishOptions{HistorySize: 1000}
			// Load the script before counting.
			if _, err := br.Publish(b.Context(), "bench", data, opts); err != nil {
				b.Fatal(err)
			}
			before := commandStats(b, srv)
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for range publishers {
				wg.Go(func() {
					for next.Add(1) <= int64(b.N) {
						if _, err := br.Publish(b.Context(), "bench", data, opts); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			after := commandStats(b, srv)
			// Redis counts the commands a script runs as well: those are
			// in script_cmds, what a client sent besides EVALSHA in
			// other_cmds (INFO and PING aside).
			var evalsha, inScript, other int64
			for name, n := range after {
				d := n - before[name]
				switch name {
				case "evalsha":
					evalsha = d
				case "hmget", "hincrby", "rpush", "lpop", "hset", "publish", "del":
					inScript += d
				case "info", "ping":
				default:
					other += d
				}
			}
			b.ReportMetric(float64(evalsha)/float64(b.N), "evalsha/op")
			b.ReportMetric(float64(inScript)/float64(b.N), "script_cmds/op")
			b.ReportMetric(float64(other)/float64(b.N), "other_cmds/op")
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "publishes/s")
			h.wait(b, int64(b.N)+1, 10*time.Second)
			if got := h.msgs.Load(); got != int64(b.N)+1 {
				b.Errorf("delivered %d; want %d", got, b.N+1)
			}
		})
	}
}
