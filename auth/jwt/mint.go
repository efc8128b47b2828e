package jwt

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"fmt"
	"time"

	jwtlib "github.com/golang-jwt/jwt/v5"

	"github.com/halleyhq/halley/auth"
)

// MintOptions say what a token minted by Mint grants.
type MintOptions struct {
	// Subject is the "sub" claim, the client's user. Default: none
	// (anonymous, with the token's rights).
	Subject string
	// Channels, Write and Listen are the rights claims (see Claims),
	// checked with auth.ParseRights. Default: none.
	Channels, Write, Listen []string
	// TTL is how long the token is valid: "exp" is Now plus TTL. It is
	// required (> 0).
	TTL time.Duration
	// Audience is the "aud" claim. Default: none.
	Audience string
	// Issuer is the "iss" claim. Default: none.
	Issuer string
	// KeyID is the "kid" header, naming the key of a JWKS that verifies
	// the token. Default: none.
	KeyID string
	// Now is the time the token is issued at ("iat"). Default: time.Now.
	Now func() time.Time
}

// Mint returns a signed token with the claims of c. key is an HMAC secret
// ([]byte, at least MinHMACSecret bytes: HS256) or a private key:
// *rsa.PrivateKey (RS256), *ecdsa.PrivateKey (ES256, ES384 or ES512, by
// curve) or ed25519.PrivateKey (EdDSA), such as ParsePrivateKey returns.
// It is meant for tests and tools (halley token, the load tool); tokens
// for real clients normally come from an identity provider.
func Mint(key any, c MintOptions) (string, error) {
	var method jwtlib.SigningMethod
	switch k := key.(type) {
	case []byte:
		if len(k) < MinHMACSecret {
			return "", fmt.Errorf("jwt: mint: HMAC secret of %d bytes, at least %d wanted", len(k), MinHMACSecret)
		}
		method = jwtlib.SigningMethodHS256
	case *rsa.PrivateKey:
		method = jwtlib.SigningMethodRS256
	case *ecdsa.PrivateKey:
		switch ecdsaMethod(&k.PublicKey) {
		case "ES256":
			method = jwtlib.SigningMethodES256
		case "ES384":
			method = jwtlib.SigningMethodES384
		case "ES512":
			method = jwtlib.SigningMethodES512
		default:
			return "", errors.New("jwt: mint: ECDSA key on an unsupported curve (want P-256, P-384 or P-521)")
		}
	case ed25519.PrivateKey:
		method = jwtlib.SigningMethodEdDSA
	default:
		return "", fmt.Errorf("jwt: mint: unsupported key type %T", key)
	}
	if c.TTL <= 0 {
		return "", errors.New("jwt: mint: TTL must be positive")
	}
	if _, err := auth.ParseRights(c.Channels, c.Write, c.Listen); err != nil {
		return "", fmt.Errorf("jwt: mint: %w", err)
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	t := now()
	claims := Claims{
		RegisteredClaims: jwtlib.RegisteredClaims{
			Subject:   c.Subject,
			Issuer:    c.Issuer,
			IssuedAt:  jwtlib.NewNumericDate(t),
			ExpiresAt: jwtlib.NewNumericDate(t.Add(c.TTL)),
		},
		Channels: c.Channels,
		Write:    c.Write,
		Listen:   c.Listen,
	}
	if c.Audience != "" {
		claims.Audience = jwtlib.ClaimStrings{c.Audience}
	}
	token := jwtlib.NewWithClaims(method, claims)
	if c.KeyID != "" {
		token.Header["kid"] = c.KeyID
	}
	s, err := token.SignedString(key)
	if err != nil {
		return "", fmt.Errorf("jwt: mint: %w", err)
	}
	return s, nil
}
