package client

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
)

// PublishStream is a publish stream (POST /api/publish/stream): one
// request held open, one publication per line, each answered in order.
// A backend that publishes a lot saves a request per message. Send and
// Recv may be used from two goroutines, one each, to keep several
// publications in flight; Publish does both for one message.
type PublishStream struct {
	pw   *io.PipeWriter
	res  *http.Response
	br   *bufio.Reader
	mu   sync.Mutex // Send's
	line []byte
	once sync.Once
}

// OpenPublishStream opens a publish stream; ctx bounds its whole life.
// Close it when done.
func (a *API) OpenPublishStream(ctx context.Context) (*PublishStream, error) {
	pr, pw := io.Pipe()
	// A connection of its own: one kept alive from an earlier request
	// may be closing (after a stream that ended on an error, the server
	// closes it), and net/http then waits for the request's body to end
	// before it reports the failure, which this body never does.
	sa := *a
	sa.HTTPClient = streamClient(a.HTTPClient)
	res, err := sa.roundTrip(ctx, http.MethodPost, "/api/publish/stream", pr, "application/x-ndjson")
	if err != nil {
		pw.Close()
		return nil, fmt.Errorf("client: publish stream: %w", err)
	}
	if res.StatusCode != http.StatusOK {
		defer res.Body.Close()
		pw.Close()
		return nil, fmt.Errorf("client: publish stream: %w", readAPIError(res))
	}
	return &PublishStream{pw: pw, res: res, br: bufio.NewReader(res.Body)}, nil
}

// Send sends one publication, as Publish sends it (JSON as JSON, anything
// else as a JSON string); its outcome is the next Recv's.
func (s *PublishStream) Send(channel string, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := appendPublication(s.line[:0], channel, data)
	if err != nil {
		return fmt.Errorf("client: publish stream: %w", err)
	}
	s.line = append(b, '\n')
	if _, err := s.pw.Write(s.line); err != nil {
		return fmt.Errorf("client: publish stream: %w", err)
	}
	return nil
}

// Recv returns the outcome of the oldest publication sent and not yet
// received. A refusal of that one publication is its Err, an *APIError;
// an error of Recv itself ends the stream (the server said why with an
// *APIError, or the connection failed).
func (s *PublishStream) Recv() (Published, error) {
	line, err := s.br.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return Published{}, fmt.Errorf("client: publish stream: %w", err)
	}
	var r struct {
		Offset    uint64 `json:"offset"`
		Delivered int    `json:"delivered"`
		Error     string `json:"error"`
		Message   string `json:"message"`
		Status    int    `json:"status"`
	}
	if err := json.Unmarshal(line, &r); err != nil {
		return Published{}, fmt.Errorf("client: publish stream: bad answer: %w", err)
	}
	if r.Error != "" {
		e := &APIError{Status: r.Status, Reason: r.Error, Message: r.Message}
		switch r.Error {
		case "shutdown", "body_timeout", "body_too_large":
			return Published{}, fmt.Errorf("client: publish stream: %w", e) // the stream's end
		}
		return Published{Err: e}, nil
	}
	return Published{Offset: r.Offset, Delivered: r.Delivered}, nil
}

// Publish sends one publication and waits for its outcome. It must not
// be mixed with Send and Recv from other goroutines.
func (s *PublishStream) Publish(channel string, data []byte) (offset uint64, delivered int, err error) {
	if err := s.Send(channel, data); err != nil {
		return 0, 0, err
	}
	p, err := s.Recv()
	if err == nil {
		err = p.Err
	}
	return p.Offset, p.Delivered, err
}

// Close ends the stream: the server answers what was sent, which Close
// reads and drops, and ends its answer.
func (s *PublishStream) Close() error {
	var err error
	s.once.Do(func() {
		s.mu.Lock()
		_ = s.pw.Close()
		s.mu.Unlock()
		_, _ = io.Copy(io.Discard, io.LimitReader(s.br, 64<<20))
		err = s.res.Body.Close()
	})
	return err
}

// appendPublication appends {"channel":…,"data":…} as Publish sends it.
func appendPublication(b []byte, channel string, data []byte) ([]byte, error) {
	ch, err := json.Marshal(channel)
	if err != nil {
		return nil, err
	}
	b = append(b, `{"channel":`...)
	b = append(b, ch...)
	b = append(b, `,"data":`...)
	if json.Valid(data) {
		b = append(b, data...)
	} else {
		s, err := json.Marshal(string(data))
		if err != nil {
			return nil, err
		}
		b = append(b, s...)
	}
	return append(b, '}'), nil
}

// streamClient returns hc (nil: http.DefaultClient) with a transport
// that keeps no connection alive, when its transport is an
// *http.Transport (the default); other transports are used as they are.
func streamClient(hc *http.Client) *http.Client {
	if hc == nil {
		hc = http.DefaultClient
	}
	rt := hc.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	t, ok := rt.(*http.Transport)
	if !ok {
		return hc
	}
	t = t.Clone()
	t.DisableKeepAlives = true
	c := *hc
	c.Transport = t
	return &c
}
