// Package jwt authenticates Halley clients with JSON Web Tokens: its
// Authorizer implements halley.Authorizer (Config.Authorizer), verifying
// a client's token and turning its claims into a halley.Grant.
//
// It is a package of its own so that a program that does not use JWT does
// not link a JWT library. It builds on github.com/golang-jwt/jwt/v5, and on
// github.com/MicahParks/keyfunc/v3 for JWKS.
//
// Use New with an HMAC secret, PEM public keys (ParsePublicKeys) or the URL
// of a JWKS; use Mint to make tokens for tests and tools (ParsePrivateKey
// reads a PEM private key).
//
// # Algorithms
//
// A token's "alg" must be one the configured keys allow, and it is checked
// against the key that verifies it: HS256, HS384 and HS512 with the HMAC
// secret only; RS* and PS* with RSA keys; ES256, ES384 and ES512 with ECDSA
// keys on P-256, P-384 and P-521 respectively; EdDSA with Ed25519 keys. A
// public key never verifies an HS* token (the algorithm-confusion attack),
// and a symmetric key of a JWKS is never used.
//
// # Tokens and errors
//
// A request without a token is anonymous: Grant{} and no error. A token
// that has expired is refused with an error wrapping halley.ErrTokenExpired;
// any other bad token (malformed, longer than halley.MaxTokenLen, badly
// signed, without exp, with the wrong aud or iss, signed by an unknown key,
// with bad rights claims) with an error wrapping halley.ErrInvalidToken. The
// text of these errors is short and never quotes the token; they also wrap
// the golang-jwt error, when there is one, for errors.Is.
//
// # Concurrency
//
// An Authorizer is safe for concurrent use. One with a JWKS owns a
// goroutine that refreshes the keys; Close stops it.
package jwt
