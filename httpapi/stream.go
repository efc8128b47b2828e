package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/halleyhq/halley/internal/jsonmark"
)

// StreamIdle is how long a publish stream may stay without a new line
// before the server ends it.
const StreamIdle = time.Minute

// streamFlushAt is how many bytes of answers a publish stream gathers at
// most before it writes them, while lines keep coming.
const streamFlushAt = 16 << 10

// streamPath is the publish stream's path.
const streamPath = "/api/publish/stream"

// ndjsonType is the content type of a publish stream's answer.
var ndjsonType = []string{"application/x-ndjson"}

// publishStream serves POST /api/publish/stream: a publisher that
// publishes a lot keeps one request open and sends one publication per
// line (the object POST /api/publish takes, {"channel":…,"data":…}); each
// line is answered, in order, by a line of the answer: the outcome
// {"offset":…,"delivered":…}, or {"error":…,"message":…,"status":…} for
// that line alone. Answers are flushed whenever no more line is waiting,
// so a publisher that sends many lines before reading gets many answers
// per write. The stream ends when the publisher ends its body, after
// StreamIdle without a line, at a line over the publication limit (its
// error is the last line), or when the hub shuts down (a last
// {"error":"shutdown"} line).
func (a *api) publishStream(w http.ResponseWriter, r *http.Request) {
	if !isJSON(r) {
		writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type",
			"the body must be lines of JSON with Content-Type: application/x-ndjson (or application/json)")
		return
	}
	h := w.Header()
	h["Content-Type"] = ndjsonType
	h["X-Content-Type-Options"] = nosniff
	h["Cache-Control"] = noStore
	if a.canLeanStream(r) && a.serveLeanStream(w, r) {
		return
	}
	rc := http.NewResponseController(w)
	if r.ProtoMajor == 1 {
		// HTTP/1 answers while it reads only when asked; HTTP/2 always.
		if err := rc.EnableFullDuplex(); err != nil {
			writeError(w, http.StatusInternalServerError, "internal", "this server cannot stream")
			return
		}
	}
	w.WriteHeader(http.StatusOK)
	if err := rc.Flush(); err != nil {
		return
	}
	ctx, flush := a.hub.DeferWrites(r.Context())
	defer flush()
	s := &streamLoop{
		a: a, r: r, br: bufio.NewReaderSize(r.Body, 16<<10), out: make([]byte, 0, 4<<10), flush: flush,
		setReadDeadline: rc.SetReadDeadline,
	}
	var writeAt time.Time // the write deadline last set
	s.write = func(b []byte) error {
		// This write may wait for the publisher to read: the streams the
		// lines woke must not, so they go first.
		s.flush()
		// A publisher that reads no answer for StreamIdle is cut (the
		// server's WriteTimeout, meant for one answer, does not bound a
		// stream); the deadline moves once a second, and not after a
		// shutdown's.
		if d := time.Now().Add(StreamIdle); d.Sub(writeAt) > deadlineSlack && !s.stopping.Load() {
			_ = rc.SetWriteDeadline(d)
			writeAt = d
			if s.stopping.Load() { // the shutdown's came meanwhile
				_ = rc.SetWriteDeadline(time.Now().Add(time.Second))
			}
		}
		_, err := w.Write(b)
		return errors.Join(err, rc.Flush())
	}
	// The hub's shutdown wakes a read in progress; a read that fails
	// then ends the stream with a last "shutdown" line, which the
	// publisher gets a second to take.
	stop := context.AfterFunc(doneContext(a.hub.Done()), func() {
		s.stop()
		_ = rc.SetWriteDeadline(time.Now().Add(time.Second))
	})
	defer stop()
	s.run(ctx)
}

// streamLoop reads the lines of a publish stream and answers them, over
// net/http (publishStream) or over a connection taken from it
// (leanstream.go).
type streamLoop struct {
	a  *api
	r  *http.Request
	br *bufio.Reader // the request's body
	// out holds the answers not written yet.
	out []byte
	// flush writes the streams the lines woke (Hub.DeferWrites).
	flush func()
	// write writes answers to the publisher, all of them, and calls
	// flush before it may wait for the publisher to read.
	write func([]byte) error
	// setReadDeadline sets the body's read deadline.
	setReadDeadline func(time.Time) error
	// stopping is set at a shutdown, which also cuts the read.
	stopping atomic.Bool
	idleAt   time.Time // the idle deadline last set
}

// stop ends the stream at a shutdown: a read in progress fails at once,
// and the stream ends with a last "shutdown" line.
func (s *streamLoop) stop() {
	s.stopping.Store(true)
	_ = s.setReadDeadline(time.Now())
}

// send writes the answers gathered, then the streams their lines woke;
// it reports whether the answers went out.
func (s *streamLoop) send() bool {
	if len(s.out) == 0 {
		s.flush()
		return true
	}
	err := s.write(s.out)
	s.out = s.out[:0]
	s.flush()
	return err == nil
}

// fault appends an error line that ends the stream and sends it.
func (s *streamLoop) fault(reason, message string, status int) {
	s.out = appendFault(s.out, reason, message, status)
	s.out = append(s.out, '\n')
	s.send()
}

func (s *streamLoop) shutdown() {
	s.fault("shutdown", "the server is shutting down", http.StatusServiceUnavailable)
}

// run serves the stream's lines until it ends.
func (s *streamLoop) run(ctx context.Context) {
	limit := s.a.publishLimit()
	for {
		if len(s.out) >= streamFlushAt && !s.send() {
			return // a publisher that sends on and on is answered as it goes
		}
		if waiting, _ := s.br.Peek(s.br.Buffered()); bytes.IndexByte(waiting, '\n') < 0 {
			// No whole line waiting: the next read may wait for the
			// publisher, which is answered first.
			if !s.send() {
				return
			}
			// The idle deadline moves only when it lags by more than
			// deadlineSlack: one timer change a second, not one a line.
			if d := time.Now().Add(StreamIdle); d.Sub(s.idleAt) > deadlineSlack {
				_ = s.setReadDeadline(d)
				s.idleAt = d
			}
			if s.stopping.Load() {
				// The shutdown came before this deadline replaced its.
				s.shutdown()
				return
			}
		}
		line, err := readLine(s.br, limit)
		switch {
		case err != nil && s.stopping.Load():
			s.shutdown()
			return
		case err == io.EOF && len(line) == 0:
			s.send()
			return
		case errors.Is(err, errLineTooLong):
			s.fault("body_too_large", "a line is over "+strconv.FormatInt(limit, 10)+" bytes", http.StatusRequestEntityTooLarge)
			return
		case err != nil && err != io.EOF:
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				s.send()
				return // the publisher went away
			}
			s.fault("body_timeout", "no line within "+StreamIdle.String(), http.StatusRequestTimeout)
			return
		}
		if b := bytes.TrimSpace(line); len(b) > 0 {
			s.out = s.a.publishLine(ctx, s.out, s.r, b)
			s.out = append(s.out, '\n')
			if s.br.Buffered() > 0 {
				s.flush() // more lines to read: the woken streams first
			}
		}
		if err == io.EOF {
			s.send()
			return
		}
	}
}

// publishLine publishes one line of a publish stream, b, and appends its
// answer.
func (a *api) publishLine(ctx context.Context, out []byte, r *http.Request, b []byte) []byte {
	if b[0] == '[' {
		return appendFault(out, "bad_request", "a line carries one publication, not an array", http.StatusBadRequest)
	}
	p, bad := decodePublication(b)
	if bad != nil {
		return appendFault(out, bad.reason, bad.message, http.StatusBadRequest)
	}
	if p.aliased && cap(b)-len(p.data) > aliasSlack {
		p.data = bytes.Clone(p.data) // the line is much larger than its message
	}
	c, ok := a.hub.Channel(p.channel)
	if !ok {
		return appendFault(out, "unknown_channel", "no live channel has the id "+p.channel, http.StatusNotFound)
	}
	if p.json {
		jsonmark.Mark(ctx, p.data)
	}
	res, err := c.Write(ctx, p.data)
	if err != nil {
		return a.appendItemError(out, r, err)
	}
	return appendOutcome(out, res)
}

var errLineTooLong = errors.New("line too long")

// readLine returns the next line of br without its line end, in memory of
// its own (a message keeps what it is given), reading at most limit
// bytes of it; at the end of the input it returns what is left with
// io.EOF.
func readLine(br *bufio.Reader, limit int64) ([]byte, error) {
	var line []byte
	for {
		frag, err := br.ReadSlice('\n')
		if int64(len(line)+len(frag)) > limit+1 {
			return nil, errLineTooLong
		}
		line = append(line, frag...)
		switch {
		case err == nil:
			return line[:len(line)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			return line, err
		}
	}
}

// doneContext returns a context cancelled when done is closed; it does
// not hold a goroutine: its Done is done itself.
func doneContext(done <-chan struct{}) context.Context { return doneCtx{done} }

type doneCtx struct{ done <-chan struct{} }

func (doneCtx) Deadline() (time.Time, bool) { return time.Time{}, false }
func (c doneCtx) Done() <-chan struct{}     { return c.done }
func (c doneCtx) Err() error {
	select {
	case <-c.done:
		return context.Canceled
	default:
		return nil
	}
}
func (doneCtx) Value(any) any { return nil }
