package httpapi

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/halleyhq/halley/internal/sockio"
)

// A backend that publishes a lot sends one POST /api/publish after
// another on a kept-alive connection. Through net/http each costs, beside
// the three system calls it needs (the request's read, the answer's
// write, the subscriber's delivery), a request's parsing into maps, a
// goroutine that reads in the background while the handler runs, deadline
// and context changes and the answer's header machinery: about as much
// again. With Options.TakeOver, the API takes such a connection over at
// its first publish and serves the publishes that follow itself: it reads
// each head into a small buffer, keeps only the header fields the API
// reads, runs the API's own handler (key, observer, publish) with a
// request and a writer it reuses, and writes the answer in one write. The
// first request it does not parse as a plain publish (another endpoint, a
// chunked body, an odd head) goes back to net/http with the connection,
// through Hub.ReturnedConns, as if net/http had read it.

// leanBufSize is the read buffer of a taken-over connection: a head that
// does not fit goes back to net/http.
const leanBufSize = 8 << 10

// canTakeOver reports whether r, a request net/http parsed, starts a
// connection's takeover: a plain publish over HTTP/1.1 without TLS that
// keeps the connection, from a server whose Shutdown reaches the
// connection, and a live hub that takes connections back.
func (a *api) canTakeOver(r *http.Request) bool {
	if r.Method != http.MethodPost || r.RequestURI != publishPath ||
		r.ProtoMajor != 1 || r.ProtoMinor != 1 || r.TLS != nil || r.Close ||
		r.TransferEncoding != nil || r.ContentLength < 0 || r.Header["Expect"] != nil ||
		!a.hub.ReturnsConns() {
		return false
	}
	return a.takeable(r)
}

// takeable reports whether a connection of r can be taken from net/http
// now: the hub is not shutting down, and r came through an http.Server,
// whose Shutdown then reaches the connection (track).
func (a *api) takeable(r *http.Request) bool {
	select {
	case <-a.hub.Done():
		return false
	default:
	}
	_, ok := r.Context().Value(http.ServerContextKey).(*http.Server)
	return ok
}

// takeOver wraps the API's handler (Options.TakeOver): a request that
// starts a takeover is served, and the connection after it, by a lean
// loop; the others by next.
func (a *api) takeOver(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.canTakeOver(r) {
			next.ServeHTTP(w, r)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			next.ServeHTTP(w, r)
			return
		}
		if testHookTakeOver != nil {
			testHookTakeOver("take", conn)
		}
		c := &leanConn{a: a, next: next, conn: conn, sock: sockio.NewConn(conn), buf: make([]byte, leanBufSize)}
		// What net/http read past the head: the body's start, maybe a
		// pipelined request (never more than its 4 KiB buffer).
		c.w, _ = brw.Reader.Read(c.buf[:min(brw.Reader.Buffered(), len(c.buf))])
		if brw.Reader.Buffered() > 0 {
			_ = conn.Close() // cannot happen with net/http's buffer
			return
		}
		c.run(r)
	})
}

// testHookTakeOver, set only by tests, is told of each takeover
// ("take"), of each connection given back ("give"), of each answer
// that waits for a full socket ("wait") and of each publish stream taken
// from net/http ("stream").
var testHookTakeOver func(what string, c net.Conn)

// leanConn is a connection taken over: its buffer, and the request, the
// body and the writer it reuses for each publish.
type leanConn struct {
	a    *api
	next http.Handler
	conn net.Conn
	// sock is conn's socket, read and written with one system call each
	// (package sockio); nil: conn's own Read and Write.
	sock *sockio.Conn
	// flush writes the streams the last publish woke (Hub.DeferWrites);
	// nil for the first request, net/http's.
	flush func()
	buf   []byte
	r, w  int // buf[r:w] is read and not used yet
	head  leanHead
	heads headCache // the last head, to take the next from (headcache.go)
	req   *http.Request
	body  leanBody
	lw    leanWriter
	// aw wraps lw for the API's handlers (observe, recover): one for
	// every request, not one allocated for each.
	aw  answerWriter
	out []byte
	// The server's timeouts (0: none).
	idle, headTimeout, write time.Duration
	// The read deadline the handler or the loop wants, and the one the
	// connection has: it is set only before a read that waits, and
	// the idle one only when it moved by more than deadlineSlack, so
	// that a publish whose body came with its head changes none.
	want, set time.Time
	// stopping is set at the hub's or the server's shutdown; waiting
	// while the loop waits for a head, which the shutdown then cuts.
	stopping, waiting atomic.Bool
	// The strings of the last values, reused while a client sends the
	// same ones.
	host, contentType, authorization string
	values                           [2 + 2*maxRepeats]string
	// The Date of the answers, and the second it was made for.
	date    []byte
	dateSec int64
}

// deadlineSlack is how far the idle deadline may lag behind the
// server's IdleTimeout: it is moved once it lags more.
const deadlineSlack = time.Second

// run serves first, then the connection's next requests, until one is
// not a plain publish (the connection then goes back to net/http), the
// client closes the connection or sends nothing within the server's
// IdleTimeout, a request or an answer says Connection: close, or the
// hub or the server shuts down (the connection goes back to net/http,
// which answers what comes next as it does after a shutdown).
func (c *leanConn) run(first *http.Request) {
	srv := first.Context().Value(http.ServerContextKey).(*http.Server)
	c.idle, c.headTimeout, c.write = srv.IdleTimeout, srv.ReadHeaderTimeout, srv.WriteTimeout
	if c.idle <= 0 {
		c.idle = srv.ReadTimeout
	}
	if c.headTimeout <= 0 {
		c.headTimeout = srv.ReadTimeout
	}
	if !c.a.track(srv, c) {
		_ = c.conn.Close()
		return
	}
	defer c.a.untrack(c)
	given := false
	defer func() {
		if !given {
			_ = c.conn.Close()
		}
	}()
	c.lw.c = c
	c.lw.h = make(http.Header, 4)
	// The first request is net/http's, with its body read from here.
	first.Body = &c.body
	c.body = leanBody{c: c, n: first.ContentLength}
	if !c.serve(first, false) {
		return
	}
	// The streams the next publishes wake are written here, after each
	// answer (Hub.DeferWrites).
	ctx, flush := c.a.hub.DeferWrites(first.Context())
	c.flush = flush
	defer flush() // a handler's panic past its recover must not stall them
	c.req = first.WithContext(ctx)
	c.req.Header = make(http.Header, 4)
	for {
		switch c.readHead() {
		case headGiveBack:
			if testHookTakeOver != nil {
				testHookTakeOver("give", c.conn)
			}
			_ = c.conn.SetDeadline(time.Time{})
			given = true
			c.a.hub.GiveBack(c.conn, bytes.Clone(c.buf[c.r:c.w]))
			return
		case headClosed:
			return
		}
		if !c.serve(c.fill(), c.head.close) {
			return
		}
	}
}

// stop ends the loop at a shutdown: at once when it waits for a head,
// after the request it serves otherwise. An answer that the client
// does not read gets a second more.
func (c *leanConn) stop() {
	c.stopping.Store(true)
	if c.waiting.Load() {
		_ = c.conn.SetReadDeadline(time.Now())
	}
	_ = c.conn.SetWriteDeadline(time.Now().Add(time.Second))
}

// stopper is a connection taken over, which a shutdown stops: a
// *leanConn or a *leanStream.
type stopper interface{ stop() }

// track registers c with the API, and the API with srv's Shutdown and
// the hub's: it reports false when either is shutting down already.
func (a *api) track(srv *http.Server, c stopper) bool {
	a.leanOnce.Do(func() {
		context.AfterFunc(doneContext(a.hub.Done()), func() { a.stopLean(nil) })
	})
	a.leanMu.Lock()
	defer a.leanMu.Unlock()
	if a.leanStopped[srv] || a.leanStopped[nil] {
		return false
	}
	if a.lean == nil {
		a.lean = make(map[stopper]*http.Server)
		a.leanStopped = make(map[*http.Server]bool)
	}
	if _, ok := a.leanStopped[srv]; !ok {
		a.leanStopped[srv] = false
		srv.RegisterOnShutdown(func() { a.stopLean(srv) })
	}
	a.lean[c] = srv
	return true
}

func (a *api) untrack(c stopper) {
	a.leanMu.Lock()
	defer a.leanMu.Unlock()
	delete(a.lean, c)
}

// stopLean stops the loops of srv's connections at its Shutdown, or of
// all at the hub's (srv nil).
func (a *api) stopLean(srv *http.Server) {
	a.leanMu.Lock()
	defer a.leanMu.Unlock()
	if a.leanStopped == nil {
		a.leanStopped = make(map[*http.Server]bool)
	}
	a.leanStopped[srv] = true
	for c, s := range a.lean {
		if srv == nil || s == srv {
			c.stop()
		}
	}
}

// Outcomes of readHead.
const (
	headOK       = iota // c.head holds the next request's head
	headGiveBack        // net/http's to serve: not a plain publish, or a shutdown
	headClosed          // the connection ended, timed out or broke
)

// readHead reads the next request's head into c.head and takes it from
// the buffer.
func (c *leanConn) readHead() int {
	if c.r == c.w {
		c.r, c.w = 0, 0
	}
	if c.idle > 0 {
		if d := time.Now().Add(c.idle); c.set.IsZero() || d.Sub(c.set) > deadlineSlack || d.Before(c.set) {
			c.want = d
		} else {
			c.want = c.set
		}
	} else {
		c.want = time.Time{}
	}
	timed := false
	for from := 0; ; {
		if c.r < c.w {
			n, next := headEnd(c.buf[c.r:c.w], from)
			if n > 0 {
				if !c.heads.parse(c.buf[c.r:c.r+n], &c.head) {
					return headGiveBack
				}
				c.r += n
				return headOK
			}
			from = next
			if !timed && c.headTimeout > 0 {
				// The head has begun: the rest is due within
				// ReadHeaderTimeout, as net/http has it.
				timed = true
				c.want = time.Now().Add(c.headTimeout)
			}
		}
		if c.w == len(c.buf) {
			if c.r == 0 {
				return headGiveBack // a head too large for the lean loop
			}
			c.w = copy(c.buf, c.buf[c.r:c.w])
			c.r = 0
		}
		c.waiting.Store(true)
		if c.stopping.Load() {
			c.waiting.Store(false)
			return headGiveBack
		}
		k, err := c.read(c.buf[c.w:])
		c.waiting.Store(false)
		c.w += k
		if err != nil && k == 0 {
			if c.stopping.Load() {
				return headGiveBack
			}
			if c.r < c.w && !isTimeout(err) {
				// Part of a head, then the client's end: net/http's
				// answer (or silence) is the right one.
				return headGiveBack
			}
			return headClosed
		}
	}
}

// read reads from the connection under the deadline wanted.
func (c *leanConn) read(p []byte) (int, error) {
	if !c.want.Equal(c.set) {
		if err := c.conn.SetReadDeadline(c.want); err != nil {
			return 0, err
		}
		c.set = c.want
	}
	if c.sock != nil {
		return c.sock.Read(p)
	}
	return c.conn.Read(p)
}

// isTimeout reports whether err is a deadline's.
func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// fill makes c.req the request of c.head.
func (c *leanConn) fill() *http.Request {
	r, h := c.req, &c.head
	hd := r.Header
	clear(hd)
	v := c.values[:0]
	r.Host = reuse(&c.host, h.host)
	if h.contentType != nil {
		v = append(v, reuse(&c.contentType, h.contentType))
		hd["Content-Type"] = v[len(v)-1:]
	}
	if h.authorization != nil {
		v = append(v, reuse(&c.authorization, h.authorization))
		hd["Authorization"] = v[len(v)-1:]
	}
	if len(h.origin) > 0 {
		n := len(v)
		for _, o := range h.origin {
			v = append(v, string(o))
		}
		hd["Origin"] = v[n:len(v):len(v)]
	}
	if len(h.fetchSite) > 0 {
		n := len(v)
		for _, s := range h.fetchSite {
			v = append(v, string(s))
		}
		hd["Sec-Fetch-Site"] = v[n:len(v):len(v)]
	}
	r.ContentLength = h.length
	r.Close = h.close
	c.body = leanBody{c: c, n: h.length}
	return r
}

// reuse returns b as a string: *last when it holds the same bytes (a
// client sends the same Host and key each time), else a new one, kept in
// *last.
func reuse(last *string, b []byte) string {
	if *last != string(b) {
		*last = string(b)
	}
	return *last
}

// serve runs the API's handler for r and writes its answer. It reports
// whether the connection serves another request: not when the request
// or the answer says Connection: close, the body was not read to its
// end, or the write failed.
func (c *leanConn) serve(r *http.Request, closing bool) bool {
	lw := &c.lw
	if len(lw.h) > 0 {
		clear(lw.h)
	}
	lw.code, lw.body, lw.api = 0, lw.body[:0], false
	c.aw.ResponseWriter, c.aw.code = lw, 0
	c.next.ServeHTTP(&c.aw, r)
	if c.body.n != 0 || c.body.err != nil {
		closing = true // the body's rest would be taken for a head
	}
	if len(lw.h) > 0 {
		if vs := lw.h["Connection"]; len(vs) > 0 {
			closing = closing || strings.EqualFold(vs[0], "close")
			delete(lw.h, "Connection")
		}
	}
	c.out = c.appendAnswer(c.out[:0], closing)
	if cap(lw.body) > 16<<10 {
		lw.body = nil
	}
	err := c.writeAnswer(c.out)
	if cap(c.out) > 16<<10 {
		c.out = nil
	}
	return err == nil && !closing
}

// writeAnswer writes the answer b, and the streams the publish woke
// (c.flush) once the answer is out or the socket is full: they wait for
// no client.
func (c *leanConn) writeAnswer(b []byte) error {
	if c.write > 0 {
		// Each answer within WriteTimeout, as net/http has it (the one it
		// set for the first request would pass).
		_ = c.conn.SetWriteDeadline(time.Now().Add(c.write))
	}
	if c.sock != nil {
		n, err := c.sock.WriteNow(b)
		if b = b[n:]; err != nil || len(b) == 0 {
			c.flushWrites()
			return err
		}
	}
	c.flushWrites()
	var err error
	if c.sock != nil {
		if testHookTakeOver != nil {
			testHookTakeOver("wait", c.conn) // the socket is full
		}
		_, err = c.sock.Write(b)
	} else {
		_, err = c.conn.Write(b)
	}
	return err
}

func (c *leanConn) flushWrites() {
	if c.flush != nil {
		c.flush()
	}
}

// appendAnswer appends the answer in c.lw: status line, header fields
// (values with line breaks turned into spaces, as net/http does), Date,
// Content-Length, then the body.
func (c *leanConn) appendAnswer(b []byte, closing bool) []byte {
	lw := &c.lw
	code := lw.code
	if code == 0 {
		code = http.StatusOK
	}
	if code == http.StatusOK {
		b = append(b, "HTTP/1.1 200 OK\r\n"...)
	} else {
		b = append(b, "HTTP/1.1 "...)
		b = strconv.AppendInt(b, int64(code), 10)
		b = append(b, ' ')
		b = append(b, http.StatusText(code)...)
		b = append(b, "\r\n"...)
	}
	if lw.api {
		b = append(b, apiFields...)
	}
	b = appendFields(b, lw.h)
	b = append(b, "Date: "...)
	b = append(b, c.dateNow()...)
	b = append(b, "\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(lw.body)), 10)
	if closing {
		b = append(b, "\r\nConnection: close"...)
	}
	b = append(b, "\r\n\r\n"...)
	return append(b, lw.body...)
}

// appendFields appends the header fields of h but those the answer's
// writer sets itself (Content-Length, Date, Transfer-Encoding,
// Connection) and names that are not tokens, values with line breaks
// turned into spaces, as net/http does.
func appendFields(b []byte, h http.Header) []byte {
	for k, vs := range h {
		if !isToken(k) || k == "Content-Length" || k == "Date" || k == "Transfer-Encoding" || k == "Connection" {
			continue
		}
		for _, v := range vs {
			b = append(b, k...)
			b = append(b, ": "...)
			if strings.IndexByte(v, '\n') < 0 && strings.IndexByte(v, '\r') < 0 {
				b = append(b, v...)
			} else {
				for i := range len(v) {
					if ch := v[i]; ch == '\r' || ch == '\n' {
						b = append(b, ' ')
					} else {
						b = append(b, ch)
					}
				}
			}
			b = append(b, "\r\n"...)
		}
	}
	return b
}

// dateNow returns the Date of an answer made now, formatted once a
// second.
func (c *leanConn) dateNow() []byte {
	now := time.Now()
	if s := now.Unix(); s != c.dateSec || c.date == nil {
		c.date = now.UTC().AppendFormat(c.date[:0], http.TimeFormat)
		c.dateSec = s
	}
	return c.date
}
