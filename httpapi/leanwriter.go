package httpapi

import (
	"io"
	"net/http"
	"time"
)

// The request body and the response writer a taken-over connection's
// handler gets (takeover.go).

// leanBody is the body of a request the lean loop serves: its
// Content-Length's worth of bytes, from the buffer first.
type leanBody struct {
	c   *leanConn
	n   int64 // bytes left
	err error // the read that failed
}

func (b *leanBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.n {
		p = p[:b.n]
	}
	c := b.c
	var k int
	if c.r < c.w {
		k = copy(p, c.buf[c.r:c.w])
		c.r += k
	} else {
		var err error
		if k, err = c.read(p); k == 0 && err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			b.err = err
			return 0, err
		}
	}
	b.n -= int64(k)
	return k, nil
}

// Close implements io.ReadCloser; the loop deals with a body's rest.
func (b *leanBody) Close() error { return nil }

// leanWriter is the http.ResponseWriter of a request the lean loop
// serves: it keeps the answer for the loop to write, and lets the
// handler set the connection's deadlines (http.ResponseController).
type leanWriter struct {
	c    *leanConn
	h    http.Header
	code int
	body []byte
	// api: the answer has the API's headers (writeRaw's), which
	// appendAnswer writes as apiFields, not from h.
	api bool
}

// apiFields are the header fields of the API's JSON answers (writeRaw).
const apiFields = "Content-Type: application/json\r\nX-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\n"

// leanOf returns the lean loop's writer under w, the API's
// answerWriter, or nil when w is another.
func leanOf(w http.ResponseWriter) *leanWriter {
	if aw, ok := w.(*answerWriter); ok {
		lw, _ := aw.ResponseWriter.(*leanWriter)
		return lw
	}
	return nil
}

// bodyBuffered reports whether the request's body is in the loop's
// buffer whole: reading it waits for nothing.
func (w *leanWriter) bodyBuffered() bool {
	c := w.c
	return c.body.n <= int64(c.w-c.r)
}

// apiHeaders gives the answer writeRaw's header fields.
func (w *leanWriter) apiHeaders() {
	w.api = true
	if len(w.h) > 0 {
		delete(w.h, "Content-Type")
		delete(w.h, "X-Content-Type-Options")
		delete(w.h, "Cache-Control")
	}
}

func (w *leanWriter) Header() http.Header { return w.h }

func (w *leanWriter) WriteHeader(code int) {
	if w.code == 0 && code >= 200 {
		w.code = code
	}
}

func (w *leanWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	w.body = append(w.body, p...)
	return len(p), nil
}

// SetReadDeadline lets http.ResponseController bound the body's read:
// the deadline holds from the next read that waits on.
func (w *leanWriter) SetReadDeadline(t time.Time) error {
	w.c.want = t
	return nil
}

// SetWriteDeadline lets http.ResponseController bound the answer's
// write.
func (w *leanWriter) SetWriteDeadline(t time.Time) error { return w.c.conn.SetWriteDeadline(t) }
