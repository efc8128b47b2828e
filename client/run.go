package client

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/coder/websocket"
)

// errRestart ends a connection that must be made again at once: the
// transport or the set of channels changed.
var errRestart = errors.New("client: restart")

// errChanged is the cause of a connection's context cancelled by a
// change of the client.
var errChanged = errors.New("client: changed")

// closeError is the end of a stream announced by a close frame.
type closeError struct{ reason string }

func (e *closeError) Error() string { return "client: the server closed the stream: " + e.reason }

// Run connects to the server and delivers events until ctx is done, then
// returns nil. It reconnects after any failure, waiting as Options'
// backoff says (at least what a Retry-After header asks for), and
// resumes every channel from its position. A stream ended by its
// token's expiry is made again at once, with a new token from
// Options.Token (see "Tokens" in the package docs).
//
// Run returns early with an error only on a failure that retrying cannot
// fix: a bad server URL; a refusal with a 4xx status other than 408 and
// 429 (such as 404 for a URL that serves no hub, or 403
// forbidden_origin), or 501 for a transport the server lacks; a token
// refused (401, or 403 forbidden) without Options.Token, or refused and
// then given again by Token; a failure of Token. The error is then a
// *RefusedError when the server said why (Op "connect", or "listen" for
// a key the client listened to again), else an *APIError, or it wraps
// the error of Token. While no channel is
// subscribed (and no key is to be listened to again), Run waits without
// connecting.
func (c *Client) Run(ctx context.Context) error {
	if c.baseErr != nil {
		return c.baseErr
	}
	c.mu.Lock()
	if c.running {
		c.mu.Unlock()
		return ErrRunning
	}
	c.running = true
	c.mu.Unlock()
	defer func() {
		if c.ownHC {
			c.hc.CloseIdleConnections()
		}
		c.mu.Lock()
		c.running = false
		c.mu.Unlock()
	}()

	attempt := 0
	// rushed is set once a connection ended by its token's expiry was
	// made again at once; it is cleared by progress, so that a token that
	// keeps expiring is retried with backoff.
	rushed := false
	for ctx.Err() == nil {
		c.mu.Lock()
		t, changed := c.transport, c.changed
		idle := len(c.subs) == 0 && len(c.staleLocked()) == 0
		c.mu.Unlock()
		if idle {
			select {
			case <-ctx.Done():
			case <-changed:
			}
			continue
		}

		var progress bool
		var err error
		switch t {
		case SSE:
			progress, err = c.runSSE(ctx)
		case Poll:
			progress, err = c.runPoll(ctx)
		default:
			progress, err = c.runWS(ctx)
		}
		var fe *fatalError
		var re *RefusedError
		// A token refused may be followed by a better one from Token;
		// without Token there is none to try.
		refused := errors.As(err, &re) && re.tokenRefusal()
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, errRestart):
			attempt = 0
			continue
		case errors.As(err, &fe):
			return &transportError{t, fe.err}
		case refused && c.tokenFn == nil, !refused && permanent(err):
			return &transportError{t, err}
		}
		if progress {
			attempt, rushed = 0, false
		}
		if tokenExpired(err) && !rushed {
			rushed = true
			c.log.Info("halley client: the token expired, reconnecting with a new one", "transport", t)
			continue
		}
		d := c.backoff(attempt)
		attempt++
		ra := retryAfter(err)
		if ra > d {
			d = ra
		}
		if ra > 0 {
			changed = nil // the server asked for the wait: no change cuts it short
		}
		c.log.Info("halley client: connection lost, retrying", "transport", t, "in", d, "error", err)

		timer := time.NewTimer(d)
		select {
		case <-ctx.Done():
		case <-timer.C:
		case <-changed:
			// A new transport or channel is worth trying at once.
		}
		timer.Stop()
	}
	return nil
}

// backoff returns the wait before the attempt-th reconnection in a row:
// full jitter over an exponential bound.
func (c *Client) backoff(attempt int) time.Duration {
	bound := c.maxB
	if attempt < 32 {
		bound = min(c.maxB, c.minB<<attempt)
	}
	if bound <= 0 {
		bound = c.maxB
	}
	return rand.N(bound) + 1
}

// permanent reports whether retrying err is pointless.
func permanent(err error) bool {
	var ae *APIError
	if errors.As(err, &ae) {
		switch s := ae.Status; {
		case s == http.StatusNotImplemented:
			return true
		case s == http.StatusRequestTimeout || s == http.StatusTooManyRequests:
			return false
		default:
			return s >= 400 && s < 500
		}
	}
	var pe *protocolError
	if errors.As(err, &pe) {
		return pe.permanent
	}
	switch websocket.CloseStatus(err) {
	case 4400, websocket.StatusMessageTooBig, websocket.StatusPolicyViolation:
		// The server refused our frames: sending them again will not help.
		return true
	}
	return false
}

// protocolError is an answer that does not follow the protocol.
type protocolError struct {
	msg       string
	permanent bool
}

func (e *protocolError) Error() string { return "client: " + e.msg }

// watch returns a context cancelled, with cause errChanged, when changed
// is closed, and a stop function that releases the watcher and waits for
// it.
func watch(ctx context.Context, changed <-chan struct{}) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-changed:
			cancel(errChanged)
		case <-stop:
		case <-ctx.Done():
		}
	}()
	return ctx, func() {
		close(stop)
		<-done
		cancel(nil)
	}
}

// restartOr returns errRestart if ctx was cancelled by a change, else err.
func restartOr(ctx context.Context, err error) error {
	if errors.Is(context.Cause(ctx), errChanged) {
		return errRestart
	}
	return err
}

// transportError is the error that stopped Run on transport t. Its text
// says "client: " once, however many of the errors it wraps say it.
type transportError struct {
	t   Transport
	err error
}

func (e *transportError) Error() string {
	return "client: " + string(e.t) + ": " + strings.TrimPrefix(e.err.Error(), "client: ")
}

func (e *transportError) Unwrap() error { return e.err }
