package halley

import (
	"bytes"
	"testing"
	"unsafe"
)

const wantEvent = "id: chat%3Aroom:42:Xk3q\ndata: {\"type\":\"msg\",\"channel\":\"chat:room\",\"offset\":42,\"json\":{\"title\":\"hello\"}}\n\n"

// TestSSEEventOf checks the event of a message that SSE encodes first:
// whole, cached, and its data line the message's frame.
func TestSSEEventOf(t *testing.T) {
	m := &message{offset: 42, epoch: "Xk3q", data: []byte(`{"title":"hello"}`)}
	first, whole := m.sseEventOf("chat:room")
	if !whole || string(first) != wantEvent {
		t.Fatalf("event %q (whole %v), want %q whole", first, whole, wantEvent)
	}
	if allocs := testing.AllocsPerRun(100, func() { _, _ = m.sseEventOf("chat:room") }); allocs != 0 {
		t.Fatalf("%v allocations per cached event", allocs)
	}
	if again, _ := m.sseEventOf("chat:room"); &again[0] != &first[0] {
		t.Fatal("the event is encoded again")
	}
	f := m.frameOf("chat:room")
	if !within(f, first) {
		t.Fatal("the frame is a second copy, not the event's data line")
	}
	if want := wantEvent[len("id: chat%3Aroom:42:Xk3q\ndata: ") : len(wantEvent)-2]; string(f) != want {
		t.Fatalf("frame %q, want %q", f, want)
	}
}

// TestSSEEventOf_FrameFirst checks the event of a message whose frame was
// made first (by another transport): only the head is cached, the frame
// completes it.
func TestSSEEventOf_FrameFirst(t *testing.T) {
	m := &message{offset: 42, epoch: "Xk3q", data: []byte(`{"title":"hello"}`)}
	f := m.frameOf("chat:room")
	head, whole := m.sseEventOf("chat:room")
	if whole {
		t.Fatal("a whole event beside an existing frame")
	}
	if event := string(head) + string(f) + string(sseEnd); event != wantEvent {
		t.Fatalf("event %q, want %q", event, wantEvent)
	}
}

// within reports whether b lies in the memory of outer.
func within(b, outer []byte) bool {
	p, q := uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(unsafe.Pointer(unsafe.SliceData(outer)))
	return p >= q && p+uintptr(len(b)) <= q+uintptr(len(outer))
}

// TestMessage_OneCopyPerFormat checks that a message keeps one copy of
// its payload's frame whichever transport encodes it first.
func TestMessage_OneCopyPerFormat(t *testing.T) {
	data := bytes.Repeat([]byte("x"), 64<<10)
	m := &message{offset: 1, epoch: "e", data: data}
	ev, _ := m.sseEventOf("news")
	if f := m.frameOf("news"); !within(f, ev) {
		t.Fatal("SSE first: the frame is a second copy of the payload")
	}
	m = &message{offset: 1, epoch: "e", data: data}
	f := m.frameOf("news")
	if head, _ := m.sseEventOf("news"); len(head) > 64 {
		t.Fatalf("frame first: the SSE head is %d bytes: it holds the payload again", len(head))
	}
	if len(f) > len(data)+64 {
		t.Fatalf("frame of %d bytes for %d of payload", len(f), len(data))
	}
}

// BenchmarkSSEEvent measures the cached path of a one-channel stream's
// event: one atomic load, no allocation.
func BenchmarkSSEEvent(b *testing.B) {
	m := &message{offset: 42, epoch: "Xk3q9vQp2mRt8wYz1aBcDe", data: []byte(`{"title":"hello"}`)}
	m.sseEventOf("news")
	b.ReportAllocs()
	var n int
	for b.Loop() {
		ev, _ := m.sseEventOf("news")
		n += len(ev)
	}
	if n == 0 {
		b.Fatal("empty event")
	}
}
