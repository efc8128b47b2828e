package jwt_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	jwtlib "github.com/golang-jwt/jwt/v5"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/auth/jwt"
)

// testKeys are generated once: RSA generation is slow under -race.
type testKeys struct {
	rsa, rsa2           *rsa.PrivateKey
	p256, p384, p521    *ecdsa.PrivateKey
	p256b               *ecdsa.PrivateKey
	ed, ed2             ed25519.PrivateKey
	secret, otherSecret []byte
}

var keys = sync.OnceValue(func() *testKeys {
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	k := &testKeys{
		secret:      []byte("0123456789abcdef0123456789abcdef"),
		otherSecret: []byte("fedcba9876543210fedcba9876543210"),
	}
	var err error
	k.rsa, err = rsa.GenerateKey(rand.Reader, 2048)
	must(err)
	k.rsa2, err = rsa.GenerateKey(rand.Reader, 2048)
	must(err)
	k.p256, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)
	k.p256b, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)
	k.p384, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	must(err)
	k.p521, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	must(err)
	_, k.ed, err = ed25519.GenerateKey(rand.Reader)
	must(err)
	_, k.ed2, err = ed25519.GenerateKey(rand.Reader)
	must(err)
	return k
})

// now is the clock of the tests.
var now = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func clock() time.Time { return now }

// newAuthorizer returns an Authorizer closed at the end of the test.
func newAuthorizer(t testing.TB, opts jwt.Options) *jwt.Authorizer {
	t.Helper()
	if opts.Now == nil {
		opts.Now = clock
	}
	a, err := jwt.New(t.Context(), opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// mint mints a token at now.
func mint(t testing.TB, key any, o jwt.MintOptions) string {
	t.Helper()
	if o.Now == nil {
		o.Now = clock
	}
	if o.TTL == 0 {
		o.TTL = time.Hour
	}
	s, err := jwt.Mint(key, o)
	if err != nil {
		t.Fatalf("Mint: %v", err)
	}
	return s
}

// sign signs any claims with any method, for tokens Mint does not make.
func sign(t testing.TB, method jwtlib.SigningMethod, key any, claims jwtlib.Claims, header map[string]any) string {
	t.Helper()
	tok := jwtlib.NewWithClaims(method, claims)
	for k, v := range header {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("sign %s: %v", method.Alg(), err)
	}
	return s
}

// validClaims are claims valid at now.
func validClaims(sub string) jwtlib.MapClaims {
	return jwtlib.MapClaims{"sub": sub, "exp": now.Add(time.Hour).Unix()}
}

// checkRefused checks that err refuses a token with want, briefly and
// without quoting it.
func checkRefused(t testing.TB, token string, err, want error, msg string) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("Authorize error = %v, want %v", err, want)
	}
	other := halley.ErrInvalidToken
	if want == halley.ErrInvalidToken {
		other = halley.ErrTokenExpired
	}
	if errors.Is(err, other) {
		t.Errorf("Authorize error %v is both %v and %v", err, want, other)
	}
	text := err.Error()
	if !strings.Contains(text, msg) {
		t.Errorf("Authorize error = %q, want it to contain %q", text, msg)
	}
	if len(text) > 120 {
		t.Errorf("Authorize error is %d bytes long: %q", len(text), text)
	}
	for _, part := range strings.Split(token, ".") {
		if len(part) >= 8 && strings.Contains(text, part) {
			t.Errorf("Authorize error %q quotes the token", text)
		}
	}
}
