package jwt_test

import (
	"crypto"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"hash"
	"strings"
	"testing"
	"time"

	jwtlib "github.com/golang-jwt/jwt/v5"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/auth/jwt"
)

// refVerified is a reference check, independent of golang-jwt, that a
// token is signed by the fuzzed Authorizer's secret or Ed25519 key.
func refVerified(token string, secret []byte, pub ed25519.PublicKey) bool {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return false
	}
	dec := base64.RawURLEncoding.Strict()
	hb, err := dec.DecodeString(parts[0])
	if err != nil {
		return false
	}
	sig, err := dec.DecodeString(parts[2])
	if err != nil {
		return false
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if json.Unmarshal(hb, &h) != nil {
		return false
	}
	text := []byte(parts[0] + "." + parts[1])
	var hf func() hash.Hash
	switch h.Alg {
	case "EdDSA":
		return ed25519.Verify(pub, text, sig)
	case "HS256":
		hf = sha256.New
	case "HS384":
		hf = sha512.New384
	case "HS512":
		hf = sha512.New
	default:
		return false
	}
	m := hmac.New(hf, secret)
	m.Write(text)
	return hmac.Equal(m.Sum(nil), sig)
}

func FuzzAuthorize(f *testing.F) {
	k := keys()
	f.Add("")
	f.Add("a.b.c")
	f.Add(mint(f, k.secret, jwt.MintOptions{Subject: "alice", Channels: []string{"news", "user:alice*"}, Listen: []string{"docs:*"}}))
	f.Add(mint(f, k.ed, jwt.MintOptions{Subject: "bob", Write: []string{"chat"}}))
	f.Add(sign(f, jwtlib.SigningMethodHS512, k.secret, validClaims("carol"), map[string]any{"kid": "x"}))
	f.Add(sign(f, jwtlib.SigningMethodHS256, k.secret, jwtlib.MapClaims{"exp": now.Add(-time.Hour).Unix()}, nil))
	f.Add(sign(f, jwtlib.SigningMethodHS256, k.secret, jwtlib.MapClaims{"exp": now.Add(time.Hour).Unix(), "listen": []string{"x"}}, nil))
	f.Add(sign(f, jwtlib.SigningMethodNone, jwtlib.UnsafeAllowNoneSignatureType, validClaims("mallory"), nil))
	f.Add(mint(f, k.rsa, jwt.MintOptions{Subject: "dave"}))
	f.Add(`eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjF9.`)

	a := newAuthorizer(f, jwt.Options{HMACSecret: k.secret, PublicKeys: []crypto.PublicKey{k.ed.Public()}})
	pub := k.ed.Public().(ed25519.PublicKey)
	f.Fuzz(func(t *testing.T, token string) {
		g, err := a.Authorize(t.Context(), nil, token)
		if err != nil {
			if !errors.Is(err, halley.ErrInvalidToken) && !errors.Is(err, halley.ErrTokenExpired) {
				t.Fatalf("error %v wraps neither ErrInvalidToken nor ErrTokenExpired", err)
			}
			if g != (halley.Grant{}) {
				t.Fatalf("refused with a grant: %+v", g)
			}
			if len(token) >= 40 && strings.Contains(err.Error(), token) {
				t.Fatalf("error quotes the token: %v", err)
			}
			return
		}
		if token == "" {
			if g != (halley.Grant{}) {
				t.Fatalf("grant for no token: %+v", g)
			}
			return
		}
		if !refVerified(token, k.secret, pub) {
			t.Fatalf("accepted a token not signed by a configured key: %q", token)
		}
		if g.Expires.IsZero() || !g.Expires.After(now) {
			t.Fatalf("accepted a token expiring at %v", g.Expires)
		}
	})
}
