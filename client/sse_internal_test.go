package client

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/halleyhq/halley/internal/wire/frame"
)

// TestStreamSSE feeds a stream of every kind of msg frame, laid out as
// the server does or otherwise, through the SSE reader, and checks the
// events and positions: payloads are the application's own, though the
// reader reuses its buffers, and ids are read while some epoch is
// unknown.
func TestStreamSSE(t *testing.T) {
	const a, b = "ch/a", "tab\tb\"é"
	bin := []byte{0, 1, 2, 0xff, 0xfe}
	var s bytes.Buffer
	event := func(id string, frames ...[]byte) {
		if id != "" {
			s.WriteString("id: " + id + "\n")
		}
		for _, f := range frames {
			s.WriteString("data: ")
			s.Write(f)
			s.WriteString("\n")
		}
		s.WriteString("\n")
	}
	entry := func(ch string, off uint64, epoch string) string {
		return string(frame.AppendEntry(nil, ch, off, epoch))
	}
	s.WriteString(": a heartbeat\n\n")
	// a starts with no epoch (no message yet), b with one.
	event(entry(a, 0, ""), frame.AppendSubscribed(nil, a, "broadcast", 0, ""))
	event(entry(a, 0, "")+","+entry(b, 5, "Eb"), frame.AppendSubscribed(nil, b, "broadcast", 5, "Eb"))
	event(entry(a, 1, "Ea")+","+entry(b, 5, "Eb"), frame.AppendMsg(nil, a, 1, []byte(`{"n":1}`)))
	event(entry(a, 2, "Ea")+","+entry(b, 5, "Eb"), frame.AppendMsg(nil, a, 2, []byte("text \"quoted\"\n")))
	// Two frames in one event, one of them laid out otherwise.
	event(entry(a, 3, "Ea")+","+entry(b, 6, "Eb"),
		frame.AppendMsg(nil, a, 3, bin),
		[]byte(`{"offset":6,"type":"msg","channel":"tab\tb\"\u00e9","data":"other layout"}`))
	// Repeats are dropped.
	event(entry(a, 3, "Ea")+","+entry(b, 6, "Eb"), frame.AppendMsg(nil, a, 2, []byte("again")))
	event("", frame.AppendMsg(nil, b, 7, []byte("plain")))
	// A long line, over the reader's buffer.
	long := bytes.Repeat([]byte("x"), 100<<10)
	event(entry(a, 4, "Ea")+","+entry(b, 7, "Eb"), frame.AppendMsg(nil, a, 4, long))

	c := New("http://127.0.0.1:1", Options{Logger: slog.New(slog.DiscardHandler)})
	c.Subscribe(a, From{})
	c.Subscribe(b, From{})
	p := c.plan()
	_, err := c.streamSSE(context.Background(), &p, strings.NewReader(s.String()))
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("streamSSE: %v, want an unexpected EOF", err)
	}
	want := []Event{
		{Type: EventSubscribed, Channel: a},
		{Type: EventSubscribed, Channel: b, Offset: 5, Epoch: "Eb"},
		{Type: EventMsg, Channel: a, Offset: 1, Data: []byte(`{"n":1}`)},
		{Type: EventMsg, Channel: a, Offset: 2, Epoch: "Ea", Data: []byte("text \"quoted\"\n")},
		{Type: EventMsg, Channel: a, Offset: 3, Epoch: "Ea", Data: bin},
		{Type: EventMsg, Channel: b, Offset: 6, Epoch: "Eb", Data: []byte("other layout")},
		{Type: EventMsg, Channel: b, Offset: 7, Epoch: "Eb", Data: []byte("plain")},
		{Type: EventMsg, Channel: a, Offset: 4, Epoch: "Ea", Data: long},
	}
	for i, w := range want {
		select {
		case ev := <-c.Events():
			if ev.Type != w.Type || ev.Channel != w.Channel || ev.Offset != w.Offset || ev.Epoch != w.Epoch || !bytes.Equal(ev.Data, w.Data) {
				t.Errorf("event %d = %+v, want %+v", i, ev, w)
			}
		default:
			t.Fatalf("event %d missing, want %+v", i, w)
		}
	}
	select {
	case ev := <-c.Events():
		t.Errorf("extra event %+v", ev)
	default:
	}
	if got := c.Positions(); len(got) != 2 || got[a] != (Position{Offset: 4, Epoch: "Ea"}) || got[b] != (Position{Offset: 7, Epoch: "Eb"}) {
		t.Errorf("positions %v, want a at 4 of Ea, b at 7 of Eb", got)
	}
	if c.epochless.Load() {
		t.Error("epochless after every epoch is known")
	}
}
