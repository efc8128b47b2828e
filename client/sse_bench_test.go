package client

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/halleyhq/halley/internal/wire/frame"
)

// sseBenchChannel and sseBenchEpoch are the channel and epoch of the
// canned streams: a channel id and an epoch as the server makes them.
const (
	sseBenchChannel = "bench-7f3a9c"
	sseBenchEpoch   = "Zk3q9XbT2mQvL8rWc1yA0g"
	// sseBenchFirst is the first offset: every offset of a stream has as
	// many digits, so the canned events can be renumbered in place.
	sseBenchFirst = 1_000_000_000
	// sseBenchBlock is the number of events of a canned block.
	sseBenchBlock = 256
)

// sseBenchPayload is a payload like halley bench's: a JSON object of 100
// bytes.
var sseBenchPayload = []byte(`{"seq":123456,"t":1767225600123456789,"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}`)

// cannedSSE is an endless SSE stream of one channel, as the server sends
// it to a client of that one channel: a subscribed event, then msg events
// whose id is the channel's position. It renumbers a block of canned
// events for each pass, so that producing the stream costs next to
// nothing.
type cannedSSE struct {
	block []byte
	// digits holds the index in block of every offset (two per event: in
	// the id and in the frame).
	digits [][2]int
	next   uint64 // offset of the block's first event
	buf    []byte // what is left to read
}

func newCannedSSE(payload []byte) *cannedSSE {
	s := &cannedSSE{next: sseBenchFirst + 1}
	var head []byte
	head = append(head, "id: "...)
	head = frame.AppendEntry(head, sseBenchChannel, sseBenchFirst, sseBenchEpoch)
	head = append(head, "\ndata: "...)
	head = frame.AppendSubscribed(head, sseBenchChannel, "broadcast", sseBenchFirst, sseBenchEpoch)
	head = append(head, "\n\n"...)
	for i := range sseBenchBlock {
		off := uint64(sseBenchFirst + 1 + i)
		s.block = append(s.block, "id: "...)
		a := len(s.block) + len(sseBenchChannel) + 1
		s.block = frame.AppendEntry(s.block, sseBenchChannel, off, sseBenchEpoch)
		s.block = append(s.block, "\ndata: "...)
		f := frame.AppendMsg(nil, sseBenchChannel, off, payload)
		b := len(s.block) + len(`{"type":"msg","channel":`) + len(sseBenchChannel) + 2 + len(`,"offset":`)
		s.block = append(s.block, f...)
		s.block = append(s.block, "\n\n"...)
		s.digits = append(s.digits, [2]int{a, b})
	}
	s.buf = head
	return s
}

func (s *cannedSSE) Read(p []byte) (int, error) {
	if len(s.buf) == 0 {
		for i, d := range s.digits {
			off := s.next + uint64(i)
			for j := 9; j >= 0; j-- {
				s.block[d[0]+j] = byte('0' + off%10)
				s.block[d[1]+j] = byte('0' + off%10)
				off /= 10
			}
		}
		s.next += sseBenchBlock
		s.buf = s.block
	}
	n := copy(p, s.buf)
	s.buf = s.buf[n:]
	return n, nil
}

func TestCannedSSE(t *testing.T) {
	s := newCannedSSE(sseBenchPayload)
	r := newSSEReader(io.LimitReader(s, 1<<20))
	for i := range 3 * sseBenchBlock {
		data, id, err := r.next()
		if err != nil {
			t.Fatal(err)
		}
		f, err := frame.Decode(data)
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		want := uint64(sseBenchFirst + i)
		cur, err := frame.ParseCursor(string(id))
		if err != nil || f.Offset == nil || *f.Offset != want || cur[sseBenchChannel] != (Position{Offset: want, Epoch: sseBenchEpoch}) {
			t.Fatalf("event %d: %+v, id %q, want offset %d", i, f, id, want)
		}
		if i > 0 && string(f.Data()) != string(sseBenchPayload) {
			t.Fatalf("event %d: data %q", i, f.Data())
		}
	}
}

// BenchmarkSSEReceive measures the client's cost per event of an SSE
// stream: parsing the stream, decoding its frames and handing the events
// over to an application goroutine that reads Events. One op is one
// event; cpu-ns/op is the CPU time of the whole process (both goroutines,
// and the garbage collector) per event, which is what a load tool sharing
// its cores with a server cares about.
func BenchmarkSSEReceive(b *testing.B) {
	for _, bc := range []struct {
		name    string
		payload []byte
	}{
		{"json", sseBenchPayload},
		{"text", []byte(`plain text, with "quotes" and a tab	and an é: a text payload of about a hundred bytes.`)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c := New("http://127.0.0.1:1", Options{Logger: slog.New(slog.DiscardHandler)})
			c.Subscribe(sseBenchChannel, From{})
			p := c.plan()
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			// One subscribed event before the msg events.
			n := b.N + 1
			go func() {
				_, err := c.streamSSE(ctx, &p, newCannedSSE(bc.payload))
				done <- err
			}()
			b.ReportAllocs()
			b.ResetTimer()
			cpu := cpuTime()
			for i := range n {
				ev := <-c.Events()
				if i == 0 {
					continue
				}
				if ev.Type != EventMsg || ev.Offset != uint64(sseBenchFirst+i) || len(ev.Data) != len(bc.payload) {
					b.Fatalf("event %d: %+v", i, ev)
				}
			}
			b.StopTimer()
			if cpu > 0 {
				b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
			}
			cancel()
			if err := <-done; err == nil {
				b.Fatal("streamSSE returned nil")
			}
			// The stream may have handed over more events meanwhile.
			if pos := c.Positions()[sseBenchChannel]; pos.Epoch != sseBenchEpoch || pos.Offset < uint64(sseBenchFirst+b.N) {
				b.Fatalf("position %+v after %d events", pos, b.N)
			}
		})
	}
}
