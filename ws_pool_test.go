//go:build unix

package halley

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/halleyhq/halley/internal/wire/frame"
)

// rawWS is a WebSocket client on a bare TCP connection, which sends and
// reads frames as the test says, right or wrong.
type rawWS struct {
	conn  net.Conn
	br    *bufio.Reader
	queue []frame.Frame // the rest of the last text message
}

func dialRawWS(t *testing.T, srv *httptest.Server) *rawWS {
	t.Helper()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(time.Minute))
	req := "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := conn.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	c := &rawWS{conn: conn, br: bufio.NewReader(conn)}
	res, err := http.ReadResponse(c.br, nil)
	if err != nil || res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %v %v", res, err)
	}
	if got := res.Header.Get("Sec-WebSocket-Accept"); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("Sec-WebSocket-Accept %q, want RFC 6455's example answer", got)
	}
	return c
}

// send writes one frame: fin, opcode, and the payload masked (as a client
// must) when masked.
func (c *rawWS) send(t *testing.T, fin bool, op byte, payload []byte, masked bool) {
	t.Helper()
	b0 := op
	if fin {
		b0 |= 0x80
	}
	f := []byte{b0}
	var m byte
	if masked {
		m = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		f = append(f, m|byte(n))
	default:
		f = append(f, m|126)
		f = binary.BigEndian.AppendUint16(f, uint16(n))
	}
	key := [4]byte{9, 8, 7, 6}
	if masked {
		f = append(f, key[:]...)
	}
	for i, b := range payload {
		if masked {
			b ^= key[i%4]
		}
		f = append(f, b)
	}
	if _, err := c.conn.Write(f); err != nil {
		t.Fatal(err)
	}
}

// read returns the next frame of the server's.
func (c *rawWS) read(t *testing.T) (op byte, payload []byte) {
	t.Helper()
	var head [2]byte
	if _, err := io.ReadFull(c.br, head[:]); err != nil {
		t.Fatalf("frame head: %v", err)
	}
	if head[1]&0x80 != 0 {
		t.Fatal("a masked frame from the server")
	}
	n := uint64(head[1] & 0x7f)
	switch n {
	case 126:
		var l [2]byte
		_, _ = io.ReadFull(c.br, l[:])
		n = uint64(binary.BigEndian.Uint16(l[:]))
	case 127:
		var l [8]byte
		_, _ = io.ReadFull(c.br, l[:])
		n = binary.BigEndian.Uint64(l[:])
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(c.br, payload); err != nil {
		t.Fatalf("frame payload: %v", err)
	}
	return head[0] & 0x0f, payload
}

// expect returns the next frame of type typ, skipping others.
func (c *rawWS) expect(t *testing.T, typ string) frame.Frame {
	t.Helper()
	for {
		for len(c.queue) > 0 {
			f := c.queue[0]
			c.queue = c.queue[1:]
			if f.Type == typ {
				return f
			}
		}
		op, p := c.read(t)
		if op != 1 {
			t.Fatalf("frame of opcode %d (%.40q), want a text message with a %s frame", op, p, typ)
		}
		for line := range strings.SplitSeq(string(p), "\n") {
			f, err := frame.Decode([]byte(line))
			if err != nil {
				t.Fatalf("frame %.40q: %v", line, err)
			}
			c.queue = append(c.queue, f)
		}
	}
}

// closed reads up to the server's close frame and returns its status;
// the server then closes the connection.
func (c *rawWS) closed(t *testing.T) int {
	t.Helper()
	for {
		op, p := c.read(t)
		if op != 8 {
			continue
		}
		if len(p) < 2 {
			return 0
		}
		c.send(t, true, 8, p[:2], true) // the client's answer
		if _, err := c.br.ReadByte(); err != io.EOF {
			t.Fatalf("after the close frames: %v, want the connection closed", err)
		}
		return int(binary.BigEndian.Uint16(p))
	}
}

func wsHub(t *testing.T, cfg Config) (*Hub, *httptest.Server, *Channel) {
	h, srv := hubServer(t, cfg, (*Hub).WSHandler)
	c, err := h.NewChannel(context.Background(), ChannelOptions{Name: "news", Size: 200})
	if err != nil {
		t.Fatal(err)
	}
	return h, srv, c
}

var subscribeNews = []byte(`{"type":"subscribe","channel":"news"}`)

// TestWSPool_FullSocketGoesToOwner: a WebSocket client that stops reading
// fills its socket; the writers hand the stream back to a goroutine of its
// own, and once the client reads again it gets every message, in order.
func TestWSPool_FullSocketGoesToOwner(t *testing.T) {
	ev := watchPool(t)
	const n, size = 200, 64 << 10
	_, srv, c := wsHub(t, Config{WriteTimeout: time.Minute})
	cl := dialRawWS(t, srv)
	cl.send(t, true, 1, subscribeNews, true)
	cl.expect(t, frame.TypeSubscribed)
	<-ev.park // the writers have the stream from now on
	payload := strings.Repeat("x", size)
	ctx := context.Background()
	for i := 1; i <= n; i++ {
		if _, err := c.Write(ctx, []byte(fmt.Sprintf("%q", fmt.Sprint(i, payload)))); err != nil {
			t.Fatal(err)
		}
	}
	<-ev.handback // 12.8 MiB do not fit in the sockets' buffers
	for i := 1; i <= n; i++ {
		if f := cl.expect(t, frame.TypeMsg); *f.Offset != uint64(i) {
			t.Fatalf("message %d, want %d", *f.Offset, i)
		}
	}
}

// TestWS_ClientControlFrames: the server answers a ping with its payload,
// even between the fragments of a message, takes a message in fragments,
// and answers a close with the same status before it closes.
func TestWS_ClientControlFrames(t *testing.T) {
	_, srv, c := wsHub(t, Config{})
	cl := dialRawWS(t, srv)
	cl.expect(t, frame.TypeHello)
	cl.send(t, false, 1, subscribeNews[:10], true)
	cl.send(t, true, 9, []byte("are you there"), true)
	if op, p := cl.read(t); op != 10 || string(p) != "are you there" {
		t.Fatalf("answer to a ping: opcode %d %q, want a pong with its payload", op, p)
	}
	cl.send(t, true, 0, subscribeNews[10:], true)
	cl.expect(t, frame.TypeSubscribed)
	if err := c.WaitListenersExactly(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	cl.send(t, true, 8, binary.BigEndian.AppendUint16(nil, 4000), true)
	op, p := cl.read(t)
	if op != 8 || len(p) < 2 || binary.BigEndian.Uint16(p) != 4000 {
		t.Fatalf("answer to a close 4000: opcode %d %q", op, p)
	}
	if _, err := cl.br.ReadByte(); err != io.EOF {
		t.Fatalf("after the close frames: %v, want the connection closed", err)
	}
	if err := c.WaitListenersExactly(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
}

// TestWS_ProtocolErrors: frames that break RFC 6455 end the connection
// with status 1002; one over MaxFrameSize, even in fragments, with 1009.
// Other connections go on.
func TestWS_ProtocolErrors(t *testing.T) {
	_, srv, c := wsHub(t, Config{MaxFrameSize: 1024})
	other := dialRawWS(t, srv)
	other.send(t, true, 1, subscribeNews, true)
	other.expect(t, frame.TypeSubscribed)
	big := []byte(`"` + strings.Repeat("x", 600))
	tests := []struct {
		name   string
		send   func(cl *rawWS)
		status int
	}{
		{"Unmasked", func(cl *rawWS) { cl.send(t, true, 1, subscribeNews, false) }, 1002},
		{"ReservedOpcode", func(cl *rawWS) { cl.send(t, true, 3, nil, true) }, 1002},
		{"FragmentedPing", func(cl *rawWS) { cl.send(t, false, 9, nil, true) }, 1002},
		{"StrayContinuation", func(cl *rawWS) { cl.send(t, true, 0, subscribeNews, true) }, 1002},
		{"CloseOfOneByte", func(cl *rawWS) { cl.send(t, true, 8, []byte{3}, true) }, 1002},
		{"HugeLength", func(cl *rawWS) {
			// A 64-bit length of 2^63-1, then the client's close.
			f := []byte{0x81, 0x80 | 127, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4}
			if _, err := cl.conn.Write(f); err != nil {
				t.Fatal(err)
			}
		}, 1009},
		{"NegativeLength", func(cl *rawWS) {
			// A 64-bit length with its top bit set (RFC 6455, 5.2).
			f := []byte{0x81, 0x80 | 127, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4}
			if _, err := cl.conn.Write(f); err != nil {
				t.Fatal(err)
			}
		}, 1002},
		{"TooBigInFragments", func(cl *rawWS) {
			cl.send(t, false, 1, big, true)
			cl.send(t, true, 0, big, true)
		}, 1009},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cl := dialRawWS(t, srv)
			cl.expect(t, frame.TypeHello)
			tt.send(cl)
			if got := cl.closed(t); got != tt.status {
				t.Fatalf("close status %d, want %d", got, tt.status)
			}
			if _, err := c.Write(context.Background(), []byte(fmt.Sprint(i))); err != nil {
				t.Fatal(err)
			}
			if f := other.expect(t, frame.TypeMsg); *f.Offset != uint64(i+1) {
				t.Fatalf("the other connection: message %d, want %d", *f.Offset, i+1)
			}
		})
	}
}

// TestWS_HandshakeRefused: requests that are not a WebSocket handshake of
// version 13 are refused before any session is made, with a reason.
func TestWS_HandshakeRefused(t *testing.T) {
	h, srv, _ := wsHub(t, Config{})
	tests := []struct {
		name   string
		header map[string]string
		code   int
		reason string
	}{
		{"NoUpgrade", nil, http.StatusUpgradeRequired, "upgrade_required"},
		{"Version8", map[string]string{"Sec-WebSocket-Version": "8"}, http.StatusUpgradeRequired, "upgrade_required"},
		{"ShortKey", map[string]string{"Sec-WebSocket-Key": "abc"}, http.StatusBadRequest, "bad_handshake"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
			if tt.header != nil {
				req.Header.Set("Upgrade", "websocket")
				req.Header.Set("Connection", "Upgrade")
				req.Header.Set("Sec-WebSocket-Version", "13")
				req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
				for k, v := range tt.header {
					req.Header.Set(k, v)
				}
			}
			res, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var body struct{ Error string }
			_ = json.NewDecoder(res.Body).Decode(&body)
			if res.StatusCode != tt.code || body.Error != tt.reason || res.Header.Get("Sec-WebSocket-Version") != "13" {
				t.Fatalf("%s %+v, want %d %s", res.Status, body, tt.code, tt.reason)
			}
		})
	}
	if n := h.SessionCount(); n != 0 {
		t.Fatalf("%d sessions made for refused handshakes", n)
	}
}

// TestWS_OverTLS: a WebSocket over TLS, which the writers cannot write
// without blocking, is written by a goroutine of its own: it gets every
// message in order, and the shutdown's close status.
func TestWS_OverTLS(t *testing.T) {
	h, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(h.WSHandler())
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ch, err := h.NewChannel(ctx, ChannelOptions{Name: "news"})
	if err != nil {
		t.Fatal(err)
	}
	conn, _, err := websocket.Dial(ctx, "wss"+strings.TrimPrefix(srv.URL, "https"), &websocket.DialOptions{HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	if err := conn.Write(ctx, websocket.MessageText, subscribeNews); err != nil {
		t.Fatal(err)
	}
	if err := ch.WaitListeners(ctx, 1); err != nil {
		t.Fatal(err)
	}
	const n = 50
	for i := 1; i <= n; i++ {
		if _, err := ch.Write(ctx, []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	next := uint64(1)
	for next <= n {
		_, b, err := conn.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for line := range strings.SplitSeq(string(b), "\n") {
			f, err := frame.Decode([]byte(line))
			if err != nil {
				t.Fatal(err)
			}
			if f.Type == frame.TypeMsg {
				if *f.Offset != next {
					t.Fatalf("message %d, want %d", *f.Offset, next)
				}
				next++
			}
		}
	}
	done := make(chan error, 1)
	go func() { done <- h.Shutdown(ctx) }()
	for {
		if _, _, err = conn.Read(ctx); err != nil {
			break
		}
	}
	if got := websocket.CloseStatus(err); got != websocket.StatusGoingAway {
		t.Fatalf("end of the connection: %v, want status 1001", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestWS_IdleHoldsOneGoroutine: once its first frames are written, an
// idle WebSocket keeps one goroutine, its reader, waiting for the client
// at the top of its stack; the writers and its owner have left it.
func TestWS_IdleHoldsOneGoroutine(t *testing.T) {
	const n = 20
	ev := watchPool(t)
	_, srv, c := wsHub(t, Config{})
	for range n {
		cl := dialRawWS(t, srv)
		cl.send(t, true, 1, subscribeNews, true)
		cl.expect(t, frame.TypeSubscribed)
	}
	if err := c.WaitListenersExactly(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	<-ev.park
	var readers, others int
	deadline := time.Now().Add(time.Minute)
	for {
		readers, others = wsGoroutines()
		if readers == n && others == 0 || time.Now().After(deadline) {
			break
		}
		runtime.Gosched()
	}
	if readers != n || others != 0 {
		t.Fatalf("%d idle connections hold %d reader goroutines and %d others of theirs, want %d and 0", n, readers, others, n)
	}
}

// wsGoroutines counts the goroutines in a WebSocket's code: readers
// waiting at the top of readFrames, and any other.
func wsGoroutines() (readers, others int) {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		if !strings.Contains(g, "halley.(*wsConn)") {
			continue
		}
		if strings.Contains(g, "(*wsConn).readFrames") && !strings.Contains(g, "(*wsConn).message") {
			readers++
		} else {
			others++
		}
	}
	return readers, others
}
