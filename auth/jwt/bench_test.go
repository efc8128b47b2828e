package jwt_test

import (
	"crypto"
	"testing"

	"github.com/halleyhq/halley/auth/jwt"
)

// BenchmarkAuthorize measures one Authorize of a valid token, with
// rights, for each kind of key.
func BenchmarkAuthorize(b *testing.B) {
	k := keys()
	opts := jwt.MintOptions{Subject: "alice", Channels: []string{"news", "user:alice*"}, Write: []string{"chat"}, Listen: []string{"docs:*"}}
	for _, bc := range []struct {
		name string
		key  any
		pub  crypto.PublicKey
	}{
		{"HS256", k.secret, nil},
		{"RS256", k.rsa, &k.rsa.PublicKey},
		{"ES256", k.p256, &k.p256.PublicKey},
		{"EdDSA", k.ed, k.ed.Public()},
	} {
		b.Run(bc.name, func(b *testing.B) {
			o := jwt.Options{HMACSecret: k.secret}
			if bc.pub != nil {
				o = jwt.Options{PublicKeys: []crypto.PublicKey{bc.pub}}
			}
			a := newAuthorizer(b, o)
			token := mint(b, bc.key, opts)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := a.Authorize(b.Context(), nil, token); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
