package halley

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
	"golang.org/x/time/rate"

	"github.com/halleyhq/halley/internal/wire/frame"
)

// WebSocket close statuses of the Halley protocol (docs/protocol.md),
// beside ws.StatusGoingAway (shutdown), ws.StatusMessageTooBig (a client
// message over MaxFrameSize) and ws.StatusProtocolError.
const (
	wsStatusBadFrame      ws.StatusCode = 4400
	wsStatusSlowClient    ws.StatusCode = 4408
	wsStatusSessionClosed ws.StatusCode = 4410
	wsStatusTokenExpired  ws.StatusCode = 4401
	wsStatusDeactivated   ws.StatusCode = 4503
)

const (
	// wsPull is the most messages per channel one pull takes.
	wsPull = 256
	// wsQueue bounds the client frames read ahead of the stream's
	// owner: past it, the reader waits, and so does the client.
	wsQueue = 4
	// wsCloseWait bounds how long a connection that sent its close frame
	// waits for the client's before it closes the socket.
	wsCloseWait = time.Second
	// wsReadBuffer is the reader's buffer: a client sends small frames,
	// and larger payloads are read straight into their message.
	wsReadBuffer = 256
)

// WSHandler returns the WebSocket transport of the Halley protocol
// (docs/protocol.md): GET /ws opens a stream on which the client subscribes
// to channels and unsubscribes by sending frames, and the server sends
// batches of frames, each one text message of frames joined by LF.
//
// A connection keeps one goroutine of the hub's, which reads the client's
// frames (the handler's returns once the connection is upgraded; Shutdown
// waits for the connection's end). Its messages are written like those of
// SSE streams: by the hub's writers, without blocking, and by a goroutine
// of its own only when there is more to do (the client's frames, a full
// socket, the end). A connection never waits for another, and a client
// that takes no data for Config.WriteTimeout is cut off (close status
// 4408, slow_client).
func (h *Hub) WSHandler() http.Handler { return http.HandlerFunc(h.serveWS) }

func (h *Hub) serveWS(w http.ResponseWriter, r *http.Request) {
	v := h.admit(w, r, http.MethodGet)
	if v == nil {
		return
	}
	handedOff := false
	defer func() {
		if !handedOff {
			v.done()
		}
	}()
	// admit checked the page's origin against Config.AllowedOrigins.
	if code, reason, msg := checkHandshake(r); code != 0 {
		// Not a handshake: no session is made for it.
		w.Header().Set("Sec-WebSocket-Version", "13")
		h.jsonError(w, code, reason, msg)
		return
	}
	if !v.join(w) {
		return
	}
	up := ws.HTTPUpgrader{Header: w.Header(), Timeout: h.cfg.WriteTimeout}
	conn, rw, _, err := up.Upgrade(r, w)
	if err != nil {
		// A bad handshake has been answered; the session made for it
		// goes with done.
		if conn != nil {
			_ = conn.Close()
		}
		return
	}
	v.keep()
	remote := r.RemoteAddr
	v.slim()
	br, err := wsReader(conn, rw.Reader)
	if err != nil || !h.track(2) {
		// Shutting down: the connection ends here.
		_ = conn.Close()
		return
	}
	handedOff = true
	c := h.newWSConn(v, conn, br, remote)
	go c.read()
	go c.serve()
}

// wsReader returns the reader of a connection's frames, with what
// net/http read ahead of the handshake in front: its own reader, which
// holds 4 KiB, goes.
func wsReader(conn net.Conn, ahead *bufio.Reader) (*bufio.Reader, error) {
	n := ahead.Buffered()
	if n == 0 {
		return bufio.NewReaderSize(conn, wsReadBuffer), nil
	}
	b, _ := ahead.Peek(n)
	br := bufio.NewReaderSize(io.MultiReader(bytes.NewReader(bytes.Clone(b)), conn), max(wsReadBuffer, n))
	if _, err := br.Peek(n); err != nil {
		return nil, err
	}
	return br, nil
}

// checkHandshake refuses, before the connection leaves net/http, what the
// upgrader would refuse (RFC 6455, 4.2.1): a request that is not a
// WebSocket handshake of version 13.
func checkHandshake(r *http.Request) (code int, reason, msg string) {
	switch {
	case !looksLikeWebSocket(r):
		return http.StatusUpgradeRequired, "upgrade_required", "GET /ws takes a WebSocket handshake"
	case !r.ProtoAtLeast(1, 1) || r.ProtoMajor != 1:
		return http.StatusBadRequest, "bad_handshake", "a WebSocket handshake is an HTTP/1.1 request"
	case r.Header.Get("Sec-WebSocket-Version") != "13":
		return http.StatusUpgradeRequired, "upgrade_required", "WebSocket version 13 only"
	case len(r.Header.Get("Sec-WebSocket-Key")) != 24 || r.Host == "":
		return http.StatusBadRequest, "bad_handshake", "a WebSocket handshake needs a Host and a 16-byte Sec-WebSocket-Key"
	}
	return 0, "", ""
}

// looksLikeWebSocket reports whether r asks for a WebSocket upgrade (the
// upgrader checks the rest of the handshake).
func looksLikeWebSocket(r *http.Request) bool {
	return headerHasToken(r.Header, "Connection", "upgrade") && headerHasToken(r.Header, "Upgrade", "websocket")
}

// headerHasToken reports whether a comma-separated header holds token,
// case-insensitively.
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// wsConn is one WebSocket connection: its reader (ws_read.go), and the
// writing side, which one goroutine has at a time — the stream's owner
// (ws_owner.go) or one of the hub's writers (ws_write.go).
type wsConn struct {
	sockWriter
	h      *Hub
	v      *visit // the request that opened the connection, and its grant
	conn   net.Conn
	st     *stream
	remote string
	// buf is the next text message: wsHead bytes for its header, then
	// frames each followed by LF. An idle connection holds none.
	buf []byte

	// The reader's: its buffered reader, a header's bytes, the unread
	// rest of a frame too large, the client frame rate.
	br   *bufio.Reader
	hdr  [ws.MaxHeaderSize - 2]byte
	skip int64
	lim  *rate.Limiter

	// From the reader to the writing side: client frames, the payload
	// of a ping to answer, and the end of reading (readErr, peerCode
	// set before readDone).
	cmds chan wsMessage
	pong atomic.Pointer[[]byte]
	// awaitPong: a ping went out, and its deadline is set.
	awaitPong atomic.Bool
	readDone  atomic.Bool
	readErr   error
	peerCode  ws.StatusCode
	// closing: the connection is ending (the reader only drains); quit,
	// closed then, ends the reader's waits; gone is closed when it
	// returns.
	closing atomic.Bool
	quit    chan struct{}
	gone    chan struct{}

	// The owner's.
	slot      poolSlot
	closeSent bool // a close frame went out: wait for the client's
	watching  bool // the session wakes it (watchStream)
	unwake    func()
	pace      *pacer
	// refreshes limits the client's token refreshes, made on the first.
	refreshes *rate.Limiter
}

// wsMessage is a client message, as the reader read it: the owner
// decodes it (the reader's stack stays small) and applies it.
type wsMessage struct {
	op ws.OpCode
	b  []byte
}

// wsCommand is a client frame, decoded, for the owner to apply: the
// stream belongs to the writing side alone.
type wsCommand struct {
	typ         string // a frame type: subscribe, write, listen…
	unsubscribe bool
	channel     string
	from        start
	// write: the payload and the client's tag; listen, unlisten: the
	// notifier and key; refresh: the new token.
	data          []byte
	ref           string
	notifier, key string
	token         string
	// bad, when set, says why the client's frame was refused; the
	// connection ends with it, with status (default: bad_frame).
	bad    string
	status ws.StatusCode
}

func (h *Hub) newWSConn(v *visit, conn net.Conn, br *bufio.Reader, remote string) *wsConn {
	c := &wsConn{
		h: h, v: v, conn: conn, st: h.newStream(v.s, &v.grant), remote: remote,
		br: br, lim: rate.NewLimiter(rate.Limit(h.cfg.ClientFrameRate), max(1, int(h.cfg.ClientFrameRate))),
		cmds: make(chan wsMessage, wsQueue), quit: make(chan struct{}), gone: make(chan struct{}),
	}
	c.out, c.timeout = connSink{conn}, h.cfg.WriteTimeout
	if c.sock = sockOf(conn); c.sock != nil {
		// Over TCP, the hub's writers write it (writers.go).
		c.slot = poolSlot{p: &h.pool, s: c}
		c.st.w.pooled = &c.slot
	}
	return c
}

// serve sends the hello frame, then runs the stream until it parks (the
// writers have it) or ends.
func (c *wsConn) serve() {
	if c.start() {
		c.own()
		return
	}
	c.end()
}

// start queues the hello frame and makes the stream wakeable; it reports
// false when the session ended already.
func (c *wsConn) start() bool {
	s, st := c.st.session, c.st
	// At Shutdown and at kills the stream is woken (see stream.watch),
	// and writes its close frame.
	st.watch(c.v.sig.gen)
	c.grab()
	c.buf = append(frame.AppendHello(c.buf, s.id, unixOrZero(c.v.grant.Expires)), '\n')
	c.unwake = wakeAt(c.v.grant.Expires, st.w)
	c.pace = newPacer(c.h.cfg.WriteDelay, &c.h.writes)
	if !s.watchStream(st.w) {
		c.sessionEnded()
		return false
	}
	c.watching = true
	return true
}

// own runs the stream as its owner until it parks (pooled) or ends.
func (c *wsConn) own() {
	if c.loop() {
		c.end()
	}
}

// end lets the connection go: once the client answered the close frame
// (or wsCloseWait passed), the socket closes and the reader returns; then
// the request's slot and session go, before the subscriptions do, so that
// a client seen gone can come back at once.
func (c *wsConn) end() {
	c.closing.Store(true)
	close(c.quit)
	if c.closeSent && c.err == nil {
		// Closing the socket while the client's frames are unread would
		// reset the connection, and the client could lose the close
		// frame.
		t := time.NewTimer(wsCloseWait)
		select {
		case <-c.gone:
		case <-t.C:
		}
		t.Stop()
	}
	_ = c.conn.Close()
	<-c.gone
	if c.watching {
		c.st.session.unwatchStream(c.st.w)
	}
	if c.unwake != nil {
		c.unwake()
	}
	if c.pace != nil {
		c.pace.stop()
	}
	c.releaseBuf()
	c.v.done()
	c.st.close()
	c.h.wg.Done()
}
