package halley_test

import (
	"log/slog"
	"strconv"
	"strings"
	"testing"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/internal/wire/frame"
)

// eventLog is an Observer that hands the events to the test.
type eventLog chan halley.Event

func (e eventLog) Observe(ev halley.Event) { e <- ev }

func (e eventLog) next(t testing.TB) halley.Event {
	t.Helper()
	select {
	case ev := <-e:
		return ev
	case <-testCtx(t).Done():
		t.Fatal("no event")
		return halley.Event{}
	}
}

func TestHub_Stats(t *testing.T) {
	events := make(eventLog, 16)
	h := newHub(t, halley.Config{Observer: events})
	srv := cometServer(t, h)
	c := newChannel(t, h, halley.ChannelOptions{Name: "news", Size: 2})
	newChannel(t, h, halley.ChannelOptions{Name: "last", Kind: halley.KindNewest})

	st := h.Stats()
	if st.Channels["broadcast"] != 1 || st.Channels["newest"] != 1 || st.Published != 0 || st.Connections["sse"] != 0 {
		t.Fatalf("fresh stats %+v", st)
	}

	s := openSSE(t, srv, "channel=news&channel=nope", "")
	session := s.hello(t)
	if ev := events.next(t); ev.Type != halley.EventConnOpened || ev.Transport != halley.TransportSSE || ev.Session != session {
		t.Fatalf("event %+v, want sse opened for session %s", ev, session)
	}
	s.subscribed(t, "news", 0)
	s.expect(t, frame.TypeEnded) // nope
	if err := c.WaitListeners(testCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	st = h.Stats()
	if st.Connections["sse"] != 1 || st.Sessions != 1 || st.Ends["unknown_channel"] != 1 {
		t.Fatalf("stats with a stream: %+v", st)
	}
	before := st.BytesWritten
	write(t, c, "hello")
	epoch := epochOf(t, s.msg(t, "news", 1, "hello").id, "news")
	st = h.Stats()
	if st.Published != 1 || st.Delivered != 1 || st.BytesWritten <= before || st.WriteLatency.Count != 1 {
		t.Fatalf("stats after one message: %+v", st)
	}
	if n := st.WriteLatency.Counts[len(st.WriteLatency.Counts)-1]; n != 1 {
		t.Fatalf("latency counts %v: the last bucket is cumulative", st.WriteLatency.Counts)
	}
	s.close()
	if ev := events.next(t); ev.Type != halley.EventConnClosed || ev.Session != session {
		t.Fatalf("event %+v, want sse closed", ev)
	}
	if n := h.Stats().Connections["sse"]; n != 0 {
		t.Fatalf("%d sse connections after the close", n)
	}

	// A reader that fell off the ring gets a gap, counted.
	for i := 2; i <= 5; i++ {
		write(t, c, "m"+strconv.Itoa(i))
	}
	s = openSSE(t, srv, "channel=news", entry("news", 1, epoch))
	s.hello(t)
	events.next(t)
	s.expect(t, frame.TypeGap)
	if g := h.Stats().Gaps; g["channel_full"] != 1 || g["unknown_position"] != 0 {
		t.Fatalf("gaps %v, want one", g)
	}
	s.close()
	events.next(t)
}

func TestHub_RefusalsLogged(t *testing.T) {
	var buf syncBuffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	h := newHub(t, halley.Config{Logger: log})
	srv := cometServer(t, h)
	// Many refusals of one reason in a burst: counted each, logged at
	// most once a second (the burst may straddle a second: two lines).
	for range 20 {
		sseRefused(t, sseGet(t, srv, "", ""), 400, "bad_request")
	}
	if n := h.Refusals()["bad_request"]; n != 20 {
		t.Fatalf("%d bad_request refusals counted, want 20", n)
	}
	lines := strings.Count(buf.String(), "msg=\"halley: refused\" reason=bad_request")
	if lines < 1 || lines > 2 {
		t.Fatalf("%d log lines for 20 refusals:\n%s", lines, buf.String())
	}
}
