package jwt

import jwtlib "github.com/golang-jwt/jwt/v5"

// Claims are the claims of a Halley client token. Of the registered claims
// (RFC 7519):
//   - "exp" is required: the token is refused after it (plus
//     Options.Leeway), and exp plus the leeway becomes Grant.Expires;
//   - "sub" becomes Grant.User, the user the client's session is bound to
//     ("" or absent: anonymous, with the token's rights); one with a control
//     character is refused;
//   - "nbf" is honoured when present;
//   - "aud" and "iss" are checked when Options.Audience and Options.Issuer
//     are set;
//   - "iat" and "jti" are not checked.
//
// Halley's own claims are lists of patterns (see package auth) that become
// Grant.Rights; absent, the client reads public channels only:
//   - "channels": the channels and buses the client may read, such as
//     ["news", "user:alice*"];
//   - "write": the buses it may write to, such as ["chat"];
//   - "listen": the notifier keys it may listen on, as "notifier:keypattern"
//     ("docs:42", "docs:*") or "*" for all.
//
// A payload:
//
//	{"sub":"alice","exp":1767225600,"channels":["news","user:alice*"],"write":["chat"],"listen":["docs:*"]}
type Claims struct {
	jwtlib.RegisteredClaims
	// Channels is the "channels" claim.
	Channels []string `json:"channels,omitempty"`
	// Write is the "write" claim.
	Write []string `json:"write,omitempty"`
	// Listen is the "listen" claim.
	Listen []string `json:"listen,omitempty"`
}
