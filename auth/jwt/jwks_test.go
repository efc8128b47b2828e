package jwt_test

import (
	"crypto"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	jwtlib "github.com/golang-jwt/jwt/v5"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/auth/jwt"
)

// jwksServer serves a JWK Set that tests change, and counts its fetches.
type jwksServer struct {
	*httptest.Server
	mu      sync.Mutex
	keys    []jwkset.JWKMarshal
	body    string // when set, served instead of the keys
	fetches int
	fetched chan struct{} // gets a value (if empty) after each fetch
}

func newJWKSServer(t testing.TB) *jwksServer {
	t.Helper()
	s := &jwksServer{fetched: make(chan struct{}, 1)}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.fetches++
		w.Header().Set("Content-Type", "application/json")
		if s.body != "" {
			w.Write([]byte(s.body))
		} else {
			json.NewEncoder(w).Encode(jwkset.JWKSMarshal{Keys: s.keys})
		}
		select {
		case s.fetched <- struct{}{}:
		default:
		}
	}))
	t.Cleanup(s.Close)
	return s
}

// add adds a key to the set; "" kid for none.
func (s *jwksServer) add(t testing.TB, key any, kid string) {
	t.Helper()
	s.addJWK(t, key, jwkset.JWKMetadataOptions{KID: kid})
}

func (s *jwksServer) addJWK(t testing.TB, key any, meta jwkset.JWKMetadataOptions) {
	t.Helper()
	opts := jwkset.JWKOptions{Metadata: meta}
	_, opts.Marshal.Private = key.([]byte) // a symmetric key has no public part
	jwk, err := jwkset.NewJWKFromKey(key, opts)
	if err != nil {
		t.Fatalf("JWK of %T: %v", key, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = append(s.keys, jwk.Marshal())
}

func (s *jwksServer) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fetches
}

// waitFetches waits until the set has been fetched n times.
func (s *jwksServer) waitFetches(t testing.TB, n int) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for s.count() < n {
		select {
		case <-s.fetched:
		case <-timeout:
			t.Fatalf("%d fetches of the JWKS after 10s, want %d", s.count(), n)
		}
	}
}

func (s *jwksServer) authorizer(t testing.TB, opts jwt.Options) *jwt.Authorizer {
	t.Helper()
	opts.JWKSURL = s.URL + "/jwks.json"
	opts.HTTPClient = s.Client()
	return newAuthorizer(t, opts)
}

func TestJWKS_RSAAndEC(t *testing.T) {
	k := keys()
	s := newJWKSServer(t)
	s.add(t, &k.rsa.PublicKey, "rsa")
	s.add(t, &k.p256.PublicKey, "ec")
	s.add(t, k.ed.Public(), "ed")
	a := s.authorizer(t, jwt.Options{})
	for name, token := range map[string]string{
		"RS256 by kid":  mint(t, k.rsa, jwt.MintOptions{Subject: "alice", KeyID: "rsa", Channels: []string{"news"}}),
		"PS384 by kid":  sign(t, jwtlib.SigningMethodPS384, k.rsa, validClaims("alice"), map[string]any{"kid": "rsa"}),
		"ES256 by kid":  mint(t, k.p256, jwt.MintOptions{Subject: "alice", KeyID: "ec"}),
		"EdDSA by kid":  mint(t, k.ed, jwt.MintOptions{Subject: "alice", KeyID: "ed"}),
		"RS256, no kid": mint(t, k.rsa, jwt.MintOptions{Subject: "alice"}),
		"ES256, no kid": mint(t, k.p256, jwt.MintOptions{Subject: "alice"}),
	} {
		g, err := a.Authorize(t.Context(), nil, token)
		if err != nil {
			t.Errorf("%s: %v", name, err)
		} else if g.User != "alice" {
			t.Errorf("%s: Grant.User = %q", name, g.User)
		}
	}
	for name, tc := range map[string]struct{ token, msg string }{
		"kid of another key type": {mint(t, k.rsa, jwt.MintOptions{KeyID: "ec"}), "unknown signing key"},
		"kid of another key":      {mint(t, k.p256b, jwt.MintOptions{KeyID: "ec"}), "bad signature"},
		"key not in the set":      {mint(t, k.p384, jwt.MintOptions{}), "unknown signing key"},
		"no kid, no key":          {mint(t, k.rsa2, jwt.MintOptions{}), "bad signature"},
		"HS256 (no secret)":       {mint(t, k.secret, jwt.MintOptions{KeyID: "rsa"}), "algorithm not allowed"},
	} {
		_, err := a.Authorize(t.Context(), nil, tc.token)
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		checkRefused(t, tc.token, err, halley.ErrInvalidToken, tc.msg)
	}
	if n := s.count(); n != 1 {
		t.Errorf("%d fetches, want 1: every kid above is in the set", n)
	}
}

// A token signed by a key added to the set after New is accepted: its
// unknown kid makes the Authorizer fetch the set again, once.
func TestJWKS_Rotation(t *testing.T) {
	k := keys()
	s := newJWKSServer(t)
	s.add(t, &k.rsa.PublicKey, "2030-01")
	a := s.authorizer(t, jwt.Options{})
	if n := s.count(); n != 1 {
		t.Fatalf("%d fetches after New, want 1", n)
	}
	if _, err := a.Authorize(t.Context(), nil, mint(t, k.rsa, jwt.MintOptions{KeyID: "2030-01"})); err != nil {
		t.Fatalf("token of the first key: %v", err)
	}

	s.add(t, &k.p256.PublicKey, "2030-02")
	g, err := a.Authorize(t.Context(), nil, mint(t, k.p256, jwt.MintOptions{Subject: "bob", KeyID: "2030-02"}))
	if err != nil {
		t.Fatalf("token of the new key: %v", err)
	}
	if g.User != "bob" {
		t.Errorf("Grant.User = %q, want bob", g.User)
	}
	if n := s.count(); n != 2 {
		t.Errorf("%d fetches after the new kid, want 2", n)
	}
	// The old key is still there, and known kids cost no fetch.
	if _, err := a.Authorize(t.Context(), nil, mint(t, k.rsa, jwt.MintOptions{KeyID: "2030-01"})); err != nil {
		t.Errorf("token of the first key after the rotation: %v", err)
	}

	// Another unknown kid within JWKSRefreshUnknownKID: refused at once,
	// without a fetch.
	token := mint(t, k.rsa2, jwt.MintOptions{KeyID: "2030-03"})
	s.add(t, &k.rsa2.PublicKey, "2030-03")
	start := time.Now()
	_, err = a.Authorize(t.Context(), nil, token)
	checkRefused(t, token, err, halley.ErrInvalidToken, "unknown signing key")
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the rate-limited unknown kid took %v", d)
	}
	if n := s.count(); n != 2 {
		t.Errorf("%d fetches after a second unknown kid, want still 2 (rate limit)", n)
	}
}

func TestJWKS_UnknownKID(t *testing.T) {
	k := keys()
	s := newJWKSServer(t)
	s.add(t, &k.rsa.PublicKey, "a")
	a := s.authorizer(t, jwt.Options{})
	token := mint(t, k.rsa, jwt.MintOptions{KeyID: "b"})
	_, err := a.Authorize(t.Context(), nil, token)
	checkRefused(t, token, err, halley.ErrInvalidToken, "unknown signing key")
	if n := s.count(); n != 2 {
		t.Errorf("%d fetches, want 2 (the first, and one for the unknown kid)", n)
	}
}

// The set's keys are fetched again every JWKSRefresh, even without
// unknown kids, and Close stops it (goleak checks that it waited).
func TestJWKS_Refresh(t *testing.T) {
	k := keys()
	s := newJWKSServer(t)
	s.add(t, &k.rsa.PublicKey, "")
	a := s.authorizer(t, jwt.Options{JWKSRefresh: time.Millisecond})
	token := mint(t, k.ed, jwt.MintOptions{}) // no kid: no fetch on demand
	if _, err := a.Authorize(t.Context(), nil, token); err == nil {
		t.Fatal("token of a key not yet in the set accepted")
	}
	s.add(t, k.ed.Public(), "")
	// The fetch after the change began after it; the one after that began
	// once it had stored the keys.
	s.waitFetches(t, s.count()+2)
	if _, err := a.Authorize(t.Context(), nil, token); err != nil {
		t.Fatalf("token of the added key after a refresh: %v", err)
	}
	a.Close()
	a.Close() // idempotent
}

func TestJWKS_SymmetricKeyNeverUsed(t *testing.T) {
	k := keys()
	s := newJWKSServer(t)
	s.add(t, &k.rsa.PublicKey, "rsa")
	s.add(t, k.otherSecret, "oct")
	// keyfunc itself would hand the symmetric key to an HS256 token.
	s.mu.Lock()
	set, err := json.Marshal(jwkset.JWKSMarshal{Keys: s.keys})
	s.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	kf, err := keyfunc.NewJWKSetJSON(set)
	if err != nil {
		t.Fatal(err)
	}
	forged := sign(t, jwtlib.SigningMethodHS256, k.otherSecret, validClaims("mallory"), map[string]any{"kid": "oct"})
	if _, err := jwtlib.Parse(forged, kf.Keyfunc, jwtlib.WithTimeFunc(clock)); err != nil {
		t.Fatalf("keyfunc alone refuses the HS256 token (%v): the test proves nothing", err)
	}

	for _, cfg := range []struct {
		name string
		opts jwt.Options
		msg  string
	}{
		{"JWKS only", jwt.Options{}, "algorithm not allowed"},
		{"JWKS and an HMAC secret", jwt.Options{HMACSecret: k.secret}, "bad signature"},
	} {
		t.Run(cfg.name, func(t *testing.T) {
			a := s.authorizer(t, cfg.opts)
			for _, kid := range []string{"oct", ""} {
				token := sign(t, jwtlib.SigningMethodHS256, k.otherSecret, validClaims("mallory"), map[string]any{"kid": kid})
				_, err := a.Authorize(t.Context(), nil, token)
				checkRefused(t, token, err, halley.ErrInvalidToken, cfg.msg)
			}
		})
	}
}

func TestJWKS_KeyUseAndAlg(t *testing.T) {
	k := keys()
	s := newJWKSServer(t)
	s.addJWK(t, &k.rsa.PublicKey, jwkset.JWKMetadataOptions{KID: "enc", USE: jwkset.UseEnc})
	s.addJWK(t, &k.rsa2.PublicKey, jwkset.JWKMetadataOptions{KID: "ps", USE: jwkset.UseSig, ALG: jwkset.AlgPS256})
	a := s.authorizer(t, jwt.Options{})
	for name, tc := range map[string]struct{ token, msg string }{
		"encryption key":           {mint(t, k.rsa, jwt.MintOptions{KeyID: "enc"}), "unknown signing key"},
		"encryption key, no kid":   {mint(t, k.rsa, jwt.MintOptions{}), "unknown signing key"},
		"other alg than the key's": {mint(t, k.rsa2, jwt.MintOptions{KeyID: "ps"}), "unknown signing key"},
	} {
		_, err := a.Authorize(t.Context(), nil, tc.token)
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		checkRefused(t, tc.token, err, halley.ErrInvalidToken, tc.msg)
	}
	if _, err := a.Authorize(t.Context(), nil, sign(t, jwtlib.SigningMethodPS256, k.rsa2, validClaims("a"), map[string]any{"kid": "ps"})); err != nil {
		t.Errorf("the key's own alg: %v", err)
	}
}

func TestJWKS_WithPublicKeys(t *testing.T) {
	k := keys()
	s := newJWKSServer(t)
	s.add(t, &k.rsa.PublicKey, "jwks")
	a := s.authorizer(t, jwt.Options{PublicKeys: []crypto.PublicKey{&k.rsa2.PublicKey}, HMACSecret: k.secret})
	for name, token := range map[string]string{
		"JWKS key":   mint(t, k.rsa, jwt.MintOptions{KeyID: "jwks"}),
		"PEM key":    mint(t, k.rsa2, jwt.MintOptions{}),
		"PEM, a kid": mint(t, k.rsa2, jwt.MintOptions{KeyID: "not-in-the-set"}),
		"HMAC":       mint(t, k.secret, jwt.MintOptions{}),
	} {
		if _, err := a.Authorize(t.Context(), nil, token); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestJWKS_NewErrors(t *testing.T) {
	s := newJWKSServer(t)
	for _, tc := range []struct {
		name, body, msg string
	}{
		{"not JSON", "<html>", "JWKS"},
		{"too large", `{"keys":[],"x":"` + strings.Repeat("x", 1<<20) + `"}`, "JWKS answer over 1048576 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s.mu.Lock()
			s.body = tc.body
			s.mu.Unlock()
			a, err := jwt.New(t.Context(), jwt.Options{JWKSURL: s.URL, HTTPClient: s.Client()})
			if err == nil {
				a.Close()
				t.Fatal("New accepted it")
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("New error = %q, want it to contain %q", err, tc.msg)
			}
		})
	}

	dead := httptest.NewServer(http.NotFoundHandler())
	url := dead.URL
	dead.Close()
	a, err := jwt.New(t.Context(), jwt.Options{JWKSURL: url})
	if err == nil {
		a.Close()
		t.Fatal("New accepted an unreachable JWKS")
	}
}
