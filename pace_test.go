package halley_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/halleyhq/halley"
)

// TestWriteCounts: a stream that resumes with a backlog writes its first
// batch at once, then is behind (it finds more right after each write)
// and gathers the rest.
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
	// 64 found right after that write, gathered with 64 more, then the
	// last 8, gathered with nothing more.
	wc := h.WriteCounts()
	if wc.AtOnce != 1 || wc.Gathered != 2 {
		t.Errorf("WriteCounts = %+v, want 1 at once and 2 gathered", wc)
	}
}
