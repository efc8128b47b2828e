package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"time"

	"github.com/halleyhq/halley/internal/sockio"
)

// A publish stream over HTTP/1.1 through net/http pays, for each line,
// the chunked body's reader and the answer's writer and flush, and
// system calls made with the runtime's bookkeeping around a call that may
// block, which wakes its monitor thread after every idle moment (as the
// lean loop of takeover.go found for publishes). With Options.TakeOver,
// once the API's rules have passed (key, observer, content type), the
// stream's connection is taken from net/http: its body's chunks are read
// and its answer's chunks written on the socket itself, one system call
// each (package sockio), by the same loop (streamLoop). The answer says
// Connection: close, and the connection closes at the stream's end.

// canLeanStream reports whether r, a publish stream the API accepted, is
// taken from net/http: over HTTP/1.1 without TLS, with a chunked body or
// one of known length and no Expect, from a server whose Shutdown reaches
// the connection, and a live hub that takes connections back (as for
// the lean loop: nothing is taken until the server serves them).
func (a *api) canLeanStream(r *http.Request) bool {
	if !a.leanStreams || r.ProtoMajor != 1 || r.ProtoMinor != 1 || r.TLS != nil ||
		r.Header["Expect"] != nil || !a.hub.ReturnsConns() {
		return false
	}
	switch {
	case len(r.TransferEncoding) == 1 && r.TransferEncoding[0] == "chunked":
	case r.TransferEncoding == nil && r.ContentLength >= 0:
	default:
		return false
	}
	return a.takeable(r)
}

// leanStream is a publish stream's connection taken from net/http.
type leanStream struct {
	conn net.Conn
	// sock is conn's socket (package sockio); nil: conn's own Read and
	// Write.
	sock *sockio.Conn
	// pending is what net/http had read past the request's head.
	pending []byte
	loop    streamLoop
	chunk   []byte // the chunk being written
}

// serveLeanStream serves the publish stream r on its connection, taken
// from net/http (the answer's header fields are in w's Header); it
// reports false when the connection could not be taken, and w is then
// untouched.
func (a *api) serveLeanStream(w http.ResponseWriter, r *http.Request) bool {
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return false
	}
	defer conn.Close()
	if testHookTakeOver != nil {
		testHookTakeOver("stream", conn)
	}
	if aw, ok := w.(*answerWriter); ok && aw.code == 0 {
		aw.code = http.StatusOK // for the observer, and recover's "started"
	}
	srv := r.Context().Value(http.ServerContextKey).(*http.Server)
	s := &leanStream{conn: conn, sock: sockio.NewConn(conn)}
	if n := brw.Reader.Buffered(); n > 0 {
		b, _ := brw.Reader.Peek(n)
		s.pending = bytes.Clone(b)
	}
	head := append(make([]byte, 0, 256), "HTTP/1.1 200 OK\r\n"...)
	head = appendFields(head, w.Header())
	head = append(head, "Date: "...)
	head = time.Now().UTC().AppendFormat(head, http.TimeFormat)
	head = append(head, "\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"...)
	if s.writeAll(head) != nil {
		return true
	}

	var body io.Reader = s
	if r.TransferEncoding != nil {
		body = httputil.NewChunkedReader(s) // through a bufio.Reader of 4 KiB, as net/http's
	} else {
		body = io.LimitReader(s, r.ContentLength)
	}
	ctx, flush := a.hub.DeferWrites(r.Context())
	defer flush()
	s.loop = streamLoop{
		a: a, r: r, br: bufio.NewReaderSize(body, 16<<10), out: make([]byte, 0, 4<<10), flush: flush,
		write: s.writeChunk, setReadDeadline: conn.SetReadDeadline,
	}
	if !a.track(srv, s) {
		s.loop.shutdown() // the server or the hub shuts down already
	} else {
		defer a.untrack(s)
		stop := context.AfterFunc(doneContext(a.hub.Done()), s.stop)
		defer stop()
		s.loop.run(ctx)
	}
	_ = s.writeAll(lastChunk) // the answer's end
	return true
}

// lastChunk ends a chunked answer.
var lastChunk = []byte("0\r\n\r\n")

// Read reads the request's body: what net/http read past the head, then
// the socket.
func (s *leanStream) Read(p []byte) (int, error) {
	if len(s.pending) > 0 {
		n := copy(p, s.pending)
		s.pending = s.pending[n:]
		return n, nil
	}
	if s.sock != nil {
		return s.sock.Read(p)
	}
	return s.conn.Read(p)
}

// writeChunk writes b, whole lines of answers, as one chunk of the
// answer.
func (s *leanStream) writeChunk(b []byte) error {
	c := strconv.AppendInt(s.chunk[:0], int64(len(b)), 16)
	c = append(c, "\r\n"...)
	c = append(c, b...)
	c = append(c, "\r\n"...)
	err := s.send(c)
	if cap(c) <= 2*streamFlushAt {
		s.chunk = c // kept, unless an odd one made it large
	}
	return err
}

// send writes b: what the socket takes now, then, before it waits for
// the publisher to read the rest, the streams the lines woke, which
// must not wait for it.
func (s *leanStream) send(b []byte) error {
	if s.sock != nil {
		n, err := s.sock.WriteNow(b)
		if b = b[n:]; err != nil || len(b) == 0 {
			return err
		}
		if testHookTakeOver != nil {
			testHookTakeOver("wait", s.conn) // the socket is full
		}
	}
	s.loop.flush()
	return s.writeAll(b)
}

// writeAll writes all of b, waiting while the socket is full: within
// StreamIdle (a publisher that reads no answer for that long is cut, as
// over net/http), or within the second a shutdown gives. The deadline
// is set only here, where a write may wait: a write that the socket
// takes at once (WriteNow) costs no timer.
func (s *leanStream) writeAll(b []byte) error {
	stopping := s.loop.stopping.Load()
	d := StreamIdle
	if stopping {
		d = time.Second
	}
	_ = s.conn.SetWriteDeadline(time.Now().Add(d))
	if !stopping && s.loop.stopping.Load() { // the shutdown's came meanwhile
		stopping = true
		_ = s.conn.SetWriteDeadline(time.Now().Add(time.Second))
	}
	var err error
	if s.sock != nil {
		_, err = s.sock.Write(b)
	} else {
		_, err = s.conn.Write(b)
	}
	if !stopping && !s.loop.stopping.Load() {
		_ = s.conn.SetWriteDeadline(time.Time{}) // the next WriteNow has none
	}
	return err
}

// stop ends the stream at a shutdown (the server's or the hub's): a read
// in progress fails at once and the stream ends with a "shutdown" line,
// which the publisher gets a second to take.
func (s *leanStream) stop() {
	s.loop.stop()
	_ = s.conn.SetWriteDeadline(time.Now().Add(time.Second))
}
