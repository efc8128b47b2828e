package halley_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/halleyhq/halley"
)

// TestWriteCounts: a stream that resumes with a backlog writes its first
// batch at once; each later write is counted too, at once or gathered.
func TestWriteCounts(t *testing.T) {
	h := newHub(t, halley.Config{WriteDelay: time.Millisecond})
	srv := cometServer(t, h)
	c := newChannel(t, h, halley.ChannelOptions{Name: "news"})
	const n = 200
	for i := 1; i <= n; i++ {
		write(t, c, fmt.Sprint(i))
	}
	if wc := h.WriteCounts(); wc != (halley.WriteCounts{}) {
		t.Fatalf("WriteCounts before any stream = %+v, want zeros", wc)
	}
	s := openSSE(t, srv, "channel=news&last=200", "")
	s.hello(t)
	s.subscribed(t, "news", 0)
	for i := 1; i <= n; i++ {
		s.msg(t, "news", uint64(i), fmt.Sprint(i))
	}
	// A pull takes at most 64 messages of a channel: 64 at once, then
	// 64, 64 and 8 (4 writes), or, when the stream waited for the delay
	// after its first write, 128 gathered and 8 (3 writes).
	wc := h.WriteCounts()
	if sum := wc.AtOnce + wc.Gathered; wc.AtOnce < 1 || sum < 3 || sum > 4 {
		t.Errorf("WriteCounts = %+v, want the first write at once and 3 or 4 writes in all", wc)
	}
}
