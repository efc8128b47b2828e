package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/coder/websocket"

	"github.com/halleyhq/halley/internal/wire/frame"
)

// StaticToken returns an Options.Token that always gives tok: for a token
// that outlives the client's run, or for tools. Once the server has
// refused tok (invalid, expired, forbidden), Run returns that refusal
// instead of presenting it again.
func StaticToken(tok string) func(context.Context) (string, error) {
	return func(context.Context) (string, error) { return tok, nil }
}

// Reasons of the server's refusals of a token (docs/protocol.md).
const (
	reasonTokenExpired = "token_expired"
	reasonForbidden    = "forbidden"
)

// wsStatusTokenExpired is the WebSocket close status of a stream whose
// grant ran out.
const wsStatusTokenExpired websocket.StatusCode = 4401

// refreshLead is the least time before a grant's end at which the
// client refreshes it over WebSocket.
const refreshLead = time.Second

// fatalError ends Run: a failure of Options.Token, or a token the server
// already refused that Token gave again. Retrying cannot help.
type fatalError struct{ err error }

func (e *fatalError) Error() string { return e.err.Error() }
func (e *fatalError) Unwrap() error { return e.err }

// bearer returns the token for a request, "" without Options.Token. A
// failure of Token is a *fatalError, unless ctx is done: that is ctx's
// cause. A token the server has refused is not presented again: its
// refusal is a *fatalError. The exception is a token refused as expired,
// which may be presented once more: the server's clock may be a little
// ahead of the token source's, which then gives it again while it renews
// it.
func (c *Client) bearer(ctx context.Context) (string, error) {
	if c.tokenFn == nil {
		return "", nil
	}
	tok, err := c.tokenFn(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return "", context.Cause(ctx)
		}
		return "", &fatalError{err: fmt.Errorf("client: token: %w", err)}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.refusal != nil && tok == c.refusedToken && (c.refusal.Reason != reasonTokenExpired || c.refusedTwice) {
		re := *c.refusal // each caller's own
		return "", &fatalError{err: &re}
	}
	return tok, nil
}

// noteRefused records that the server refused tok, when re is a refusal
// of the token itself (see tokenRefusal).
func (c *Client) noteRefused(tok string, re *RefusedError) {
	if tok == "" || !re.tokenRefusal() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.refusal != nil && tok == c.refusedToken {
		c.refusedTwice = true
		return
	}
	c.refusedToken, c.refusal, c.refusedTwice = tok, re, false
}

// tokenRefusal reports whether the refusal is about the token itself,
// which another token may fix: a 401 (invalid_token, token_expired), or a
// connection the Authorizer refused (403 forbidden). A 403 forbidden of a
// listen or a write is about one bus or key, and forbidden_origin about
// the page's origin, which no token changes.
func (e *RefusedError) tokenRefusal() bool {
	return e.Status == http.StatusUnauthorized ||
		e.Op == "connect" && e.Status == http.StatusForbidden && e.Reason == reasonForbidden
}

// connectRefusal returns the error of a connection the server refused
// with res: a *RefusedError when the answer gives a reason (recorded
// when it is a refusal of tok), else an *APIError.
func (c *Client) connectRefusal(res *http.Response, tok string) error {
	ae := readAPIError(res)
	if ae.Reason == "" {
		return ae
	}
	re := &RefusedError{Op: "connect", Reason: ae.Reason, Message: ae.Message, Status: ae.Status, api: ae}
	c.noteRefused(tok, re)
	return re
}

// tokenExpired reports whether err ended a connection because its
// token's grant ran out: a close frame or a WebSocket close status that
// says so, or a refusal at connection.
func tokenExpired(err error) bool {
	var ce *closeError
	if errors.As(err, &ce) {
		return ce.reason == reasonTokenExpired
	}
	var re *RefusedError
	if errors.As(err, &re) {
		return re.Reason == reasonTokenExpired
	}
	return websocket.CloseStatus(err) == wsStatusTokenExpired
}

// retryAfter returns the wait the server asked for (Retry-After), 0 when
// none.
func retryAfter(err error) time.Duration {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.RetryAfter
	}
	return 0
}

// refreshWS keeps a WebSocket connection's grant alive. From the expiry
// its hello frame gives, it sends a refresh frame with a new token at
// about 80% of the grant's remaining life (and at least refreshLead
// before its end), then again from the expiry of each refreshed frame. A
// refusal, a failure of Token, or a token that does not move the end
// (the connection's own token is not even sent) is logged and tried once
// more, halfway to the end; after that the grant
// runs out, the server closes the stream (token_expired), and Run
// reconnects with a new token. It returns when ctx is done.
func (c *Client) refreshWS(ctx context.Context, l *wsLink) {
	var exp int64
	select {
	case exp = <-l.expires:
	case <-ctx.Done():
		return
	}
	if exp == 0 {
		return // a grant without end
	}
	timer := time.NewTimer(time.Until(refreshAt(time.Now(), exp)))
	defer timer.Stop()
	retried := false
	for {
		select {
		case <-timer.C:
		case <-ctx.Done():
			return
		}
		next, err := c.refreshOnce(ctx, l)
		if ctx.Err() != nil {
			return
		}
		if err == nil && next != 0 && next <= exp {
			err = errors.New("client: refresh: the new token does not extend the grant")
		}
		switch {
		case err == nil && next == 0:
			return // the new grant has no end
		case err == nil:
			exp, retried = next, false
			timer.Reset(time.Until(refreshAt(time.Now(), exp)))
		case retried:
			c.log.Log(ctx, refreshLevel(err), "halley client: cannot refresh the token; the stream ends when it expires",
				"expires", time.Unix(exp, 0), "error", err)
			return
		default:
			c.log.Log(ctx, refreshLevel(err), "halley client: cannot refresh the token; trying again", "error", err)
			retried = true
			now := time.Now()
			timer.Reset(time.Unix(exp, 0).Sub(now) / 2)
		}
	}
}

// refreshAt returns when to refresh a grant that ends at exp (Unix
// seconds): after 80% of its remaining life, at least refreshLead before
// its end, and not before now.
func refreshAt(now time.Time, exp int64) time.Time {
	end := time.Unix(exp, 0)
	at := now.Add(end.Sub(now) * 8 / 10)
	if end.Sub(at) < refreshLead {
		at = end.Add(-refreshLead)
	}
	if at.Before(now) {
		at = now
	}
	return at
}

// errSameToken is the failure of a refresh for which Token gave the
// token the connection has (StaticToken always does): sending it would
// not move the grant's end.
var errSameToken = errors.New("client: refresh: Token gave the same token")

// refreshLevel is the level of the log of a failed refresh: a fixed token
// is expected not to refresh.
func refreshLevel(err error) slog.Level {
	if errors.Is(err, errSameToken) {
		return slog.LevelDebug
	}
	return slog.LevelWarn
}

// refreshOnce sends a refresh frame with a new token on l and returns the
// expiry of the grant it got (0: none), or why it got none.
func (c *Client) refreshOnce(ctx context.Context, l *wsLink) (int64, error) {
	tok, err := c.bearer(ctx)
	if err != nil {
		return 0, err
	}
	switch tok {
	case "":
		// The server would take an empty token for a bad frame.
		return 0, errors.New("client: refresh: Token gave no token")
	case l.token:
		return 0, errSameToken
	}
	ref := "refresh-" + strconv.FormatUint(c.refs.Add(1), 10)
	op := &wsOp{frame: appendRefreshFrame(nil, tok, ref), ref: ref, done: make(chan wsAnswer, 1)}
	if !l.enqueue(op) {
		return 0, ErrConnectionLost
	}
	a := l.await(ctx, op)
	if a.err != nil {
		if errors.Is(a.err, errNotSent) {
			a.err = ErrConnectionLost
		}
		return 0, wrapOp("refresh", a.err)
	}
	l.token = tok
	return a.expires, nil
}

// appendRefreshFrame appends the refresh frame of tok.
func appendRefreshFrame(dst []byte, tok, ref string) []byte {
	dst = append(dst, `{"type":"refresh","token":`...)
	dst = frame.AppendString(dst, tok)
	dst = append(dst, `,"ref":`...)
	dst = frame.AppendString(dst, ref)
	return append(dst, '}')
}
