package halley

import (
	"context"
	"net/http"
	"time"
)

// MaxTokenLen bounds the token a client presents, in bytes: a longer one is
// refused as invalid_token before it is parsed.
const MaxTokenLen = 8 << 10

// TokenParam is the query parameter that carries a client's token where a
// header cannot be set (EventSource, browser WebSockets).
const TokenParam = "token"

// Grant is what an Authorizer decides about a client: who it is, until
// when, and what it may do beyond public channels.
type Grant struct {
	// User is the client's user (a JWT's sub). It becomes the user of the
	// client's session, which is then bound to it: a request of another
	// user (or an anonymous one) does not get that session. Empty:
	// anonymous.
	User string
	// Expires is when the grant ends: a stream opened with it is closed
	// with reason token_expired then, unless the client refreshed it (see
	// docs/protocol.md). Zero: never.
	Expires time.Time
	// Rights says which channels the client may read, which buses it may
	// write to and which notifier keys it may listen on. Nil: none, so the
	// client may read public channels only.
	Rights Rights
}

// Rights says what a client may do. Session channels, a session-scope
// bus's queue and a session's notifications are read by their own session
// whatever its rights; public channels by anybody.
type Rights interface {
	// CanSubscribe reports whether the client may read the channel (or
	// bus) with this id.
	CanSubscribe(channel string) bool
	// CanWrite reports whether the client may write to the bus.
	CanWrite(bus string) bool
	// CanListen reports whether the client may listen on the key of the
	// notifier.
	CanListen(notifier, key string) bool
}

// Authorizer authenticates the clients of the hub's transports and gives
// their rights (Config.Authorizer). Package auth/jwt has one for JSON Web
// Tokens; an application may write its own, for cookies or an existing
// session store.
type Authorizer interface {
	// Authorize returns the grant of a client request. token is the
	// credential the request carries, "" when none: the value of an
	// "Authorization: Bearer" header, or else of the token query parameter
	// (see TokenParam), at most MaxTokenLen bytes. For a WebSocket refresh
	// frame, r is the request that opened the connection and token the new
	// one.
	//
	// An error refuses the request: wrap ErrInvalidToken or
	// ErrTokenExpired (answered 401 with that reason), or ErrForbidden
	// (403). A request without a token should get Grant{} (anonymous:
	// public channels only) unless the application wants every client
	// authenticated.
	Authorize(ctx context.Context, r *http.Request, token string) (Grant, error)
}

// AuthorizerFunc makes a function an Authorizer.
type AuthorizerFunc func(ctx context.Context, r *http.Request, token string) (Grant, error)

// Authorize implements Authorizer.
func (f AuthorizerFunc) Authorize(ctx context.Context, r *http.Request, token string) (Grant, error) {
	return f(ctx, r, token)
}

// expired reports whether a grant that ends at t (zero: never) has ended.
func expired(t time.Time) bool { return !t.IsZero() && !time.Now().Before(t) }

// unixOrZero returns t in Unix seconds, or 0 for the zero time.
func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

// wakeAt wakes w at t (zero: never), so that a stream sees its grant end;
// the returned function cancels it.
func wakeAt(t time.Time, w *waiter) (stop func()) {
	if t.IsZero() {
		return func() {}
	}
	timer := time.AfterFunc(time.Until(t), w.notify)
	return func() { timer.Stop() }
}
