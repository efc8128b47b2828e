package halley

import (
	"testing"
)

func TestSSEEventOf(t *testing.T) {
	m := &message{offset: 42, epoch: "Xk3q", data: []byte(`{"title":"hello"}`)}
	want := "id: chat%3Aroom:42:Xk3q\ndata: {\"type\":\"msg\",\"channel\":\"chat:room\",\"offset\":42,\"json\":{\"title\":\"hello\"}}\n\n"
	if got := string(m.sseEventOf("chat:room")); got != want {
		t.Fatalf("event %q, want %q", got, want)
	}
	first := m.sseEventOf("chat:room")
	if allocs := testing.AllocsPerRun(100, func() { _ = m.sseEventOf("chat:room") }); allocs != 0 {
		t.Fatalf("%v allocations per cached event", allocs)
	}
	if again := m.sseEventOf("chat:room"); &again[0] != &first[0] {
		t.Fatal("the event is encoded again")
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
		n += len(m.sseEventOf("news"))
	}
	if n == 0 {
		b.Fatal("empty event")
	}
}
