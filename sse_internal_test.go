package halley

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
	"unsafe"

	"github.com/halleyhq/halley/internal/wire/frame"
)

// chatRoom and news are the frame.Names of the channels of these tests.
var chatRoom, news = frame.NewName("chat:room"), frame.NewName("news")

const wantEvent = "id: chat%3Aroom:42:Xk3q\ndata: {\"type\":\"msg\",\"channel\":\"chat:room\",\"offset\":42,\"json\":{\"title\":\"hello\"}}\n\n"

// TestSSEEventOf checks the event of a message that SSE encodes first:
// whole, cached, and its data line the message's frame.
func TestSSEEventOf(t *testing.T) {
	m := &message{offset: 42, epoch: "Xk3q", data: []byte(`{"title":"hello"}`)}
	first, whole := m.sseEventOf(chatRoom)
	if !whole || string(first) != wantEvent {
		t.Fatalf("event %q (whole %v), want %q whole", first, whole, wantEvent)
	}
	if allocs := testing.AllocsPerRun(100, func() { _, _ = m.sseEventOf(chatRoom) }); allocs != 0 {
		t.Fatalf("%v allocations per cached event", allocs)
	}
	if again, _ := m.sseEventOf(chatRoom); &again[0] != &first[0] {
		t.Fatal("the event is encoded again")
	}
	f := m.frameOf(chatRoom)
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
	f := m.frameOf(chatRoom)
	head, whole := m.sseEventOf(chatRoom)
	if whole {
		t.Fatal("a whole event beside an existing frame")
	}
	if event := string(head) + string(f) + string(sseEnd); event != wantEvent {
		t.Fatalf("event %q, want %q", event, wantEvent)
	}
}

// TestAppendSoloEvent checks the event a stream writes into its own
// buffer for a message no other connection reads: the bytes of the shared
// event, nothing made on the message, no allocation in a buffer with
// room; beside a frame another transport made, that frame is used.
func TestAppendSoloEvent(t *testing.T) {
	m := &message{offset: 42, epoch: "Xk3q", data: []byte(`{"title":"hello"}`), solo: true}
	buf := make([]byte, 0, 512)
	if got := string(appendSoloEvent(buf, m, chatRoom)); got != wantEvent {
		t.Fatalf("event %q, want %q", got, wantEvent)
	}
	if m.shared.Load() != nil {
		t.Fatal("the solo event made a shared encoding")
	}
	if allocs := testing.AllocsPerRun(100, func() { buf = appendSoloEvent(buf[:0], m, chatRoom) }); allocs != 0 {
		t.Fatalf("%v allocations per solo event", allocs)
	}
	f := m.frameOf(chatRoom)
	ev := appendSoloEvent(buf[:0], m, chatRoom)
	if string(ev) != wantEvent {
		t.Fatalf("event beside a frame %q, want %q", ev, wantEvent)
	}
	if &m.frameOf(chatRoom)[0] != &f[0] {
		t.Fatal("the frame was made again")
	}
}

// TestAppendItems_Solo: WebSocket and long-poll lines hold the same frame
// whether the message is solo (encoded in the line, nothing made on the
// message) or read by more connections (its shared frame).
func TestAppendItems_Solo(t *testing.T) {
	sub := &streamSub{name: "chat:room", fname: chatRoom}
	solo := &message{offset: 42, epoch: "Xk3q", data: []byte(`{"title":"hello"}`), solo: true}
	shared := &message{offset: 42, epoch: "Xk3q", data: []byte(`{"title":"hello"}`)}
	want := wantEvent[len("id: chat%3Aroom:42:Xk3q\ndata: "):len(wantEvent)-2] + "\n"
	if got := string(appendItems(nil, []item{{sub: sub, m: solo}})); got != want {
		t.Fatalf("solo line %q, want %q", got, want)
	}
	if solo.shared.Load() != nil {
		t.Error("a solo message's line made its shared frame")
	}
	if got := string(appendItems(nil, []item{{sub: sub, m: shared}})); got != want {
		t.Fatalf("shared line %q, want %q", got, want)
	}
	if shared.frameLoaded() == nil {
		t.Error("a message more connections read has no shared frame")
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
	ev, _ := m.sseEventOf(news)
	if f := m.frameOf(news); !within(f, ev) {
		t.Fatal("SSE first: the frame is a second copy of the payload")
	}
	m = &message{offset: 1, epoch: "e", data: data}
	f := m.frameOf(news)
	if head, _ := m.sseEventOf(news); len(head) > 64 {
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
	m.sseEventOf(news)
	b.ReportAllocs()
	var n int
	for b.Loop() {
		ev, _ := m.sseEventOf(news)
		n += len(ev)
	}
	if n == 0 {
		b.Fatal("empty event")
	}
}

// TestSSE_SoloEvent: a message that one SSE stream reads is written from
// the stream's own buffer, nothing shared made on the message; once two
// streams read the channel, the event is made once and shared. The wire
// has the same shape both ways.
func TestSSE_SoloEvent(t *testing.T) {
	h, srv := hubServer(t, Config{}, (*Hub).SSEHandler)
	ch, err := h.NewChannel(t.Context(), ChannelOptions{Name: "news"})
	if err != nil {
		t.Fatal(err)
	}
	open := func() *bufio.Reader {
		res, err := srv.Client().Get(srv.URL + "/sse?channel=news")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { res.Body.Close() })
		r := bufio.NewReader(res.Body)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(line, `"type":"subscribed"`) {
				return r
			}
		}
	}
	// event returns the next message event: its id and data lines.
	event := func(r *bufio.Reader) string {
		var id string
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(line, "id: ") {
				id = line
			} else if strings.HasPrefix(line, "data: ") && id != "" {
				return id + line
			}
		}
	}
	stored := func(off uint64) *message { return ringMessage(t, ch, off) }
	want := func(off uint64, data string) string {
		m := &message{offset: off, epoch: stored(off).epoch, data: []byte(data)}
		ev := string(appendSoloEvent(nil, m, news))
		return ev[:len(ev)-1] // the id and data lines, not the empty line

	}

	a := open()
	if _, err := ch.Write(t.Context(), []byte(`"one"`)); err != nil {
		t.Fatal(err)
	}
	if got := event(a); got != want(1, `"one"`) {
		t.Fatalf("solo event %q, want %q", got, want(1, `"one"`))
	}
	if m := stored(1); m.shared.Load() != nil {
		t.Error("a message one stream reads made a shared encoding")
	}

	b := open()
	if _, err := ch.Write(t.Context(), []byte(`"two"`)); err != nil {
		t.Fatal(err)
	}
	if ga, gb := event(a), event(b); ga != want(2, `"two"`) || gb != ga {
		t.Fatalf("events %q and %q, want %q", ga, gb, want(2, `"two"`))
	}
	if stored(2).sseLoaded() == nil {
		t.Error("a message two streams read has no shared event")
	}
}

// ringMessage returns the message at offset off in c's ring.
func ringMessage(t *testing.T, c *Channel, off uint64) *message {
	t.Helper()
	c.mu.RLock()
	defer c.mu.RUnlock()
	m, ok := c.ring.Get(off)
	if !ok {
		t.Fatalf("no message %d in the ring", off)
	}
	return m
}
