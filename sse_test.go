package halley_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/internal/wire/frame"
)

// sseEvent is one event of an SSE stream, or a comment (heartbeat).
type sseEvent struct {
	id      string
	hasID   bool
	data    string
	retry   string
	comment string
}

// sseClient reads an SSE response event by event.
type sseClient struct {
	resp *http.Response
	r    *bufio.Reader
	raw  strings.Builder // every line read, for golden tests
	// norec leaves raw empty, for streams too large to keep.
	norec bool
}

// sseGet sends GET /sse?query, with a Last-Event-ID header when lastID is
// not empty. The response body is closed when the test ends.
func sseGet(t testing.TB, srv *httptest.Server, query, lastID string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(testCtx(t), http.MethodGet, srv.URL+"/sse?"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("GET /sse?%s: %v", query, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// openSSE opens a stream and checks that it was accepted.
func openSSE(t testing.TB, srv *httptest.Server, query, lastID string) *sseClient {
	t.Helper()
	resp := sseGet(t, srv, query, lastID)
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET /sse?%s: status %d: %s", query, resp.StatusCode, b)
	}
	return &sseClient{resp: resp, r: bufio.NewReader(resp.Body)}
}

func (c *sseClient) close() { c.resp.Body.Close() }

// read returns the next event or comment.
func (c *sseClient) read() (sseEvent, error) {
	var ev sseEvent
	var seen bool
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			return ev, err
		}
		if !c.norec {
			c.raw.WriteString(line)
		}
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			if seen {
				return ev, nil
			}
			continue
		}
		seen = true
		name, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch name {
		case "":
			ev.comment = value
		case "id":
			ev.id, ev.hasID = value, true
		case "data":
			if ev.data != "" {
				ev.data += "\n"
			}
			ev.data += value
		case "retry":
			ev.retry = value
		default:
			return ev, fmt.Errorf("unknown SSE field in %q", line)
		}
	}
}

// next returns the next event, skipping heartbeats, and its frame.
func (c *sseClient) next(t testing.TB) (sseEvent, frame.Frame) {
	t.Helper()
	for {
		ev, err := c.read()
		if err != nil {
			t.Fatalf("reading the stream: %v", err)
		}
		if ev.comment != "" {
			continue
		}
		f, err := frame.Decode([]byte(ev.data))
		if err != nil {
			t.Fatalf("event data %q: %v", ev.data, err)
		}
		return ev, f
	}
}

// expect returns the next frame, which must be of type typ.
func (c *sseClient) expect(t testing.TB, typ string) (sseEvent, frame.Frame) {
	t.Helper()
	ev, f := c.next(t)
	if f.Type != typ {
		t.Fatalf("frame %s, want a %s frame", ev.data, typ)
	}
	return ev, f
}

// hello reads the event that opens every stream and returns the session.
func (c *sseClient) hello(t testing.TB) string {
	t.Helper()
	ev, f := c.expect(t, frame.TypeHello)
	if ev.retry != "2000" || ev.hasID || f.Session == "" || f.Version != frame.Version {
		t.Fatalf("hello event %+v", ev)
	}
	return f.Session
}

// subscribed reads a subscribed frame of channel and returns its epoch.
// Of a stream's opening frames only the last carries the cursor as id;
// when this one does, the cursor must hold the position.
func (c *sseClient) subscribed(t testing.TB, channel string, offset uint64) string {
	t.Helper()
	_, f := c.subscribedEvent(t, channel, offset)
	return f.Epoch
}

func (c *sseClient) subscribedEvent(t testing.TB, channel string, offset uint64) (sseEvent, frame.Frame) {
	t.Helper()
	ev, f := c.expect(t, frame.TypeSubscribed)
	cur, err := frame.ParseCursor(ev.id)
	if f.Channel != channel || f.Offset == nil || *f.Offset != offset || err != nil ||
		ev.hasID && cur[channel] != (frame.Position{Offset: offset, Epoch: f.Epoch}) {
		t.Fatalf("subscribed event %+v, want channel %q after %d", ev, channel, offset)
	}
	return ev, f
}

// epochOf returns the epoch of channel in the cursor of an event id.
func epochOf(t testing.TB, id, channel string) string {
	t.Helper()
	cur, err := frame.ParseCursor(id)
	if err != nil {
		t.Fatalf("event id %q: %v", id, err)
	}
	p, ok := cur[channel]
	if !ok || p.Epoch == "" {
		t.Fatalf("event id %q: no epoch for %q", id, channel)
	}
	return p.Epoch
}

// msg reads a msg frame and checks it.
func (c *sseClient) msg(t testing.TB, channel string, offset uint64, data string) sseEvent {
	t.Helper()
	ev, f := c.expect(t, frame.TypeMsg)
	if f.Channel != channel || f.Offset == nil || *f.Offset != offset || string(f.Data()) != data {
		t.Fatalf("msg event %+v, want %s #%d %q", ev, channel, offset, data)
	}
	return ev
}

// closed reads the close frame and then the end of the stream.
func (c *sseClient) closed(t testing.TB, reason string) {
	t.Helper()
	ev, f := c.expect(t, frame.TypeClose)
	if f.Reason != reason || ev.hasID {
		t.Fatalf("close event %+v, want reason %q", ev, reason)
	}
	if ev, err := c.read(); err != io.EOF {
		t.Fatalf("after the close frame: %+v, %v; want the end of the stream", ev, err)
	}
}

func entry(channel string, offset uint64, epoch string) string {
	return string(frame.AppendEntry(nil, channel, offset, epoch))
}

func TestSSE_Stream(t *testing.T) {
	h := newHub(t, halley.Config{})
	srv := cometServer(t, h)
	c := newChannel(t, h, halley.ChannelOptions{Name: "news"})
	s := openSSE(t, srv, "channel=news", "")
	for k, want := range map[string]string{
		"Content-Type":      "text/event-stream",
		"Cache-Control":     "no-store",
		"X-Accel-Buffering": "no",
	} {
		if got := s.resp.Header.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	session := s.hello(t)
	if got := s.resp.Header.Get(halley.SessionHeader); got != session {
		t.Errorf("%s header %q, hello session %q", halley.SessionHeader, got, session)
	}
	ev, f := s.expect(t, frame.TypeSubscribed)
	if f.Channel != "news" || f.Kind != "broadcast" || *f.Offset != 0 || ev.id != entry("news", 0, f.Epoch) {
		t.Fatalf("subscribed event %+v", ev)
	}
	// A channel without messages yet takes its epoch from the first one.
	epoch := f.Epoch
	if err := c.WaitListeners(testCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	if n := c.Listeners(); n != 1 {
		t.Fatalf("listeners %d, want the stream", n)
	}

	for i, tc := range []struct {
		name, data, field string
	}{
		{"JSON", `{"title":"hello"}`, "json"},
		{"Text", "plain text\nline 2, é", "data"},
		{"Binary", "\xff\x00\x01", "data64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if o := write(t, c, tc.data); o.Delivered != 1 {
				t.Fatalf("outcome %+v, want delivered to the stream", o)
			}
			off := uint64(i + 1)
			ev := s.msg(t, "news", off, tc.data)
			if epoch == "" {
				epoch = epochOf(t, ev.id, "news")
			}
			if ev.id != entry("news", off, epoch) {
				t.Fatalf("id %q, want %q", ev.id, entry("news", off, epoch))
			}
			var fields map[string]json.RawMessage
			if err := json.Unmarshal([]byte(ev.data), &fields); err != nil {
				t.Fatal(err)
			}
			if _, ok := fields[tc.field]; !ok {
				t.Fatalf("frame %s: no %q field", ev.data, tc.field)
			}
		})
	}

	s.close()
	if err := c.WaitListenersExactly(testCtx(t), 0); err != nil {
		t.Fatalf("the closed stream still listens: %v", err)
	}
}

func TestSSE_SessionParam(t *testing.T) {
	h := newHub(t, halley.Config{})
	srv := cometServer(t, h)
	newChannel(t, h, halley.ChannelOptions{Name: "news"})
	session := openSSE(t, srv, "channel=news", "").hello(t)
	s := openSSE(t, srv, "channel=news&session="+url.QueryEscape(session), "")
	if got := s.hello(t); got != session {
		t.Fatalf("hello session %q, want the one named %q", got, session)
	}
	if got := s.resp.Header.Get(halley.SessionHeader); got != "" {
		t.Fatalf("a new session %q was made", got)
	}
}

// TestSSE_Wire pins the bytes of streams of one and of two channels.
func TestSSE_Wire(t *testing.T) {
	h := newHub(t, halley.Config{})
	srv := cometServer(t, h)
	news := newChannel(t, h, halley.ChannelOptions{Name: "news"})
	chat := newChannel(t, h, halley.ChannelOptions{Name: "chat:room"})
	write(t, news, `{"title":"hello"}`)

	t.Run("OneChannel", func(t *testing.T) {
		s := openSSE(t, srv, "channel=news&last=1", "")
		session := s.hello(t)
		epoch := s.subscribed(t, "news", 0)
		s.msg(t, "news", 1, `{"title":"hello"}`)
		write(t, news, "plain text")
		s.msg(t, "news", 2, "plain text")
		got := strings.NewReplacer(session, "SESSION", epoch, "EPOCH").Replace(s.raw.String())
		sseGolden(t, "one-channel.txt", got)
	})
	t.Run("TwoChannels", func(t *testing.T) {
		s := openSSE(t, srv, "channel=news&channel=chat%3Aroom&last=1", "")
		session := s.hello(t)
		ev1, f1 := s.subscribedEvent(t, "news", 1)
		// A channel knows its epoch before its first message.
		ev2, f2 := s.subscribedEvent(t, "chat:room", 0)
		e1, e2 := f1.Epoch, f2.Epoch
		if e2 == "" {
			t.Fatal("no epoch before the first message")
		}
		// Only the last opening event carries the whole cursor.
		if ev1.hasID || ev2.id != entry("news", 1, e1)+","+entry("chat:room", 0, e2) {
			t.Fatalf("opening ids %q (%v), %q: want none, then the whole cursor", ev1.id, ev1.hasID, ev2.id)
		}
		s.msg(t, "news", 2, "plain text")
		write(t, chat, `{"n":1}`)
		if e := epochOf(t, s.msg(t, "chat:room", 1, `{"n":1}`).id, "chat:room"); e != e2 {
			t.Fatalf("epoch changed from %q to %q at the first message", e2, e)
		}
		got := strings.NewReplacer(session, "SESSION", e1, "EPOCH1", e2, "EPOCH2").Replace(s.raw.String())
		sseGolden(t, "two-channels.txt", got)
	})
}

// sseGolden compares got with testdata/sse/name.
func sseGolden(t testing.TB, name, got string) {
	t.Helper()
	want, err := os.ReadFile(filepath.Join("testdata", "sse", name))
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Fatalf("stream differs from testdata/sse/%s:\n got %q\nwant %q", name, got, want)
	}
}

func TestSSE_ResumeLastEventID(t *testing.T) {
	t.Run("OneChannel", func(t *testing.T) {
		h := newHub(t, halley.Config{})
		srv := cometServer(t, h)
		c := newChannel(t, h, halley.ChannelOptions{Name: "news"})
		s := openSSE(t, srv, "channel=news", "")
		s.hello(t)
		s.subscribed(t, "news", 0)
		if err := c.WaitListeners(testCtx(t), 1); err != nil {
			t.Fatal(err)
		}
		// Five messages, likely in one batch: the client reads three.
		for i := 1; i <= 5; i++ {
			write(t, c, "m"+strconv.Itoa(i))
		}
		var last string
		for i := 1; i <= 3; i++ {
			last = s.msg(t, "news", uint64(i), "m"+strconv.Itoa(i)).id
		}
		s.close()
		write(t, c, "m6")
		write(t, c, "m7")

		// EventSource comes back with its URL and the last id it saw.
		s = openSSE(t, srv, "channel=news", last)
		s.hello(t)
		for i := 4; i <= 7; i++ {
			s.msg(t, "news", uint64(i), "m"+strconv.Itoa(i))
		}
		write(t, c, "m8")
		s.msg(t, "news", 8, "m8")
	})

	t.Run("TwoChannels", func(t *testing.T) {
		h := newHub(t, halley.Config{})
		srv := cometServer(t, h)
		a := newChannel(t, h, halley.ChannelOptions{Name: "a"})
		b := newChannel(t, h, halley.ChannelOptions{Name: "b"})
		for i := 1; i <= 3; i++ {
			write(t, a, "a"+strconv.Itoa(i))
			write(t, b, "b"+strconv.Itoa(i))
		}
		// The six messages come in one batch; the client stops in its
		// middle.
		s := openSSE(t, srv, "channel=a&channel=b&last=3", "")
		s.hello(t)
		ea := s.subscribed(t, "a", 0)
		eb := s.subscribed(t, "b", 0)
		got := map[string][]string{}
		var last string
		for len(got["a"]) < 3 || len(got["b"]) < 1 {
			ev, f := s.expect(t, frame.TypeMsg)
			got[f.Channel] = append(got[f.Channel], string(f.Data()))
			last = ev.id
		}
		if len(got["a"]) != 3 || len(got["b"]) != 1 {
			t.Fatalf("first messages %v", got)
		}
		if want := entry("a", 3, ea) + "," + entry("b", 1, eb); last != want {
			t.Fatalf("id %q, want %q: the id must not run ahead of the events", last, want)
		}
		s.close()
		write(t, a, "a4")
		write(t, b, "b4")

		s = openSSE(t, srv, "channel=a&channel=b&last=3", last)
		s.hello(t)
		got = map[string][]string{}
		for len(got["a"]) < 1 || len(got["b"]) < 3 {
			ev, f := s.expect(t, frame.TypeMsg)
			got[f.Channel] = append(got[f.Channel], string(f.Data()))
			last = ev.id
		}
		write(t, a, "a5")
		write(t, b, "b5")
		for !slices.Contains(got["a"], "a5") || !slices.Contains(got["b"], "b5") {
			ev, f := s.expect(t, frame.TypeMsg)
			got[f.Channel] = append(got[f.Channel], string(f.Data()))
			last = ev.id
		}
		want := map[string][]string{"a": {"a4", "a5"}, "b": {"b2", "b3", "b4", "b5"}}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("after resuming: %v, want %v", got, want)
		}
		if want := entry("a", 5, ea) + "," + entry("b", 5, eb); last != want {
			t.Fatalf("last id %q, want %q", last, want)
		}
	})
}

func TestSSE_ResumeCursorQuery(t *testing.T) {
	h := newHub(t, halley.Config{})
	srv := cometServer(t, h)
	c := newChannel(t, h, halley.ChannelOptions{Name: "news"})
	for i := 1; i <= 5; i++ {
		write(t, c, "m"+strconv.Itoa(i))
	}
	s := openSSE(t, srv, "channel=news&last=5", "")
	s.hello(t)
	epoch := s.subscribed(t, "news", 0)
	var last string
	for i := 1; i <= 3; i++ {
		last = s.msg(t, "news", uint64(i), "m"+strconv.Itoa(i)).id
	}
	s.close()
	write(t, c, "m6")

	t.Run("Cursor", func(t *testing.T) {
		// The cursor alone names the channel.
		s := openSSE(t, srv, "cursor="+url.QueryEscape(last), "")
		s.hello(t)
		for i := 4; i <= 6; i++ {
			if ev := s.msg(t, "news", uint64(i), "m"+strconv.Itoa(i)); ev.id != entry("news", uint64(i), epoch) {
				t.Fatalf("id %q", ev.id)
			}
		}
	})
	t.Run("LastEventIDWins", func(t *testing.T) {
		old := entry("news", 1, epoch)
		s := openSSE(t, srv, "channel=news&cursor="+url.QueryEscape(old), last)
		s.hello(t)
		s.msg(t, "news", 4, "m4")
	})
}

func TestSSE_Gap(t *testing.T) {
	h := newHub(t, halley.Config{})
	srv := cometServer(t, h)
	c := newChannel(t, h, halley.ChannelOptions{Name: "news", Size: 3})
	for i := 1; i <= 6; i++ {
		write(t, c, "m"+strconv.Itoa(i))
	}
	s := openSSE(t, srv, "channel=news", "")
	s.hello(t)
	epoch := s.subscribed(t, "news", 6)
	s.close()

	s = openSSE(t, srv, "channel=news", entry("news", 1, epoch))
	s.hello(t)
	ev, f := s.expect(t, frame.TypeGap)
	if f.Channel != "news" || f.Reason != "channel_full" || *f.Offset != 3 || f.Epoch != epoch || ev.id != entry("news", 3, epoch) {
		t.Fatalf("gap event %+v", ev)
	}
	for i := 4; i <= 6; i++ {
		s.msg(t, "news", uint64(i), "m"+strconv.Itoa(i))
	}
}

func TestSSE_UnknownPosition(t *testing.T) {
	h := newHub(t, halley.Config{})
	srv := cometServer(t, h)
	c := newChannel(t, h, halley.ChannelOptions{Name: "news"})
	for i := 1; i <= 3; i++ {
		write(t, c, "m"+strconv.Itoa(i))
	}
	s := openSSE(t, srv, "channel=news", "")
	s.hello(t)
	epoch := s.subscribed(t, "news", 3)
	s.close()
	for _, tc := range []struct{ name, cursor string }{
		{"WrongEpoch", entry("news", 2, "other")},
		{"BeyondTheEnd", entry("news", 9, epoch)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openSSE(t, srv, "cursor="+url.QueryEscape(tc.cursor), "")
			s.hello(t)
			ev, f := s.expect(t, frame.TypeGap)
			if f.Reason != "unknown_position" || *f.Offset != 0 || f.Epoch != epoch || ev.id != entry("news", 0, epoch) {
				t.Fatalf("gap event %+v", ev)
			}
			if ev, _ := s.next(t); ev.data != `{"type":"msg","channel":"news","offset":1,"data":"m1"}` {
				t.Fatalf("after the gap: %+v", ev)
			}
			s.msg(t, "news", 2, "m2")
			s.msg(t, "news", 3, "m3")
		})
	}
}

func TestSSE_Ended(t *testing.T) {
	h := newHub(t, halley.Config{})
	srv := cometServer(t, h)

	t.Run("ChannelEnded", func(t *testing.T) {
		c := newChannel(t, h, halley.ChannelOptions{Name: "news"})
		s := openSSE(t, srv, "channel=news", "")
		s.hello(t)
		s.subscribed(t, "news", 0)
		if err := c.WaitListeners(testCtx(t), 1); err != nil {
			t.Fatal(err)
		}
		write(t, c, "last words")
		if err := c.Close(testCtx(t)); err != nil {
			t.Fatal(err)
		}
		// What was written before the end still comes, then the end;
		// the cursor no longer names the channel.
		s.msg(t, "news", 1, "last words")
		ev, f := s.expect(t, frame.TypeEnded)
		if f.Channel != "news" || f.Reason != "channel_ended" || !ev.hasID || ev.id != "" {
			t.Fatalf("ended event %+v", ev)
		}
		if err := c.WaitListenersExactly(testCtx(t), 0); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("UnknownChannel", func(t *testing.T) {
		live := newChannel(t, h, halley.ChannelOptions{Name: "live"})
		s := openSSE(t, srv, "channel=nope&channel=live", "")
		s.hello(t)
		ev, f := s.expect(t, frame.TypeEnded)
		if f.Channel != "nope" || f.Reason != "unknown_channel" {
			t.Fatalf("ended event %+v", ev)
		}
		sev, sf := s.subscribedEvent(t, "live", 0)
		if ev.hasID || sev.id != entry("live", 0, sf.Epoch) {
			t.Fatalf("ended event id %q, then %q: want the cursor of the live channel on the last opening event", ev.id, sev.id)
		}
		// The stream goes on for the live channel.
		if err := live.WaitListeners(testCtx(t), 1); err != nil {
			t.Fatal(err)
		}
		write(t, live, "still here")
		s.msg(t, "live", 1, "still here")
	})
}

func TestSSE_Deactivate(t *testing.T) {
	h := newHub(t, halley.Config{})
	srv := cometServer(t, h)
	c := newChannel(t, h, halley.ChannelOptions{Name: "news"})
	s := openSSE(t, srv, "channel=news", "")
	s.hello(t)
	s.subscribed(t, "news", 0)
	if err := c.WaitListeners(testCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	h.Deactivate()
	s.closed(t, "deactivated")
	if err := c.WaitListenersExactly(testCtx(t), 0); err != nil {
		t.Fatal(err)
	}
	sseRefused(t, sseGet(t, srv, "channel=news", ""), http.StatusServiceUnavailable, "deactivated")

	h.Activate()
	s = openSSE(t, srv, "channel=news", "")
	s.hello(t)
}

func TestSSE_Shutdown(t *testing.T) {
	h := newHub(t, halley.Config{})
	srv := cometServer(t, h)
	c := newChannel(t, h, halley.ChannelOptions{Name: "news"})
	s := openSSE(t, srv, "channel=news", "")
	s.hello(t)
	s.subscribed(t, "news", 0)
	if err := c.WaitListeners(testCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	if err := h.Shutdown(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	s.closed(t, "shutdown")
	sseRefused(t, sseGet(t, srv, "channel=news", ""), http.StatusServiceUnavailable, "shutdown")
}

func TestSSE_SessionClosed(t *testing.T) {
	h := newHub(t, halley.Config{})
	srv := cometServer(t, h)
	newChannel(t, h, halley.ChannelOptions{Name: "news"})
	s := openSSE(t, srv, "channel=news", "")
	session, ok := h.Session(s.hello(t))
	if !ok {
		t.Fatal("the hello session is not live")
	}
	s.subscribed(t, "news", 0)
	session.Close()
	s.closed(t, "session_closed")
}

func TestSSE_Heartbeat(t *testing.T) {
	h := newHub(t, halley.Config{Heartbeat: time.Millisecond})
	srv := cometServer(t, h)
	newChannel(t, h, halley.ChannelOptions{Name: "news"})
	s := openSSE(t, srv, "channel=news", "")
	s.hello(t)
	s.subscribed(t, "news", 0)
	ev, err := s.read()
	if err != nil {
		t.Fatal(err)
	}
	if ev.comment != "ping" || ev.data != "" || ev.hasID {
		t.Fatalf("event %+v, want a heartbeat comment", ev)
	}
	if !strings.HasSuffix(s.raw.String(), "\n\n: ping\n\n") {
		t.Fatalf("stream %q does not end with a heartbeat", s.raw.String())
	}
}

// syncBuffer is a log destination safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestSSE_SlowClientCutOff checks that a client that takes no data is cut
// off, while another one reading the same channel gets everything.
func TestSSE_SlowClientCutOff(t *testing.T) {
	const n, size = 200, 64 << 10
	var logs syncBuffer
	h := newHub(t, halley.Config{
		// Short enough to keep the test short, long enough that a
		// reader descheduled on a loaded machine is not cut off.
		WriteTimeout: 4 * time.Second,
		Logger:       slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	srv := cometServer(t, h)
	c := newChannel(t, h, halley.ChannelOptions{Name: "big", Size: n})
	ctx := testCtx(t)

	// The slow client sends its request and never reads. Its receive
	// buffer does not grow while it is not read, so the server's writes
	// stall once its send buffer is full (a few MiB at most). Shrinking
	// the receive buffer after the handshake (SetReadBuffer) would make
	// the kernel drop segments already in flight and back off for
	// seconds, which the drain below would have to wait out.
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := fmt.Fprintf(conn, "GET /sse?channel=big HTTP/1.1\r\nHost: %s\r\n\r\n", srv.Listener.Addr()); err != nil {
		t.Fatal(err)
	}

	fast := openSSE(t, srv, "channel=big", "")
	fast.hello(t)
	fast.subscribed(t, "big", 0)
	if err := c.WaitListeners(ctx, 2); err != nil {
		t.Fatal(err)
	}

	// The fast client does little per message, so that it keeps up even
	// on a loaded machine (with -race).
	fast.norec = true
	payloads := make([]string, n+1)
	frames := make([]string, n+1)
	for i := 1; i <= n; i++ {
		payloads[i] = fmt.Sprintf("%06d", i) + strings.Repeat("x", size-6)
		frames[i] = string(frame.AppendMsg(nil, "big", uint64(i), []byte(payloads[i])))
	}
	got := make(chan error, 1)
	go func() {
		for i := 1; i <= n; i++ {
			ev, err := fast.read()
			if err != nil {
				got <- fmt.Errorf("message %d: %w", i, err)
				return
			}
			if ev.data != frames[i] {
				got <- fmt.Errorf("message %d: event %.100q", i, ev.data)
				return
			}
		}
		got <- nil
	}()
	for i := 1; i <= n; i++ {
		write(t, c, payloads[i])
	}
	if err := <-got; err != nil {
		t.Fatalf("fast client: %v\nlogs:\n%s", err, logs.String())
	}

	// The slow client is cut off and no longer listens; the fast one
	// still does.
	if err := c.WaitListenersExactly(ctx, 1); err != nil {
		t.Fatalf("the slow client is still served: %v (listeners %d)", err, c.Listeners())
	}
	if l := logs.String(); !strings.Contains(l, "reason=slow_client") {
		t.Fatalf("no slow_client in the logs:\n%s", l)
	}
	// The server closed the connection: what the socket holds drains,
	// then the stream ends (the deadline only guards against a hang).
	deadline, _ := ctx.Deadline()
	_ = conn.SetReadDeadline(deadline)
	if _, err := io.Copy(io.Discard, conn); errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("the server did not close the slow connection")
	}
	write(t, c, "after")
	fast.msg(t, "big", n+1, "after")
}

// sseRefused checks an error answer.
func sseRefused(t testing.TB, resp *http.Response, status int, reason string) {
	t.Helper()
	var body struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("status %d: %v", resp.StatusCode, err)
	}
	if resp.StatusCode != status || body.Error != reason || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("answer %d %+v (%s), want %d %q", resp.StatusCode, body, resp.Header.Get("Content-Type"), status, reason)
	}
}

func TestSSE_BadRequests(t *testing.T) {
	h := newHub(t, halley.Config{})
	srv := cometServer(t, h)
	newChannel(t, h, halley.ChannelOptions{Name: "news"})
	many := url.Values{}
	for i := range halley.MaxSubscriptions + 1 {
		many.Add("channel", "c"+strconv.Itoa(i))
	}
	for _, tc := range []struct {
		name, query, lastID string
		status              int
		reason              string
	}{
		{name: "NoChannel", query: "", status: 400, reason: "bad_request"},
		{name: "EmptyChannel", query: "channel=", status: 400, reason: "bad_request"},
		{name: "BadCursor", query: "channel=news&cursor=nope", status: 400, reason: "bad_cursor"},
		{name: "BadLastEventID", query: "channel=news", lastID: "news:x:y", status: 400, reason: "bad_cursor"},
		{name: "NegativeLast", query: "channel=news&last=-1", status: 400, reason: "bad_request"},
		{name: "BadLast", query: "channel=news&last=ten", status: 400, reason: "bad_request"},
		{name: "TooManyChannels", query: many.Encode(), status: 400, reason: "too_many_subscriptions"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sseRefused(t, sseGet(t, srv, tc.query, tc.lastID), tc.status, tc.reason)
		})
	}
	t.Run("Post", func(t *testing.T) {
		resp, err := srv.Client().Post(srv.URL+"/sse?channel=news", "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if allow := resp.Header.Get("Allow"); allow != http.MethodGet {
			t.Errorf("Allow %q", allow)
		}
		sseRefused(t, resp, http.StatusMethodNotAllowed, "method_not_allowed")
	})
}

// TestSSE_SharedEncoding checks that two one-channel streams get the very
// same bytes for a message, and a two-channel stream its own ids.
func TestSSE_SharedEncoding(t *testing.T) {
	h := newHub(t, halley.Config{})
	srv := cometServer(t, h)
	a := newChannel(t, h, halley.ChannelOptions{Name: "a"})
	b := newChannel(t, h, halley.ChannelOptions{Name: "b"})
	s1 := openSSE(t, srv, "channel=a", "")
	s2 := openSSE(t, srv, "channel=a", "")
	s3 := openSSE(t, srv, "channel=a&channel=b", "")
	for _, s := range []*sseClient{s1, s2, s3} {
		s.hello(t)
		s.subscribed(t, "a", 0)
	}
	s3.subscribed(t, "b", 0)
	if err := a.WaitListeners(testCtx(t), 3); err != nil {
		t.Fatal(err)
	}
	write(t, a, "x")
	e1, e2, e3 := s1.msg(t, "a", 1, "x"), s2.msg(t, "a", 1, "x"), s3.msg(t, "a", 1, "x")
	ea := epochOf(t, e1.id, "a")
	if e1 != e2 || e1.id != entry("a", 1, ea) {
		t.Fatalf("one-channel events differ: %+v, %+v", e1, e2)
	}
	if want := entry("a", 1, ea) + "," + entry("b", 0, epochOf(t, e3.id, "b")); e3.id != want || epochOf(t, e3.id, "b") == "" {
		t.Fatalf("two-channel id %q, want %q", e3.id, want)
	}
	write(t, b, "y")
	e4 := s3.msg(t, "b", 1, "y")
	if want := entry("a", 1, ea) + "," + entry("b", 1, epochOf(t, e4.id, "b")); e4.id != want {
		t.Fatalf("two-channel id %q, want %q", e4.id, want)
	}
}

// TestSSE_WriteDelay: with a write delay, a stream still gets every
// message, in order, and ends cleanly.
func TestSSE_WriteDelay(t *testing.T) {
	h := newHub(t, halley.Config{WriteDelay: 5 * time.Millisecond})
	srv := cometServer(t, h)
	c := newChannel(t, h, halley.ChannelOptions{Name: "news"})
	s := openSSE(t, srv, "channel=news", "")
	s.hello(t)
	s.subscribed(t, "news", 0)
	for i := 1; i <= 50; i++ {
		write(t, c, fmt.Sprint(i))
	}
	for i := 1; i <= 50; i++ {
		s.msg(t, "news", uint64(i), fmt.Sprint(i))
	}
}
