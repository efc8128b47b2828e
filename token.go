package halley

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
)

// tokenOf returns the token a request carries: the first
// "Authorization: Bearer" value, or else the token query parameter; "" when
// there is none. Authorization headers of other schemes (Basic, for a
// proxy) are not Halley's and are passed over. A token longer than
// MaxTokenLen is refused.
func tokenOf(r *http.Request) (string, error) {
	tok, found := "", false
	for _, v := range r.Header.Values("Authorization") {
		if t, ok := bearerToken(v); ok {
			tok, found = t, true
			break
		}
	}
	if !found {
		tok = r.URL.Query().Get(TokenParam)
	}
	if len(tok) > MaxTokenLen {
		return "", fmt.Errorf("%w: the token is over %d bytes", ErrInvalidToken, MaxTokenLen)
	}
	return tok, nil
}

// bearerToken returns the token of an "Authorization: Bearer <token>"
// value (the scheme is case-insensitive).
func bearerToken(v string) (string, bool) {
	const scheme = "bearer "
	if len(v) < len(scheme) || !strings.EqualFold(v[:len(scheme)], scheme) {
		return "", false
	}
	return strings.TrimSpace(v[len(scheme):]), true
}

// grantOf returns what the request's token grants: the anonymous grant,
// which allows everything, without an Authorizer (the token is not even
// looked for then).
func (h *Hub) grantOf(r *http.Request) (Grant, error) {
	if h.cfg.Authorizer == nil {
		return Grant{}, nil
	}
	tok, err := tokenOf(r)
	if err != nil {
		return Grant{}, err
	}
	return h.authorize(r, tok)
}

// authorize asks the hub's Authorizer about a request that carries token.
// Without an Authorizer every client gets the anonymous grant, which
// allows everything (see Config.Authorizer).
func (h *Hub) authorize(r *http.Request, token string) (Grant, error) {
	if h.cfg.Authorizer == nil {
		return Grant{}, nil
	}
	if len(token) > MaxTokenLen {
		return Grant{}, fmt.Errorf("%w: the token is over %d bytes", ErrInvalidToken, MaxTokenLen)
	}
	return h.cfg.Authorizer.Authorize(r.Context(), r, token)
}

// authStatus maps an Authorizer's error to the status, reason and message
// of the answer: 401 for a bad or expired token, 403 for a refusal, 503
// for anything else (the Authorizer could not decide).
func (h *Hub) authStatus(err error) (int, string, string) {
	switch {
	case errors.Is(err, ErrTokenExpired):
		return http.StatusUnauthorized, "token_expired", "the token has expired"
	case errors.Is(err, ErrInvalidToken):
		return http.StatusUnauthorized, "invalid_token", err.Error()
	case errors.Is(err, ErrForbidden):
		return http.StatusForbidden, "forbidden", err.Error()
	}
	h.log.Warn("halley: authorizer failed", "err", err)
	return http.StatusServiceUnavailable, "auth_unavailable", "the server cannot check the token now"
}

// writeAuthError answers a request the Authorizer refused.
func (h *Hub) writeAuthError(w http.ResponseWriter, err error) {
	code, reason, msg := h.authStatus(err)
	if code == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="halley", error="invalid_token"`)
	}
	h.jsonError(w, code, reason, msg)
}

// logRefusal logs a refused request once, at debug level: refusals are
// what an attacker makes many of.
func (h *Hub) logRefusal(r *http.Request, reason string) {
	h.log.LogAttrs(r.Context(), slog.LevelDebug, "halley: request refused",
		slog.String("reason", reason), slog.String("path", r.URL.Path), slog.String("remote", r.RemoteAddr))
}
