package jwt_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/halleyhq/halley/auth/jwt"
)

// decode returns a token's header and payload, unverified.
func decode(t testing.TB, token string) (header, payload map[string]any) {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token of %d segments", len(parts))
	}
	for i, v := range []*map[string]any{&header, &payload} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatal(err)
		}
	}
	return header, payload
}

func TestMint(t *testing.T) {
	k := keys()
	token := mint(t, k.p521, jwt.MintOptions{
		Subject: "alice", Channels: []string{"news"}, Write: []string{"chat"}, Listen: []string{"docs:*"},
		TTL: 90 * time.Second, Audience: "halley", Issuer: "me", KeyID: "k1",
	})
	header, payload := decode(t, token)
	if header["alg"] != "ES512" || header["kid"] != "k1" {
		t.Errorf("header = %v, want ES512 and kid k1", header)
	}
	want := map[string]any{
		"sub": "alice", "iss": "me", "aud": []any{"halley"},
		"iat": float64(now.Unix()), "exp": float64(now.Add(90 * time.Second).Unix()),
		"channels": []any{"news"}, "write": []any{"chat"}, "listen": []any{"docs:*"},
	}
	got, _ := json.Marshal(payload)
	wantJSON, _ := json.Marshal(want)
	if string(got) != string(wantJSON) {
		t.Errorf("payload = %s, want %s", got, wantJSON)
	}

	for _, tc := range []struct {
		key any
		alg string
	}{{k.secret, "HS256"}, {k.rsa, "RS256"}, {k.p256, "ES256"}, {k.p384, "ES384"}, {k.ed, "EdDSA"}} {
		header, payload := decode(t, mint(t, tc.key, jwt.MintOptions{}))
		if header["alg"] != tc.alg {
			t.Errorf("%T: alg %v, want %s", tc.key, header["alg"], tc.alg)
		}
		if _, ok := header["kid"]; ok {
			t.Errorf("%T: kid without KeyID", tc.key)
		}
		for _, claim := range []string{"sub", "aud", "iss", "channels", "write", "listen"} {
			if _, ok := payload[claim]; ok {
				t.Errorf("%T: claim %q without its option", tc.key, claim)
			}
		}
	}
}

func TestMint_Errors(t *testing.T) {
	k := keys()
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		key  any
		opts jwt.MintOptions
		msg  string
	}{
		{"no TTL", k.secret, jwt.MintOptions{}, "TTL must be positive"},
		{"negative TTL", k.secret, jwt.MintOptions{TTL: -time.Second}, "TTL must be positive"},
		{"short secret", []byte("short"), jwt.MintOptions{TTL: time.Hour}, "HMAC secret of 5 bytes"},
		{"string secret", string(k.secret), jwt.MintOptions{TTL: time.Hour}, "unsupported key type string"},
		{"public key", &k.rsa.PublicKey, jwt.MintOptions{TTL: time.Hour}, "unsupported key type *rsa.PublicKey"},
		{"P-224", p224, jwt.MintOptions{TTL: time.Hour}, "unsupported curve"},
		{"bad pattern", k.secret, jwt.MintOptions{TTL: time.Hour, Listen: []string{"docs"}}, "listen[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := jwt.Mint(tc.key, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("Mint = %q, %v; want an error containing %q", s, err, tc.msg)
			}
		})
	}
}
