package halley

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/halleyhq/halley/internal/wire/frame"
)

const (
	// sseBatch caps the messages one channel contributes to one batch
	// (one flush) of an SSE stream.
	sseBatch = 256
	// sseChunk is how many bytes of small events are gathered before
	// they go to the response in one write; larger events go on their
	// own, without a copy.
	sseChunk = 32 << 10
	// sseRetry is the reconnection delay announced to EventSource.
	sseRetry = "retry: 2000\n"
	// sseCloseTimeout bounds the best-effort close frame sent to a
	// client whose socket took no data in time.
	sseCloseTimeout = 100 * time.Millisecond
)

// SSEHandler returns the Server-Sent Events transport of the Halley
// protocol (docs/protocol.md): GET with the query parameters channel
// (repeated), cursor, last and session. Every event is one frame; the
// events that move a position carry the stream's full cursor as their id,
// so a browser EventSource resumes by itself, through Last-Event-ID,
// exactly after the last event it got.
//
// Each connection reads the channels' rings at its own pace and writes
// what it finds in batches: many events, one flush. A connection whose
// socket takes no data for Config.WriteTimeout is closed as a slow client;
// no other connection waits for it.
func (h *Hub) SSEHandler() http.Handler { return http.HandlerFunc(h.serveSSE) }

// sseRequest is what a GET /sse asks for.
type sseRequest struct {
	ids  []string
	cur  frame.Cursor
	last int
	// presence asks for joins and leaves (query presence=1).
	presence bool
}

// sseRefusal is a refused request: its status, reason and message.
type sseRefusal struct {
	code    int
	reason  string
	message string
}

func parseSSE(r *http.Request) (sseRequest, *sseRefusal) {
	var req sseRequest
	q := r.URL.Query()
	cursor := q.Get("cursor")
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		cursor = id
	}
	cur, err := frame.ParseCursorMax(cursor, MaxSubscriptions)
	if err != nil {
		if errors.Is(err, frame.ErrTooManyEntries) {
			return req, &sseRefusal{http.StatusBadRequest, "too_many_subscriptions", fmt.Sprintf("at most %d channels", MaxSubscriptions)}
		}
		return req, &sseRefusal{http.StatusBadRequest, "bad_cursor", err.Error()}
	}
	req.cur = cur
	if s := q.Get("last"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return req, &sseRefusal{http.StatusBadRequest, "bad_request", "last must be a non-negative integer"}
		}
		req.last = n
	}
	switch q.Get("presence") {
	case "", "0", "false":
	case "1", "true":
		req.presence = true
	default:
		return req, &sseRefusal{http.StatusBadRequest, "bad_request", "presence must be 1 or 0"}
	}
	named := q["channel"]
	if len(named) > MaxSubscriptions {
		named = named[:MaxSubscriptions+1] // refused below
	}
	for _, id := range named {
		if id == "" {
			return req, &sseRefusal{http.StatusBadRequest, "bad_request", "empty channel id"}
		}
	}
	// Channels only in the cursor come after the named ones, sorted.
	req.ids = appendCursorIDs(named, cur)
	if code, reason, msg := checkChannels(req.ids); code != 0 {
		return req, &sseRefusal{code, reason, msg}
	}
	return req, nil
}

func (h *Hub) serveSSE(w http.ResponseWriter, r *http.Request) {
	v := h.admit(w, r, http.MethodGet)
	if v == nil {
		return
	}
	req, bad := parseSSE(r)
	if bad != nil {
		h.jsonError(w, bad.code, bad.reason, bad.message)
		v.done()
		return
	}
	if !v.join(w) {
		v.done()
		return
	}
	v.keep()
	// The stream outlives the request: keep nothing of it (a hijacked
	// request still holds its connection's buffers).
	v.r = nil
	s := v.s
	st := h.newStream(s, &v.grant)
	c := &sseConn{h: h, s: s, st: st, expires: v.grant.Expires}
	c.timeout = h.cfg.WriteTimeout
	c.slot = poolSlot{p: &h.pool, s: c}
	st.w.pooled = &c.slot // wake-ups go to it (it may hand them to the writers)
	st.watch(v.sig.gen)
	st.presence = req.presence
	lines := st.subscribeAll(nil, req.ids, req.cur, req.last)

	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Accel-Buffering", "no")
	if conn := takeOver(w, r); conn != nil {
		// The stream leaves net/http, its buffers and this goroutine's
		// stack behind: the hub carries it on, with one goroutine that
		// reads only to see the client go, and the writers (or, while
		// they hand it back, a goroutine of its own) writing.
		c.out, c.pooled = connSink{conn}, true
		// Over TCP, the hub's writers write it (writers.go).
		c.sock, c.clearDeadline = sockOf(conn), true
		gone := make(chan struct{})
		if !h.track(2) {
			// Shutting down: the stream ends here.
			_ = conn.Close()
			st.close()
			v.done()
			return
		}
		go func() {
			defer h.wg.Done()
			defer close(gone)
			defer c.leave()
			discardClient(conn)
		}()
		// Whichever goroutine ends the stream (the first, or one the
		// writers started to hand it back) lets it go; the stream holds
		// its count in h.wg till then.
		c.onEnd = func() {
			_ = conn.Close()
			<-gone
			// The request's slot and session go before the
			// subscriptions do: a client seen gone can come back at once.
			v.done()
			st.close()
			h.wg.Done()
		}
		go c.serve(lines)
		return
	}
	defer st.close()
	defer v.done()
	c.out = httpSink{w: w, rc: http.NewResponseController(w)}
	stop := context.AfterFunc(r.Context(), c.leave)
	defer stop()
	c.serve(lines)
}

// sseJunkLimit is how many bytes an SSE client may send after its
// request (a stray line end, say) before the server closes the
// connection: a stream's client has nothing to say.
const sseJunkLimit = 64

// discardClient reads what an SSE client sends, only to see it go: it
// returns when the connection fails or closes, or once the client sent
// more than sseJunkLimit bytes (the stream then ends, as for a client
// gone: the connection closes at the stream's end, never here, since a
// writer may be writing its socket). It reads one byte at a time, so an
// idle stream holds a one-byte buffer, and a client that sends a stream
// of bytes costs at most sseJunkLimit reads.
func discardClient(conn net.Conn) {
	var one [1]byte
	for n := 0; ; {
		if _, err := conn.Read(one[:]); err != nil {
			return
		}
		if n++; n > sseJunkLimit {
			return
		}
	}
}

// leave marks that the client went away, and wakes the stream to see it.
func (c *sseConn) leave() {
	c.left.Store(true)
	c.st.w.notify()
}

// takeOver takes an HTTP/1 connection over from net/http for an SSE
// stream and writes the answer's head on it, the body then running until
// the connection closes. It returns nil where it cannot (HTTP/2, a writer
// that cannot be hijacked): the stream then goes through w.
func takeOver(w http.ResponseWriter, r *http.Request) net.Conn {
	if r.ProtoMajor != 1 {
		return nil
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil
	}
	_ = brw // its buffers stay behind: nothing more is read through them
	head := make([]byte, 0, 256)
	head = append(head, "HTTP/1.1 200 OK\r\n"...)
	var hb bytes.Buffer
	_ = w.Header().Write(&hb)
	head = append(head, hb.Bytes()...)
	head = append(head, "Connection: close\r\n\r\n"...)
	_ = conn.SetWriteDeadline(time.Now().Add(sseCloseTimeout * 50))
	if _, err := conn.Write(head); err != nil {
		_ = conn.Close()
		return nil
	}
	return conn
}

// serve sends the stream's first events (lines: the subscriptions'
// frames), then its messages until it ends: a stop of the hub, the end of
// the session, a failed write, or the client leaving (see leave). A
// pooled stream's goroutine returns once the stream is parked (the
// writers have it, and start another goroutine to hand it back); it
// ends the stream only when it ends there.
func (c *sseConn) serve(lines []byte) {
	if c.start(lines) {
		c.own()
		return
	}
	c.end()
}

// start writes the stream's first events and makes it wakeable; it
// reports false when the stream ended already.
func (c *sseConn) start(lines []byte) bool {
	h, s, st := c.h, c.s, c.st
	c.track(st)
	c.put([]byte(sseRetry + "data: "))
	c.put(frame.AppendHello(nil, s.id, unixOrZero(c.expires)))
	c.put([]byte("\n\n"))
	// The frames of the subscriptions are all at the positions where the
	// stream starts: nothing was sent yet. Only the last carries the
	// cursor as its id, once (a stream of 256 channels would otherwise
	// send 256 times its whole cursor before anything else); a client that
	// loses the stream before it keeps the id it had, which still holds.
	for len(lines) > 0 {
		i := slices.Index(lines, '\n')
		c.event(lines[:i], i == len(lines)-1)
		lines = lines[i+1:]
	}
	if err := c.flush(); err != nil {
		c.fail(err)
		return false
	}

	// The stream blocks on its waiter alone: messages, kills, the hub's
	// heartbeat ticks, the session's end and the client leaving all wake
	// it, and it looks at cheap flags to see which. (A select over several
	// channels would take their locks at every message.)
	if !s.watchStream(st.w) {
		// Shutdown closes the sessions after stopping the streams.
		reason := "session_closed"
		if st.stopped() == "shutdown" {
			reason = "shutdown"
		}
		c.close(reason, h.cfg.WriteTimeout)
		return false
	}
	c.watching = true
	c.unwake = wakeAt(c.expires, st.w)
	c.pace = newPacer(h.cfg.WriteDelay, &h.writes)
	return true
}

// own runs the stream as its owner until it parks (pooled) or ends.
func (c *sseConn) own() {
	if c.loop() {
		c.end()
	}
}

// end lets the stream go.
func (c *sseConn) end() {
	if c.watching {
		c.s.unwatchStream(c.st.w)
	}
	if c.unwake != nil {
		c.unwake()
	}
	if c.pace != nil {
		c.pace.stop()
	}
	if c.onEnd != nil {
		c.onEnd()
	}
}

// loop writes the stream's messages; it reports true when the stream
// ended, false when it parked for the writers.
func (c *sseConn) loop() (ended bool) {
	h, s, st, pace := c.h, c.s, c.st, c.pace
	var items []item
	for {
		if err := c.handedBack(); err != nil {
			c.fail(err)
			return true
		}
		if reason := st.stopped(); reason != "" {
			c.close(reason, h.cfg.WriteTimeout)
			return true
		}
		if expired(c.expires) {
			c.close("token_expired", h.cfg.WriteTimeout)
			return true
		}
		switch {
		case c.left.Load():
			return true
		case s.isClosed():
			// Shutdown closes every session after stopping the streams:
			// tell those clients to come back, not that their session
			// is gone.
			if st.stopped() == "shutdown" {
				c.close("shutdown", h.cfg.WriteTimeout)
			} else {
				c.close("session_closed", h.cfg.WriteTimeout)
			}
			return true
		}
		if items = st.pull(items[:0], sseBatch); len(items) > 0 {
			if pace.hold() {
				items = st.pull(items, sseBatch)
			}
			for _, it := range items {
				c.item(it)
			}
			clear(items) // let the messages go with the ring
			if err := c.flush(); err != nil {
				c.fail(err)
				return true
			}
			pace.wrote()
			continue
		}
		pace.idle()
		if time.Since(c.lastWrite) >= h.cfg.Heartbeat/2 {
			c.put([]byte(": ping\n\n"))
			if err := c.flush(); err != nil {
				c.fail(err)
				return true
			}
		}
		if c.sock != nil {
			if c.park() {
				continue
			}
			return false
		}
		<-st.w.wake
	}
}

// park, called by the owner with nothing left to write, gives the stream
// to the writers (see poolSlot.park).
func (c *sseConn) park() bool {
	c.unarm()
	return c.slot.park(c.st.w.wake)
}

type httpSink struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func (s httpSink) Write(b []byte) (int, error)        { return s.w.Write(b) }
func (s httpSink) Flush() error                       { return s.rc.Flush() }
func (s httpSink) SetWriteDeadline(t time.Time) error { return s.rc.SetWriteDeadline(t) }

// connSink writes straight to the connection: each write is sent.
type connSink struct{ net.Conn }

func (connSink) Flush() error { return nil }
