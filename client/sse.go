package client

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"

	"github.com/halleyhq/halley/internal/wire/frame"
)

// maxSSELine bounds one line of an SSE stream (a frame is one line).
const maxSSELine = 16 << 20

// runSSE reads one Server-Sent Events stream until it ends, fails, or the
// client changes (SSE cannot add a channel to a live stream: the client
// reconnects with the new set, from its positions).
func (c *Client) runSSE(ctx context.Context) (progress bool, err error) {
	if err := c.flushLost(ctx); err != nil {
		return false, err
	}
	if err := c.relistenHTTP(ctx); err != nil {
		return false, err
	}
	p := c.plan()
	if p.empty() {
		return false, errRestart
	}
	ctx, stop := watch(ctx, p.changed)
	defer stop()
	progress, err = c.readSSE(ctx, &p)
	return progress, restartOr(ctx, err)
}

func (c *Client) readSSE(ctx context.Context, p *plan) (progress bool, err error) {
	tok, err := c.bearer(ctx)
	if err != nil {
		return false, err
	}
	u := c.base.JoinPath("sse")
	q := url.Values{}
	for _, id := range p.fresh {
		q.Add("channel", id)
	}
	if len(p.cursor) > 0 {
		q.Set("cursor", p.cursor.String())
	}
	if p.last > 0 {
		q.Set("last", strconv.Itoa(p.last))
	}
	if p.session != "" {
		q.Set("session", p.session)
	}
	if c.presence {
		q.Set("presence", "1")
	}
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return false, &protocolError{msg: err.Error(), permanent: true}
	}
	c.request(req, p.session, tok)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cache-Control", "no-store")
	res, err := c.hc.Do(req)
	if err != nil {
		return false, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return false, c.connectRefusal(res, tok)
	}
	if mt, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type")); mt != "text/event-stream" {
		return false, &protocolError{msg: fmt.Sprintf("sse: answer of type %q, want text/event-stream", mt), permanent: true}
	}
	c.setSession(res.Header.Get(sessionHeader))
	return c.streamSSE(ctx, p, res.Body)
}

// streamSSE delivers the events of an SSE stream's body.
func (c *Client) streamSSE(ctx context.Context, p *plan, body io.Reader) (progress bool, err error) {
	r := newSSEReader(body)
	for {
		data, id, err := r.next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF // a stream ends with a close frame
			}
			return progress, fmt.Errorf("client: sse: %w", err)
		}
		for line := range bytes.SplitSeq(data, []byte{'\n'}) {
			if len(line) == 0 {
				continue
			}
			var ok bool
			if m, isMsg := frame.ParseMsg(line); isMsg {
				// The reader reuses its buffer: a payload that is a
				// part of the line is copied.
				ok, err = c.deliverMsg(ctx, m.Channel, m.Offset, "", m.Payload, !m.Aliased)
			} else {
				f, derr := frame.Decode(line)
				if derr != nil {
					return progress, fmt.Errorf("client: sse: bad frame: %w", derr)
				}
				ok, err = c.deliver(ctx, &f)
			}
			progress = progress || ok
			if err != nil {
				return progress, err
			}
		}
		// The id is the server's cursor after the event: it tells the
		// epochs that msg frames leave out. Only a client that lacks
		// some epoch needs it.
		if len(id) > 0 && c.epochless.Load() {
			if cur, err := frame.ParseCursor(string(id)); err == nil {
				c.adoptEpochs(cur)
			}
		}
		// A request has one "last": channels that want another start
		// come in once this stream has placed its own.
		if !p.complete && c.positioned(p.fresh) {
			return progress, errRestart
		}
	}
}

// sseReader parses a text/event-stream: it returns the data of each event
// (its "data" lines joined by LF) and its id, and skips comments, retry
// fields and events without data. It allocates nothing once its buffers
// have grown to the size of the events.
type sseReader struct {
	r *bufio.Reader
	// line holds a line longer than r's buffer; data and id the event
	// being read.
	line, data, id []byte
}

func newSSEReader(r io.Reader) *sseReader { return &sseReader{r: bufio.NewReaderSize(r, 64<<10)} }

// sseKeep bounds the buffers an sseReader keeps between events: an
// unusually large event does not hold its memory for the stream's life.
const sseKeep = 1 << 20

// next returns the data and the id of the next event, both valid until
// the next call.
func (s *sseReader) next() (data, id []byte, err error) {
	if cap(s.data) > sseKeep {
		s.data = nil
	}
	s.data, s.id = s.data[:0], s.id[:0]
	has := false
	for {
		line, err := s.readLine()
		if err != nil {
			return nil, nil, err
		}
		if len(line) == 0 {
			if has {
				return s.data, s.id, nil
			}
			s.id = s.id[:0]
			continue
		}
		name, value, _ := bytes.Cut(line, []byte{':'})
		value = bytes.TrimPrefix(value, []byte{' '})
		switch string(name) {
		case "": // a comment, such as a heartbeat
		case "data":
			if has {
				s.data = append(s.data, '\n')
			}
			s.data = append(s.data, value...)
			has = true
		case "id":
			s.id = append(s.id[:0], value...)
		}
	}
}

// readLine returns the next line without its LF or CRLF. The line is
// valid until the next call.
func (s *sseReader) readLine() ([]byte, error) {
	chunk, err := s.r.ReadSlice('\n')
	if err == nil {
		// The whole line is in r's buffer: no copy.
		return bytes.TrimSuffix(chunk[:len(chunk)-1], []byte{'\r'}), nil
	}
	if cap(s.line) > sseKeep {
		s.line = nil
	}
	s.line = s.line[:0]
	for {
		if len(s.line)+len(chunk) > maxSSELine {
			return nil, errors.New("line too long")
		}
		s.line = append(s.line, chunk...)
		switch {
		case err == nil:
			s.line = bytes.TrimSuffix(s.line[:len(s.line)-1], []byte{'\r'})
			return s.line, nil
		case errors.Is(err, bufio.ErrBufferFull):
			chunk, err = s.r.ReadSlice('\n')
		default:
			return nil, err
		}
	}
}
