package halley

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"
)

// TestWSBatch_NoAllocsPerMessage checks that building a batch copies the
// messages' shared frames into the connection's buffer without allocating.
func TestWSBatch_NoAllocsPerMessage(t *testing.T) {
	const n = 64
	h, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	defer func() {
		if err := h.Shutdown(ctx); err != nil {
			t.Error(err)
		}
	}()
	c, err := h.NewChannel(ctx, ChannelOptions{Name: "news"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, err := c.Write(ctx, fmt.Appendf(nil, `{"n":%d}`, i)); err != nil {
			t.Fatal(err)
		}
	}

	st := h.newStream(nil, &Grant{})
	defer st.close()
	ws := &wsConn{h: h, st: st}
	var zero uint64
	ws.grab()
	ws.buf = st.subscribe(ws.buf, "news", start{after: &zero}, true)
	ws.batch() // sizes the buffers and makes the shared frames
	if got := bytes.Count(ws.buf[wsHead:], []byte{'\n'}); got != n {
		t.Fatalf("batch of %d frames, want %d", got, n)
	}
	if raceEnabled {
		t.Skip("allocations through sync.Pool are not counted under the race detector (it drops pooled items at random)")
	}
	allocs := testing.AllocsPerRun(100, func() {
		st.subs[0].after = 0
		ws.buf = ws.buf[:wsHead]
		ws.batch()
	})
	if allocs != 0 {
		t.Errorf("a batch of %d messages makes %v allocations, want 0", n, allocs)
	}
	if got := bytes.Count(ws.buf[wsHead:], []byte{'\n'}); got != n {
		t.Fatalf("batch of %d frames, want %d", got, n)
	}
}
