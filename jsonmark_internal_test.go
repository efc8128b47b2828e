package halley

import (
	"bytes"
	"context"
	"testing"

	"github.com/halleyhq/halley/internal/jsonmark"
	"github.com/halleyhq/halley/internal/wire/frame"
)

// TestJSONMark: a message the API marked as JSON (package jsonmark) is
// stored as known JSON only when the write carries those very bytes
// under the marking context, the mark is gone after the write, and its
// frame is the one the hub writes when it checks the message itself.
func TestJSONMark(t *testing.T) {
	h, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Shutdown(context.Background())
	c, err := h.NewChannel(context.Background(), ChannelOptions{Name: "news", Size: 8})
	if err != nil {
		t.Fatal(err)
	}
	ctx, flush := h.DeferWrites(context.Background())
	defer flush()
	d := h.deferredOf(ctx)
	stored := func(off uint64) *message { return ringMessage(t, c, off) }
	data := []byte(`{"title":"hello"}`)
	for _, tc := range []struct {
		name     string
		mark     []byte
		ctx      context.Context
		write    []byte
		wantJSON bool
	}{
		{"marked", data, ctx, data, true},
		{"a copy of the marked bytes", data, ctx, bytes.Clone(data), false},
		{"a part of them", data, ctx, data[:5], false},
		{"not marked", nil, ctx, data, false},
		{"marked under another context", data, context.Background(), data, false},
	} {
		if tc.mark != nil {
			jsonmark.Mark(tc.ctx, tc.mark)
		}
		out, err := c.Write(ctx, tc.write)
		if err != nil {
			t.Fatal(err)
		}
		flush()
		if m := stored(out.Offset); m.json != tc.wantJSON {
			t.Errorf("%s: stored as JSON %v, want %v", tc.name, m.json, tc.wantJSON)
		}
		if d.json != nil {
			t.Fatalf("%s: the mark outlives the write", tc.name)
		}
	}
	// A marked message's frame is the one made when it is checked.
	m := stored(1)
	n := frame.NewName("news")
	if got, want := m.frameOf(n), frame.AppendMsg(nil, "news", 1, data); !bytes.Equal(got, want) {
		t.Fatalf("frame of the marked message %s, want %s", got, want)
	}
}
