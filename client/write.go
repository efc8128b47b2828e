package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/halleyhq/halley/internal/wire/frame"
)

// RefusedError is a request that the server refused with a reason: a
// Write, Listen or Unlisten, a WebSocket token refresh, or a connection
// (then Run returns it). Use errors.As to get it; switch on Reason, which
// is stable, never on Message. When the refusal was an HTTP answer, it
// wraps the *APIError of that answer.
type RefusedError struct {
	// Op is "write", "listen", "unlisten", "refresh" or "connect".
	Op string
	// Reason is the server's machine-readable reason (docs/protocol.md).
	// Writes: "rejected" (the bus's filter refused the message),
	// "message_too_large", "body_too_large", "not_a_bus" (a channel that
	// is not a bus), "unknown_channel". Listens: "unknown_notifier",
	// "invalid_options" (a key the notifier cannot parse). Tokens (any
	// op): "invalid_token", "token_expired", "forbidden" (the server's
	// Authorizer refused the client, or a write or listen the token does
	// not allow), "auth_unavailable". Connections: "forbidden_origin",
	// "too_many_connections", "rate_limited" and the others of
	// docs/protocol.md. Any of them: "deactivated" or "shutdown" while
	// the server does not serve.
	Reason string
	// Message explains the refusal; for "rejected", it is the reason the
	// filter gave.
	Message string
	// Status is the HTTP status of the answer, 0 when the refusal came
	// over WebSocket.
	Status int

	api *APIError // the answer, when it was HTTP
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("client: %s refused: %s: %s", e.Op, e.Reason, e.Message)
}

// Unwrap returns the *APIError of the answer, nil for a refusal that came
// over WebSocket.
func (e *RefusedError) Unwrap() error {
	if e.api == nil {
		return nil
	}
	return e.api
}

// ErrConnectionLost is returned by Write and Listen when the WebSocket
// connection that carried the request ended (it failed, or the client
// switched transports) before the server answered:
// the request may or may not have taken effect. The client never sends it
// again by itself.
var ErrConnectionLost = errors.New("client: connection lost before the server answered")

// maxWSWrite bounds the write frames sent over WebSocket: the server's
// default limit on a client message is 64 KiB, and a message over the
// limit costs the connection. Larger writes go over HTTP.
const maxWSWrite = 64 << 10

// Write writes data to bus as this client's session, so that the bus's
// filter sees who writes, and returns the offset the message got in the
// bus. Every reader of the bus, this client included (if it subscribes to
// the bus), gets the message through its subscription.
//
// Over a connected WebSocket, Write sends a write frame and waits for the
// server's answer. Otherwise (SSE, long-poll, a WebSocket not connected
// yet, or a frame over 64 KiB) it posts to /write with the client's
// session; a client that has no session yet takes the one the answer
// gives, and its later connections use it. (A Write made while Run makes
// its very first connection may so end up in a session of its own; wait
// for the first event, or call Write before Run, to avoid it.)
//
// # Order
//
// Writes of one client enter the bus in the order their Write calls
// return: a Write called after another one returned enters the bus after
// it. Concurrent Write calls enter in no promised order.
//
// # Errors
//
// A refusal is a *RefusedError: for example Reason "rejected" with the
// filter's reason as Message, "not_a_bus", or "forbidden" for a bus the
// client's token does not allow writing to. When ctx is done or the
// WebSocket connection ends before the answer (ErrConnectionLost), the
// write may still have entered the bus (even after later writes): Write
// never sends a message twice, so it never retries one that may have been
// sent.
func (c *Client) Write(ctx context.Context, bus string, data []byte) (offset uint64, err error) {
	if bus == "" {
		return 0, errors.New("client: write: no bus")
	}
	for {
		c.mu.Lock()
		l := c.ws
		c.mu.Unlock()
		if l == nil {
			break
		}
		ref := strconv.FormatUint(c.refs.Add(1), 10)
		f := appendWriteFrame(nil, bus, data, ref)
		if len(f) > maxWSWrite {
			break
		}
		op := &wsOp{frame: f, ref: ref, done: make(chan wsAnswer, 1)}
		if !l.enqueue(op) {
			continue // the connection is going: take the next way
		}
		a := l.await(ctx, op)
		if errors.Is(a.err, errNotSent) {
			continue
		}
		if a.err != nil {
			return 0, wrapOp("write", a.err)
		}
		return a.offset, nil
	}
	body := []byte(`{"channel":`)
	body = frame.AppendString(body, bus)
	body = append(body, ',')
	body = append(frame.AppendData(body, data), '}')
	ans, err := c.post(ctx, "write", body)
	if err != nil {
		return 0, err
	}
	return ans.Offset, nil
}

// appendWriteFrame appends the write frame of data for bus.
func appendWriteFrame(dst []byte, bus string, data []byte, ref string) []byte {
	dst = append(dst, `{"type":"write","channel":`...)
	dst = frame.AppendString(dst, bus)
	dst = append(dst, ',')
	dst = frame.AppendData(dst, data)
	dst = append(dst, `,"ref":`...)
	dst = frame.AppendString(dst, ref)
	return append(dst, '}')
}

// wrapOp names op in err, unless err is already a *RefusedError, which
// names it.
func wrapOp(op string, err error) error {
	var re *RefusedError
	if errors.As(err, &re) {
		re.Op = op
		return err
	}
	return fmt.Errorf("client: %s: %w", op, err)
}

// opAnswer is the answer of POST /write, /listen and /unlisten.
type opAnswer struct {
	Session string `json:"session"`
	Offset  uint64 `json:"offset"`
	Channel string `json:"channel"`
}

// post sends body to POST /<op> in the client's session, and adopts the
// session the answer names. A refusal with a reason is a *RefusedError.
func (c *Client) post(ctx context.Context, op string, body []byte) (opAnswer, error) {
	var ans opAnswer
	if c.baseErr != nil {
		return ans, c.baseErr
	}
	c.mu.Lock()
	session, running := c.session, c.running
	c.mu.Unlock()
	if c.ownHC && !running {
		// Run closes the idle connections of its own HTTP client when it
		// returns; without Run, every call does.
		defer c.hc.CloseIdleConnections()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base.JoinPath(op).String(), bytes.NewReader(body))
	if err != nil {
		return ans, fmt.Errorf("client: %s: %w", op, err)
	}
	tok, err := c.bearer(ctx)
	if err != nil {
		return ans, fmt.Errorf("client: %s: %w", op, err)
	}
	c.request(req, session, tok)
	req.Header.Set("Content-Type", "application/json")
	res, err := c.hc.Do(req)
	if err != nil {
		return ans, fmt.Errorf("client: %s: %w", op, err)
	}
	defer res.Body.Close()
	// A refused request may have made a session too.
	c.setSession(res.Header.Get(sessionHeader))
	if res.StatusCode != http.StatusOK {
		ae := readAPIError(res)
		if ae.Reason != "" {
			re := &RefusedError{Op: op, Reason: ae.Reason, Message: ae.Message, Status: ae.Status, api: ae}
			c.noteRefused(tok, re)
			return ans, re
		}
		return ans, fmt.Errorf("client: %s: %w", op, ae)
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 64<<10)).Decode(&ans); err != nil {
		return ans, fmt.Errorf("client: %s: bad answer: %w", op, err)
	}
	c.setSession(ans.Session)
	return ans, nil
}
