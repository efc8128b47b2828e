package halley

import (
	"bytes"
	"errors"
	"net"
	"net/http"
	"os"
	"strconv"
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

// parkedPoll is a long poll taken over from net/http while it waits: a
// JSON long poll, or a legacy comet request (its answer).
type parkedPoll struct {
	h     *Hub
	a     parkedAnswer
	w     *waiter // the request's, woken by its channels
	gen   uint64  // the kill generation when the request came in
	slot  poolSlot
	conn  net.Conn
	head  []byte // the answer's header lines as the handler set them
	timer *time.Timer
	// timedOut, left (the client closed or broke the connection) and
	// junk (it sent bytes while it waited: a pipelined request, whose
	// first byte the reader took) are set by others and read by the
	// poll's writer or owner.
	timedOut atomic.Bool
	left     atomic.Bool
	junk     atomic.Bool
	gone     chan struct{} // closed when the reader ends
}

// A parkedAnswer is what a parked poll answers with.
type parkedAnswer interface {
	// look reports whether there is something to answer, taking it for
	// the answer. A writer's look (owner false) must not block.
	look(owner bool) bool
	// reply returns the answer: its status, content type and body, for
	// the reason the poll stopped ("shutdown", "deactivated" or "") and
	// whether it timed out.
	reply(stop string, timedOut bool) (status int, ctype string, body []byte)
	// end lets go what the request held.
	end()
}

// parkable returns the parked poll that a request (its answer a, its
// waiter w, its kill generation gen) may become if it must wait, or nil
// when it cannot be parked: no ReturnedConns, or a request other than
// HTTP/1.1 keep-alive. Called before w is added to any channel: its
// wake-ups go through the poll's slot from then on (to its channel while
// the handler has it), and kills and the shutdown wake it.
func (h *Hub) parkable(r *http.Request, a parkedAnswer, w *waiter, gen uint64) *parkedPoll {
	if h.returned.Load() == nil || r.ProtoMajor != 1 || r.ProtoMinor != 1 || r.Close {
		return nil
	}
	p := &parkedPoll{h: h, a: a, w: w, gen: gen}
	p.slot = poolSlot{p: &h.pool, s: p}
	w.pooled = &p.slot
	h.control.watch(w)
	return p
}

// stay undoes parkable for a request that does not park after all (it
// answers at once, or waits in its handler, where kills and the shutdown
// reach it through its signals).
func (p *parkedPoll) stay() {
	if p != nil {
		p.h.control.unwatch(p.w)
	}
}

// park takes the poll over from net/http to wait at most wait, and
// reports false when it cannot (the handler then waits as before): a
// writer that cannot be hijacked, or a hub that is shutting down. From
// true on, the parked poll owns what the request held (its answer's end
// lets it go).
func (p *parkedPoll) park(w http.ResponseWriter, wait time.Duration) bool {
	if p == nil {
		return false
	}
	h := p.h
	hd := w.Header()
	hd.Del("Content-Type") // each answer has its own
	hd.Set("Cache-Control", "no-store")
	if !h.track(2) {
		return false
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		h.wg.Add(-2)
		return false
	}
	var head bytes.Buffer
	_ = hd.Write(&head) // as net/http writes it, values sanitized
	p.conn, p.head, p.gone = conn, head.Bytes(), make(chan struct{})
	if brw.Reader.Buffered() > 0 {
		p.junk.Store(true) // a request came after this one: the answer closes
	}
	p.timer = time.AfterFunc(wait, func() {
		p.timedOut.Store(true)
		p.w.notify()
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
			p.w.notify()
		}
		return
	}
}

// step, for a writer woken for the poll, looks whether it must answer,
// without blocking, and then hands it to an owner (ok false), which
// answers. A look that finds nothing parks it again.
func (p *parkedPoll) step() (busy, ok bool) {
	return false, !p.ready(false)
}

// ready reports whether the poll must answer now.
func (p *parkedPoll) ready(owner bool) bool {
	if p.left.Load() || p.timedOut.Load() || p.h.control.stopReason(p.gen) != "" {
		return true
	}
	return p.a.look(owner)
}

// own answers the poll when it must, or parks it again.
func (p *parkedPoll) own() {
	for !p.ready(true) {
		if !p.slot.park(p.w.wake) {
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
	// At the shutdown the connection closes after the answer: net/http,
	// shutting down too, would wait for a connection given back to send
	// a request (it is new to it) rather than close it as idle.
	stop := h.control.stopReason(p.gen)
	keep := !p.left.Load() && !p.junk.Load() && stop != "shutdown"
	var b []byte
	if !p.left.Load() {
		status, ctype, body := p.a.reply(stop, p.timedOut.Load())
		b = make([]byte, 0, len(p.head)+len(body)+200)
		b = append(b, "HTTP/1.1 "...)
		b = strconv.AppendInt(b, int64(status), 10)
		b = append(b, ' ')
		b = append(b, http.StatusText(status)...)
		b = append(b, "\r\n"...)
		b = append(b, p.head...)
		if ctype != "" {
			b = append(b, "Content-Type: "...)
			b = append(b, ctype...)
			b = append(b, "\r\n"...)
		}
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
	}
	// The request ends before its answer goes, as in net/http (which
	// sends it once the handler returned): a client that has it no
	// longer counts as a listener.
	h.control.unwatch(p.w)
	p.a.end()
	if b != nil {
		_ = conn.SetWriteDeadline(time.Now().Add(h.cfg.WriteTimeout))
		if _, err := conn.Write(b); err != nil {
			keep = false
		}
	}
	if keep && conn.SetDeadline(time.Time{}) == nil {
		h.GiveBack(conn, nil)
	} else {
		_ = conn.Close()
	}
	h.wg.Done()
}

// jsonPoll is a JSON long poll's answer (POST /poll).
type jsonPoll struct {
	v       *visit
	st      *stream
	expires time.Time // the token's (zero: none): then token_expired
	frames  []byte    // pulled, to answer
}

func (a *jsonPoll) look(bool) bool {
	if len(a.frames) > 0 {
		return true
	}
	items := getItems()
	items = a.st.pull(items, cometBatch)
	a.frames = appendItems(a.frames, items)
	putItems(items)
	return len(a.frames) > 0
}

// reply answers the frames pulled whatever came after them: the cursor
// moved past them.
func (a *jsonPoll) reply(stop string, _ bool) (int, string, []byte) {
	const ctype = "application/json"
	switch {
	case len(a.frames) > 0:
		return http.StatusOK, ctype, a.answer(a.frames)
	case stop == "deactivated":
		a.v.h.refusals.add("deactivated")
		return http.StatusServiceUnavailable, ctype, []byte(`{"error":"deactivated","message":"the request was ended by the server"}` + "\n")
	case stop == "" && !a.expires.IsZero() && !time.Now().Before(a.expires):
		return http.StatusOK, ctype, a.answer(append(frame.AppendClose(nil, "token_expired"), '\n'))
	}
	return http.StatusOK, ctype, a.answer(nil) // timed out, or the shutdown
}

func (a *jsonPoll) answer(frames []byte) []byte {
	b := pollAnswer(a.v.s, a.st, frames)
	a.st.wrote(len(b))
	return b
}

// end lets the request's slot and session go before the subscriptions
// do, as for a stream.
func (a *jsonPoll) end() {
	a.v.done()
	a.st.close()
}
