package halley_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/internal/wire/frame"
)

// wsClient is a test client of GET /ws that reads batches and hands out
// their frames one at a time.
type wsClient struct {
	t       testing.TB
	ctx     context.Context
	conn    *websocket.Conn
	resp    *http.Response
	session string // from the hello frame
	queue   []frame.Frame
}

func wsURL(srv *httptest.Server, query string) string {
	u := "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws"
	if query != "" {
		u += "?" + query
	}
	return u
}

// dialWS opens a connection and reads its hello frame.
func dialWS(t testing.TB, srv *httptest.Server, query string, opts *websocket.DialOptions) *wsClient {
	t.Helper()
	ctx := testCtx(t)
	conn, resp, err := websocket.Dial(ctx, wsURL(srv, query), opts)
	if err != nil {
		t.Fatalf("dial /ws: %v", err)
	}
	t.Cleanup(func() { _ = conn.CloseNow() })
	conn.SetReadLimit(-1)
	c := &wsClient{t: t, ctx: ctx, conn: conn, resp: resp}
	hello := c.next()
	if hello.Type != frame.TypeHello || hello.Version != frame.Version || hello.Session == "" {
		t.Fatalf("first frame %+v, want hello with a session and version %d", hello, frame.Version)
	}
	c.session = hello.Session
	return c
}

// readBatch reads one WebSocket message and decodes its frames.
func (c *wsClient) readBatch() ([]frame.Frame, error) {
	typ, b, err := c.conn.Read(c.ctx)
	if err != nil {
		return nil, err
	}
	if typ != websocket.MessageText {
		c.t.Fatalf("server message of type %v, want text", typ)
	}
	var frames []frame.Frame
	for line := range bytes.SplitSeq(b, []byte{'\n'}) {
		f, err := frame.Decode(line)
		if err != nil {
			c.t.Fatalf("server frame %q: %v", line, err)
		}
		frames = append(frames, f)
	}
	return frames, nil
}

// next returns the next frame.
func (c *wsClient) next() frame.Frame {
	c.t.Helper()
	for len(c.queue) == 0 {
		frames, err := c.readBatch()
		if err != nil {
			c.t.Fatalf("read: %v", err)
		}
		c.queue = frames
	}
	f := c.queue[0]
	c.queue = c.queue[1:]
	return f
}

func (c *wsClient) send(s string) {
	c.t.Helper()
	if err := c.conn.Write(c.ctx, websocket.MessageText, []byte(s)); err != nil {
		c.t.Fatalf("send %s: %v", s, err)
	}
}

// subscribe sends a subscribe frame; fields, if any, are more JSON members
// such as `"last":3`.
func (c *wsClient) subscribe(channel, fields string) {
	c.t.Helper()
	s := `{"type":"subscribe","channel":` + strconv.Quote(channel)
	if fields != "" {
		s += "," + fields
	}
	c.send(s + "}")
}

// subscribed subscribes and checks the subscribed frame, which it returns.
func (c *wsClient) subscribed(channel, fields string, after uint64) frame.Frame {
	c.t.Helper()
	c.subscribe(channel, fields)
	f := c.next()
	if f.Type != frame.TypeSubscribed || f.Channel != channel || f.Offset == nil || *f.Offset != after {
		c.t.Fatalf("got %s, want subscribed to %s after %d", show(f), channel, after)
	}
	return f
}

// msg checks that the next frame is message offset of channel with data.
func (c *wsClient) msg(channel string, offset uint64, data string) frame.Frame {
	c.t.Helper()
	f := c.next()
	if f.Type != frame.TypeMsg || f.Channel != channel || f.Offset == nil || *f.Offset != offset || string(f.Data()) != data {
		c.t.Fatalf("got %s, want msg %s:%d %q", show(f), channel, offset, data)
	}
	return f
}

// closed reads until the connection ends and checks the close status; it
// returns the frames read meanwhile.
func (c *wsClient) closed(status websocket.StatusCode) []frame.Frame {
	c.t.Helper()
	frames := c.queue
	c.queue = nil
	for {
		batch, err := c.readBatch()
		if err != nil {
			if got := websocket.CloseStatus(err); got != status {
				c.t.Fatalf("connection ended with %v (status %v), want status %v", err, got, status)
			}
			return frames
		}
		frames = append(frames, batch...)
	}
}

// closedWith checks that the server sends one last frame, of type typ and
// reason, then closes with status.
func (c *wsClient) closedWith(typ, reason string, status websocket.StatusCode) {
	c.t.Helper()
	frames := c.closed(status)
	if len(frames) != 1 || frames[0].Type != typ || frames[0].Reason != reason {
		c.t.Fatalf("last frames %s, want one %s frame with reason %s", showAll(frames), typ, reason)
	}
}

func show(f frame.Frame) string {
	s := fmt.Sprintf("{type:%s channel:%q reason:%q epoch:%q", f.Type, f.Channel, f.Reason, f.Epoch)
	if f.Offset != nil {
		s += fmt.Sprintf(" offset:%d", *f.Offset)
	}
	if d := f.Data(); d != nil {
		s += fmt.Sprintf(" data:%.40q", d)
	}
	return s + "}"
}

func showAll(frames []frame.Frame) string {
	s := make([]string, len(frames))
	for i, f := range frames {
		s[i] = show(f)
	}
	return "[" + strings.Join(s, " ") + "]"
}

func TestWS_SubscribeAndReceive(t *testing.T) {
	h := newHub(t, halley.Config{})
	srv := cometServer(t, h)
	news := newChannel(t, h, halley.ChannelOptions{Name: "news"})
	write(t, news, `{"title":"hello"}`)
	write(t, news, "plain text")
	write(t, news, "\xff\x00\x01")

	c := dialWS(t, srv, "", nil)
	if got := c.resp.Header.Get(halley.SessionHeader); got != c.session {
		t.Fatalf("hello session %q, %s header %q", c.session, halley.SessionHeader, got)
	}

	// The answer to a subscribe and the messages it finds go out in one
	// batch.
	c.subscribe("news", `"last":3`)
	batch, err := c.readBatch()
	if err != nil {
		t.Fatal(err)
	}
	if len(batch) != 4 {
		t.Fatalf("batch %s, want subscribed and 3 messages", showAll(batch))
	}
	c.queue = batch
	sub := c.next()
	if sub.Type != frame.TypeSubscribed || sub.Kind != "broadcast" || *sub.Offset != 0 || sub.Epoch == "" {
		t.Fatalf("got %s (kind %q), want subscribed broadcast after 0", show(sub), sub.Kind)
	}
	if f := c.msg("news", 1, `{"title":"hello"}`); f.JSON == nil {
		t.Errorf("JSON payload sent as %s, want the json field", show(f))
	}
	if f := c.msg("news", 2, "plain text"); f.Text == nil {
		t.Errorf("text payload sent as %s, want the data field", show(f))
	}
	if f := c.msg("news", 3, "\xff\x00\x01"); f.Data64 == nil {
		t.Errorf("binary payload sent as %s, want the data64 field", show(f))
	}

	// Live messages.
	write(t, news, "[1,2]")
	write(t, news, "line\nbreak")
	c.msg("news", 4, "[1,2]")
	c.msg("news", 5, "line\nbreak")
	if n := news.Listeners(); n != 1 {
		t.Errorf("Listeners = %d, want 1", n)
	}
}

func TestWS_SubscribeUnsubscribeWithoutReconnect(t *testing.T) {
	h := newHub(t, halley.Config{})
	srv := cometServer(t, h)
	a := newChannel(t, h, halley.ChannelOptions{Name: "a"})
	b := newChannel(t, h, halley.ChannelOptions{Name: "b"})

	c := dialWS(t, srv, "", nil)
	c.subscribed("a", "", 0)
	c.subscribed("b", "", 0)
	write(t, a, "a1")
	c.msg("a", 1, "a1")

	c.send(`{"type":"unsubscribe","channel":"a"}`)
	if f := c.next(); f.Type != frame.TypeUnsubscribed || f.Channel != "a" {
		t.Fatalf("got %s, want unsubscribed from a", show(f))
	}
	if err := a.WaitListenersExactly(testCtx(t), 0); err != nil {
		t.Fatalf("a keeps a listener after unsubscribe: %v", err)
	}
	// Frames of one connection keep their order: had a's message been
	// sent, it would come before b's.
	write(t, a, "a2")
	write(t, b, "b1")
	c.msg("b", 1, "b1")

	// Subscribing again from a position picks up what was missed.
	c.subscribed("a", `"after":1`, 1)
	c.msg("a", 2, "a2")
}

func TestWS_Resume(t *testing.T) {
	h := newHub(t, halley.Config{})
	srv := cometServer(t, h)
	news := newChannel(t, h, halley.ChannelOptions{Name: "news"})

	for i := 1; i <= 5; i++ {
		write(t, news, fmt.Sprint("m", i))
	}
	c := dialWS(t, srv, "", nil)
	epoch := c.subscribed("news", `"last":5`, 0).Epoch
	if epoch == "" {
		t.Fatal("subscribed frame of a channel with messages has no epoch")
	}
	for i := uint64(1); i <= 3; i++ {
		c.msg("news", i, fmt.Sprint("m", i))
	}
	_ = c.conn.CloseNow()
	if err := news.WaitListenersExactly(testCtx(t), 0); err != nil {
		t.Fatal(err)
	}
	write(t, news, "m6")
	write(t, news, "m7")

	t.Run("Position", func(t *testing.T) {
		c := dialWS(t, srv, "", nil)
		c.subscribed("news", `"after":3,"epoch":"`+epoch+`"`, 3)
		for i := uint64(4); i <= 7; i++ {
			c.msg("news", i, fmt.Sprint("m", i))
		}
		write(t, news, "m8")
		c.msg("news", 8, "m8")
	})

	t.Run("WrongEpoch", func(t *testing.T) {
		c := dialWS(t, srv, "", nil)
		c.subscribe("news", `"after":3,"epoch":"another-life"`)
		if f := c.next(); f.Type != frame.TypeGap || f.Reason != "unknown_position" || *f.Offset != 0 || f.Epoch != epoch {
			t.Fatalf("got %s, want gap unknown_position after 0 of epoch %s", show(f), epoch)
		}
		if f := c.next(); f.Type != frame.TypeSubscribed || *f.Offset != 0 {
			t.Fatalf("got %s, want subscribed after 0", show(f))
		}
		for i := uint64(1); i <= 8; i++ {
			c.msg("news", i, fmt.Sprint("m", i))
		}
	})

	t.Run("ChannelFull", func(t *testing.T) {
		small := newChannel(t, h, halley.ChannelOptions{Name: "small", Size: 3})
		write(t, small, "s1")
		c := dialWS(t, srv, "", nil)
		epoch := c.subscribed("small", `"last":1`, 0).Epoch
		c.msg("small", 1, "s1")
		_ = c.conn.CloseNow()
		for i := 2; i <= 10; i++ {
			write(t, small, fmt.Sprint("s", i))
		}

		c = dialWS(t, srv, "", nil)
		c.subscribed("small", `"after":1,"epoch":"`+epoch+`"`, 1)
		if f := c.next(); f.Type != frame.TypeGap || f.Reason != "channel_full" || *f.Offset != 7 || f.Epoch != epoch {
			t.Fatalf("got %s, want gap channel_full resuming after 7", show(f))
		}
		for i := uint64(8); i <= 10; i++ {
			c.msg("small", i, fmt.Sprint("s", i))
		}
	})

	t.Run("Last", func(t *testing.T) {
		c := dialWS(t, srv, "", nil)
		c.subscribed("news", `"last":2`, 6)
		c.msg("news", 7, "m7")
		c.msg("news", 8, "m8")
		write(t, news, "m9")
		c.msg("news", 9, "m9")
	})
}

func TestWS_ResumeAfterServerDrop(t *testing.T) {
	h := newHub(t, halley.Config{})
	srv := cometServer(t, h)
	news := newChannel(t, h, halley.ChannelOptions{Name: "news"})

	write(t, news, "m1")
	write(t, news, "m2")
	c := dialWS(t, srv, "", nil)
	epoch := c.subscribed("news", `"last":2`, 0).Epoch
	c.msg("news", 1, "m1")
	c.msg("news", 2, "m2")

	h.Deactivate()
	c.closedWith(frame.TypeClose, "deactivated", 4503)
	write(t, news, "m3") // while the client is away
	h.Activate()
	write(t, news, "m4")

	c2 := dialWS(t, srv, "session="+c.session, nil)
	if c2.session != c.session {
		t.Errorf("reconnected with session %q, got %q", c.session, c2.session)
	}
	c2.subscribed("news", `"after":2,"epoch":"`+epoch+`"`, 2)
	c2.msg("news", 3, "m3")
	c2.msg("news", 4, "m4")
}

func TestWS_BadFrame(t *testing.T) {
	h := newHub(t, halley.Config{})
	srv := cometServer(t, h)
	news := newChannel(t, h, halley.ChannelOptions{Name: "news"})
	other := dialWS(t, srv, "", nil)
	other.subscribed("news", "", 0)

	tests := []struct {
		name, frame string
	}{
		{"NotJSON", "not json"},
		{"UnknownType", `{"type":"publish","channel":"news"}`},
		{"NoType", `{"channel":"news"}`},
		{"NoChannel", `{"type":"subscribe"}`},
		{"EmptyChannel", `{"type":"unsubscribe","channel":""}`},
		{"NegativeLast", `{"type":"subscribe","channel":"news","last":-1}`},
		{"AfterAndLast", `{"type":"subscribe","channel":"news","after":1,"last":1}`},
		{"NegativeAfter", `{"type":"subscribe","channel":"news","after":-1}`},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dialWS(t, srv, "", nil)
			c.subscribed("news", "", uint64(i))
			c.send(tt.frame)
			frames := c.closed(4400)
			if len(frames) != 1 || frames[0].Type != frame.TypeError || frames[0].Reason != "bad_frame" || frames[0].Message == "" {
				t.Fatalf("frames before the close %s, want one error frame bad_frame", showAll(frames))
			}
			if err := news.WaitListenersExactly(testCtx(t), 1); err != nil {
				t.Fatal(err)
			}
			// The other connection goes on.
			write(t, news, tt.name)
			other.msg("news", uint64(i+1), tt.name)
		})
	}
}

func TestWS_OversizedMessage(t *testing.T) {
	h := newHub(t, halley.Config{MaxFrameSize: 1024})
	srv := cometServer(t, h)
	news := newChannel(t, h, halley.ChannelOptions{Name: "news"})
	other := dialWS(t, srv, "", nil)
	other.subscribed("news", "", 0)

	c := dialWS(t, srv, "", nil)
	c.subscribed("news", "", 0)
	c.subscribe("news", `"epoch":"`+strings.Repeat("x", 2048)+`"`)
	if frames := c.closed(websocket.StatusMessageTooBig); len(frames) != 0 {
		t.Errorf("frames before the close: %s", showAll(frames))
	}
	if err := news.WaitListenersExactly(testCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	write(t, news, "still here")
	other.msg("news", 1, "still here")
}

func TestWS_UnknownChannel(t *testing.T) {
	h := newHub(t, halley.Config{})
	srv := cometServer(t, h)
	c := dialWS(t, srv, "", nil)
	c.subscribe("nope", "")
	if f := c.next(); f.Type != frame.TypeEnded || f.Channel != "nope" || f.Reason != "unknown_channel" {
		t.Fatalf("got %s, want ended unknown_channel", show(f))
	}
	news := newChannel(t, h, halley.ChannelOptions{Name: "news"})
	c.subscribed("news", "", 0)
	write(t, news, "hi")
	c.msg("news", 1, "hi")
}

func TestWS_ClosedChannel(t *testing.T) {
	h := newHub(t, halley.Config{})
	srv := cometServer(t, h)
	news := newChannel(t, h, halley.ChannelOptions{Name: "news"})
	c := dialWS(t, srv, "", nil)
	c.subscribed("news", "", 0)
	write(t, news, "last words")
	if err := news.Close(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	c.msg("news", 1, "last words")
	if f := c.next(); f.Type != frame.TypeEnded || f.Channel != "news" || f.Reason != "channel_ended" {
		t.Fatalf("got %s, want ended channel_ended", show(f))
	}
	// The connection stays usable.
	c.subscribe("news", "")
	if f := c.next(); f.Type != frame.TypeEnded || f.Reason != "unknown_channel" {
		t.Fatalf("got %s, want ended unknown_channel", show(f))
	}
}

func TestWS_TooManySubscriptions(t *testing.T) {
	h := newHub(t, halley.Config{})
	srv := cometServer(t, h)
	for i := range halley.MaxSubscriptions + 1 {
		newChannel(t, h, halley.ChannelOptions{Name: fmt.Sprint("c", i)})
	}
	c := dialWS(t, srv, "", nil)
	for i := range halley.MaxSubscriptions {
		c.subscribed(fmt.Sprint("c", i), "", 0)
	}
	c.subscribe(fmt.Sprint("c", halley.MaxSubscriptions), "")
	if f := c.next(); f.Type != frame.TypeError || f.Reason != "too_many_subscriptions" {
		t.Fatalf("got %s, want error too_many_subscriptions", show(f))
	}
	// Moving the position of a channel already read is no new
	// subscription, and the connection is still open.
	c.subscribed("c0", `"after":0`, 0)
	c.send(`{"type":"unsubscribe","channel":"c0"}`)
	if f := c.next(); f.Type != frame.TypeUnsubscribed {
		t.Fatalf("got %s, want unsubscribed", show(f))
	}
	c.subscribed(fmt.Sprint("c", halley.MaxSubscriptions), "", 0)
}

func TestWS_Origin(t *testing.T) {
	evil := &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {"http://evil.example"}}}

	t.Run("Refused", func(t *testing.T) {
		h := newHub(t, halley.Config{})
		srv := cometServer(t, h)
		conn, resp, err := websocket.Dial(testCtx(t), wsURL(srv, ""), evil)
		if err == nil {
			_ = conn.CloseNow()
			t.Fatal("handshake from a foreign origin accepted")
		}
		if resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("handshake from a foreign origin: %v, response %v, want 403", err, resp)
		}
	})
	t.Run("Allowed", func(t *testing.T) {
		h := newHub(t, halley.Config{AllowedOrigins: []string{"evil.example"}})
		srv := cometServer(t, h)
		dialWS(t, srv, "", evil)
	})
	t.Run("SameHost", func(t *testing.T) {
		h := newHub(t, halley.Config{})
		srv := cometServer(t, h)
		dialWS(t, srv, "", &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {srv.URL}}})
	})
}

func TestWS_Refused(t *testing.T) {
	h := newHub(t, halley.Config{})
	srv := cometServer(t, h)
	h.Deactivate()
	conn, resp, err := websocket.Dial(testCtx(t), wsURL(srv, ""), nil)
	if err == nil {
		_ = conn.CloseNow()
		t.Fatal("handshake accepted by a deactivated hub")
	}
	if resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("deactivated hub: %v, response %v, want 503", err, resp)
	}
}

func TestWS_Shutdown(t *testing.T) {
	h := newHub(t, halley.Config{})
	srv := cometServer(t, h)
	newChannel(t, h, halley.ChannelOptions{Name: "news"})
	c := dialWS(t, srv, "", nil)
	c.subscribed("news", "", 0)
	if err := h.Shutdown(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	c.closedWith(frame.TypeClose, "shutdown", websocket.StatusGoingAway)
}

func TestWS_SessionClosed(t *testing.T) {
	h := newHub(t, halley.Config{})
	srv := cometServer(t, h)
	c := dialWS(t, srv, "", nil)
	s, ok := h.Session(c.session)
	if !ok {
		t.Fatalf("session %q of the hello frame is not live", c.session)
	}
	s.Close()
	c.closedWith(frame.TypeClose, "session_closed", 4410)
}

func TestWS_Heartbeat(t *testing.T) {
	h := newHub(t, halley.Config{Heartbeat: 20 * time.Millisecond, WriteTimeout: 200 * time.Millisecond})
	srv := cometServer(t, h)
	news := newChannel(t, h, halley.ChannelOptions{Name: "news"})

	t.Run("Answered", func(t *testing.T) {
		pinged := make(chan struct{}, 1)
		c := dialWS(t, srv, "", &websocket.DialOptions{OnPingReceived: func(context.Context, []byte) bool {
			select {
			case pinged <- struct{}{}:
			default:
			}
			return true
		}})
		c.subscribed("news", "", 0)
		// Pings are answered while the client reads; a few of them keep
		// the connection open.
		ctx, cancel := context.WithCancel(testCtx(t))
		done := make(chan struct{})
		defer func() { cancel(); <-done }()
		go func() {
			defer close(done)
			for range 3 {
				select {
				case <-pinged:
				case <-ctx.Done():
					return
				}
			}
			if _, err := news.Write(ctx, []byte("after pings")); err != nil {
				t.Errorf("write: %v", err)
			}
		}()
		c.msg("news", 1, "after pings")
	})
	t.Run("Unanswered", func(t *testing.T) {
		c := dialWS(t, srv, "", &websocket.DialOptions{OnPingReceived: func(context.Context, []byte) bool { return false }})
		c.subscribed("news", "", 1)
		if _, err := c.readBatch(); err == nil {
			t.Fatal("a client that does not answer pings is kept")
		}
		if err := news.WaitListenersExactly(testCtx(t), 0); err != nil {
			t.Fatal(err)
		}
	})
}

// rawSubscribe opens a WebSocket by hand on a socket with a tiny receive
// buffer, subscribes to channel, and never reads: a client that stalls.
func rawSubscribe(t testing.TB, srv *httptest.Server, channel string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	if err := conn.(*net.TCPConn).SetReadBuffer(4096); err != nil {
		t.Fatal(err)
	}
	req := "GET /ws HTTP/1.1\r\nHost: " + srv.Listener.Addr().String() + "\r\n" +
		"Upgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := conn.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("raw handshake: %s", resp.Status)
	}
	payload := []byte(`{"type":"subscribe","channel":"` + channel + `"}`)
	if len(payload) > 125 {
		t.Fatal("subscribe frame too long for a one-byte length")
	}
	key := [4]byte{0x12, 0x34, 0x56, 0x78}
	msg := append([]byte{0x81, 0x80 | byte(len(payload))}, key[:]...)
	for i, b := range payload {
		msg = append(msg, b^key[i%4])
	}
	if _, err := conn.Write(msg); err != nil {
		t.Fatal(err)
	}
	return conn
}

func TestWS_SlowClientCutOff(t *testing.T) {
	const n, size = 200, 64 << 10
	h := newHub(t, halley.Config{WriteTimeout: 4 * time.Second})
	srv := cometServer(t, h)
	big := newChannel(t, h, halley.ChannelOptions{Name: "big", Size: n})

	fast := dialWS(t, srv, "", nil)
	fast.subscribed("big", "", 0)
	rawSubscribe(t, srv, "big")
	if err := big.WaitListeners(testCtx(t), 2); err != nil {
		t.Fatal(err)
	}

	// The fast client takes each message before the next is written, so
	// that its batches stay small and it keeps up on a loaded machine
	// too; the slow client's socket fills up meanwhile. The frames are
	// checked cheaply: decoding 12 MiB of JSON under the race detector is
	// slow.
	payload := strings.Repeat("x", size)
	prefix := []byte(`{"type":"msg","channel":"big","offset":`)
	var written uint64
	for next := uint64(1); next <= n; {
		if written < next {
			write(t, big, payload)
			written++
		}
		typ, b, err := fast.conn.Read(fast.ctx)
		if err != nil {
			t.Fatalf("fast client, before offset %d: %v", next, err)
		}
		if typ != websocket.MessageText {
			t.Fatalf("message type %v", typ)
		}
		for line := range bytes.SplitSeq(b, []byte{'\n'}) {
			rest, ok := bytes.CutPrefix(line, prefix)
			want := strconv.FormatUint(next, 10) + `,"data":"` + payload + `"}`
			if !ok || string(rest) != want {
				t.Fatalf("fast client: got %.80q…, want msg %d", line, next)
			}
			next++
		}
	}
	if err := big.WaitListenersExactly(testCtx(t), 1); err != nil {
		t.Fatalf("the slow client is still a listener: %v", err)
	}
}

// TestWS_WriteDelay: with a write delay, a connection still gets every
// message, in order, and its commands are still answered.
func TestWS_WriteDelay(t *testing.T) {
	h := newHub(t, halley.Config{WriteDelay: 5 * time.Millisecond})
	srv := cometServer(t, h)
	news := newChannel(t, h, halley.ChannelOptions{Name: "news"})
	c := dialWS(t, srv, "", nil)
	c.subscribed("news", "", 0)
	for i := 1; i <= 50; i++ {
		write(t, news, fmt.Sprint(i))
	}
	for i := 1; i <= 50; i++ {
		c.msg("news", uint64(i), fmt.Sprint(i))
	}
	c.send(`{"type":"unsubscribe","channel":"news"}`)
	if f := c.next(); f.Type != frame.TypeUnsubscribed {
		t.Fatalf("unsubscribe answer %s", show(f))
	}
}
