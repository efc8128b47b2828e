package halley

import (
	"errors"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/halleyhq/halley/internal/wire/frame"
)

// A long poll that waits holds, in net/http, its connection's goroutine
// (a stack the request's handling grew), a second goroutine reading to
// see the client go, and ~10 KiB of buffers: some 30 KB for a request
// that does nothing. A parked poll leaves all that behind. Once the first
// look finds nothing to answer, the hub takes the connection over from
// net/http (an HTTP/1.1 request only) and keeps what the answer needs:
// the stream, the visit, the answer's headers and a timer. One small
// goroutine reads to see the client go; wake-ups go to the hub's writers,
// which look at the stream (a look that finds nothing parks it again).
// When there is something to say, or at the timeout, a goroutine writes
// the answer, and the connection goes back to net/http through
// Hub.ReturnedConns for the client's next request, as if kept alive.

// ReturnedConns returns the listener of the connections that answered
// long polls hand back to net/http. Serve it with the server that serves
// the hub's handler (go srv.Serve(hub.ReturnedConns())): from the first
// call on, waiting long polls over HTTP/1.1 are parked (each costs a few
// KB instead of ~30 KB) and their connections come back through it. Its
// Close (srv.Shutdown closes it) closes the connections returned after.
// Without a call, long polls wait in their handler, as net/http has them.
func (h *Hub) ReturnedConns() net.Listener {
	h.returnedOnce.Do(func() {
		l := &returnedListener{ch: make(chan net.Conn), done: make(chan struct{})}
		h.returned.Store(l)
	})
	return h.returned.Load()
}

// returnedListener hands connections back to net/http.
type returnedListener struct {
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

// Accept implements net.Listener.
func (l *returnedListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close implements net.Listener.
func (l *returnedListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

// Addr implements net.Listener.
func (l *returnedListener) Addr() net.Addr { return returnedAddr{} }

type returnedAddr struct{}

func (returnedAddr) Network() string { return "halley" }
func (returnedAddr) String() string  { return "returned connections" }

// returnWait is how long a connection waits for net/http to take it
// back (Serve accepts at once while it runs) before it is closed.
const returnWait = time.Second

// give hands c back to net/http, or closes it when nobody takes it.
func (l *returnedListener) give(c net.Conn) {
	t := time.NewTimer(returnWait)
	defer t.Stop()
	select {
	case l.ch <- c:
	case <-l.done:
		_ = c.Close()
	case <-t.C:
		_ = c.Close()
	}
}

// parkedPoll is a long poll taken over from net/http while it waits.
type parkedPoll struct {
	h    *Hub
	v    *visit
	st   *stream
	s    *Session
	slot poolSlot
	conn net.Conn
	head []byte // the answer's header lines as the handler set them
	// expires is the token's expiry (zero: none): the answer at the
	// timeout then closes the stream with token_expired.
	expires time.Time
	timer   *time.Timer
	// timedOut, left (the client closed or broke the connection) and
	// junk (it sent bytes while it waited: a pipelined request, whose
	// first byte the reader took) are set by others and read by the
	// stream's writer or owner.
	timedOut atomic.Bool
	left     atomic.Bool
	junk     atomic.Bool
	gone     chan struct{} // closed when the reader ends
	frames   []byte        // pulled by a writer, for the owner to answer
}

// parkable returns the parked poll that st may become if it must wait,
// or nil when it cannot be parked: no ReturnedConns, or a request other
// than HTTP/1.1 keep-alive. Called before st subscribes (its waiter's
// wake-ups go through the poll's slot from then on, to the waiter's
// channel while the handler has it).
func (h *Hub) parkable(r *http.Request, v *visit, st *stream) *parkedPoll {
	if h.returned.Load() == nil || r.ProtoMajor != 1 || r.ProtoMinor != 1 || r.Close {
		return nil
	}
	p := &parkedPoll{h: h, v: v, st: st, s: v.s, expires: v.grant.Expires}
	p.slot = poolSlot{p: &h.pool, s: p}
	st.w.pooled = &p.slot
	st.watch(v.sig.gen)
	return p
}

// park takes the poll over from net/http to wait at most wait, and
// reports false when it cannot (the handler then waits as before): a
// writer that cannot be hijacked, or a hub that is shutting down. From
// true on, the parked poll owns its visit and stream.
func (p *parkedPoll) park(w http.ResponseWriter, wait time.Duration) bool {
	h, st := p.h, p.st
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	hd.Set("Cache-Control", "no-store")
	if !h.track(2) {
		return false
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		h.wg.Add(-2)
		return false
	}
	p.conn, p.head, p.gone = conn, appendHeader(nil, hd), make(chan struct{})
	if brw.Reader.Buffered() > 0 {
		p.junk.Store(true) // a request came after this one: the answer closes
	}
	p.v.r = nil // the answer needs nothing more of the request
	p.timer = time.AfterFunc(wait, func() {
		p.timedOut.Store(true)
		st.w.notify()
	})
	_ = conn.SetDeadline(time.Time{})
	go func() {
		defer h.wg.Done()
		defer close(p.gone)
		p.read()
	}()
	p.own()
	return true
}

// appendHeader appends the header lines of hd.
func appendHeader(dst []byte, hd http.Header) []byte {
	for k, vs := range hd {
		for _, v := range vs {
			dst = append(dst, k...)
			dst = append(dst, ": "...)
			dst = append(dst, v...)
			dst = append(dst, "\r\n"...)
		}
	}
	return dst
}

// read reads only to see the client go, one byte at a time, until the
// owner stops it with a deadline. Bytes mean a request after this one,
// which the answer cannot leave to net/http (the reader took them): it
// then closes the connection. Past sseJunkLimit of them it stops reading.
func (p *parkedPoll) read() {
	var one [1]byte
	for n := 0; n <= sseJunkLimit; n++ {
		_, err := p.conn.Read(one[:])
		switch {
		case err == nil:
			p.junk.Store(true)
			continue
		case errors.Is(err, os.ErrDeadlineExceeded):
			// The owner's: the poll answers.
		default:
			p.left.Store(true)
			p.st.w.notify()
		}
		return
	}
}

// step, for a writer woken for the poll, looks whether the poll must
// answer, without blocking: what it pulled waits in frames for the owner,
// which it then hands the poll to (ok false). A look that finds nothing
// parks it again.
func (p *parkedPoll) step() (busy, ok bool) {
	return false, !p.ready()
}

// ready reports whether the poll must answer now, pulling what the
// stream has into frames.
func (p *parkedPoll) ready() bool {
	if len(p.frames) > 0 || p.left.Load() || p.timedOut.Load() || p.st.stopped() != "" {
		return true
	}
	items := getItems()
	items = p.st.pull(items, cometBatch)
	p.frames = appendItems(p.frames, items)
	putItems(items)
	return len(p.frames) > 0
}

// own answers the poll when it must, or parks it again.
func (p *parkedPoll) own() {
	for !p.ready() {
		if !p.slot.park(p.st.w.wake) {
			return
		}
	}
	p.answer()
}

// answer stops the reader, writes the answer and gives the connection
// back to net/http (or closes it), then lets the poll go.
func (p *parkedPoll) answer() {
	h, conn := p.h, p.conn
	p.timer.Stop()
	_ = conn.SetReadDeadline(time.Unix(1, 0))
	<-p.gone
	keep := !p.left.Load() && !p.junk.Load()
	if !p.left.Load() {
		status, body := p.body()
		b := make([]byte, 0, len(p.head)+len(body)+160)
		b = append(b, "HTTP/1.1 "...)
		b = strconv.AppendInt(b, int64(status), 10)
		b = append(b, ' ')
		b = append(b, http.StatusText(status)...)
		b = append(b, "\r\n"...)
		b = append(b, p.head...)
		b = append(b, "Date: "...)
		b = time.Now().UTC().AppendFormat(b, http.TimeFormat)
		b = append(b, "\r\nContent-Length: "...)
		b = strconv.AppendInt(b, int64(len(body)), 10)
		if status != http.StatusOK {
			keep = false
			b = append(b, "\r\nX-Content-Type-Options: nosniff"...)
		}
		if !keep {
			b = append(b, "\r\nConnection: close"...)
		}
		b = append(b, "\r\n\r\n"...)
		b = append(b, body...)
		_ = conn.SetWriteDeadline(time.Now().Add(h.cfg.WriteTimeout))
		if _, err := conn.Write(b); err != nil {
			keep = false
		}
		p.st.wrote(len(body))
	}
	// The request's slot and session go before the subscriptions do, as
	// for a stream.
	p.v.done()
	p.st.close()
	if keep && conn.SetDeadline(time.Time{}) == nil {
		h.returned.Load().give(conn)
	} else {
		_ = conn.Close()
	}
	h.wg.Done()
}

// body returns the answer's status and body.
func (p *parkedPoll) body() (int, []byte) {
	switch p.st.stopped() {
	case "deactivated":
		p.h.refusals.add("deactivated")
		return http.StatusServiceUnavailable, []byte(`{"error":"deactivated","message":"the request was ended by the server"}` + "\n")
	case "shutdown":
		return http.StatusOK, pollAnswer(p.s, p.st, nil)
	}
	frames := p.frames
	if len(frames) == 0 && !p.expires.IsZero() && !time.Now().Before(p.expires) {
		frames = append(frame.AppendClose(frames, "token_expired"), '\n')
	}
	return http.StatusOK, pollAnswer(p.s, p.st, frames)
}
