package halley

import (
	"bytes"
	"testing"
)

func TestSSEIDOf(t *testing.T) {
	m := &message{offset: 42, epoch: "Xk3q", data: []byte(`{"title":"hello"}`)}
	want := "id: chat%3Aroom:42:Xk3q\ndata: {\"type\":\"msg\",\"channel\":\"chat:room\",\"offset\":42,\"json\":{\"title\":\"hello\"}}\n\n"
	event := string(m.sseIDOf("chat:room")) + string(m.frameOf("chat:room")) + string(sseEnd)
	if event != want {
		t.Fatalf("event %q, want %q", event, want)
	}
	first := m.sseIDOf("chat:room")
	if allocs := testing.AllocsPerRun(100, func() { _ = m.sseIDOf("chat:room") }); allocs != 0 {
		t.Fatalf("%v allocations per cached event head", allocs)
	}
	if again := m.sseIDOf("chat:room"); &again[0] != &first[0] {
		t.Fatal("the event head is encoded again")
	}
}

// TestMessage_OneCopyPerFormat checks that an SSE reader does not keep a
// second copy of the frame: the head it caches is small whatever the
// payload.
func TestMessage_OneCopyPerFormat(t *testing.T) {
	m := &message{offset: 1, epoch: "e", data: bytes.Repeat([]byte("x"), 64<<10)}
	if head := m.sseIDOf("news"); len(head) > 64 {
		t.Fatalf("the SSE head of a message is %d bytes: it holds the payload again", len(head))
	}
	if f := m.frameOf("news"); len(f) > len(m.data)+64 {
		t.Fatalf("frame of %d bytes for %d of payload", len(f), len(m.data))
	}
}

// BenchmarkSSEEvent measures the cached path of a one-channel stream's
// event head: one atomic load, no allocation.
func BenchmarkSSEEvent(b *testing.B) {
	m := &message{offset: 42, epoch: "Xk3q9vQp2mRt8wYz1aBcDe", data: []byte(`{"title":"hello"}`)}
	m.sseIDOf("news")
	b.ReportAllocs()
	var n int
	for b.Loop() {
		n += len(m.sseIDOf("news"))
	}
	if n == 0 {
		b.Fatal("empty event")
	}
}
