package jwt_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	jwtlib "github.com/golang-jwt/jwt/v5"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/auth"
	"github.com/halleyhq/halley/auth/jwt"
)

// allKeys is an Authorizer's configuration with every kind of key.
func allKeys() jwt.Options {
	k := keys()
	return jwt.Options{
		HMACSecret: k.secret,
		PublicKeys: []crypto.PublicKey{&k.rsa.PublicKey, &k.p256.PublicKey, &k.p384.PublicKey, &k.p521.PublicKey, k.ed.Public()},
	}
}

func TestAuthorize_Algorithms(t *testing.T) {
	k := keys()
	a := newAuthorizer(t, allKeys())
	for _, tc := range []struct {
		method jwtlib.SigningMethod
		key    any
	}{
		{jwtlib.SigningMethodHS256, k.secret},
		{jwtlib.SigningMethodHS384, k.secret},
		{jwtlib.SigningMethodHS512, k.secret},
		{jwtlib.SigningMethodRS256, k.rsa},
		{jwtlib.SigningMethodRS384, k.rsa},
		{jwtlib.SigningMethodRS512, k.rsa},
		{jwtlib.SigningMethodPS256, k.rsa},
		{jwtlib.SigningMethodPS384, k.rsa},
		{jwtlib.SigningMethodPS512, k.rsa},
		{jwtlib.SigningMethodES256, k.p256},
		{jwtlib.SigningMethodES384, k.p384},
		{jwtlib.SigningMethodES512, k.p521},
		{jwtlib.SigningMethodEdDSA, k.ed},
	} {
		t.Run(tc.method.Alg(), func(t *testing.T) {
			token := sign(t, tc.method, tc.key, validClaims("alice"), nil)
			g, err := a.Authorize(t.Context(), nil, token)
			if err != nil {
				t.Fatalf("Authorize: %v", err)
			}
			if g.User != "alice" || !g.Expires.Equal(now.Add(time.Hour)) || g.Rights != nil {
				t.Errorf("Grant = %+v, want alice until %v without rights", g, now.Add(time.Hour))
			}
		})
	}
}

func TestAuthorize_Anonymous(t *testing.T) {
	a := newAuthorizer(t, jwt.Options{HMACSecret: keys().secret})
	g, err := a.Authorize(t.Context(), nil, "")
	if err != nil || g != (halley.Grant{}) {
		t.Errorf("Authorize(\"\") = %+v, %v; want Grant{}, nil", g, err)
	}
}

func TestAuthorize_Rights(t *testing.T) {
	k := keys()
	a := newAuthorizer(t, jwt.Options{HMACSecret: k.secret})
	token := mint(t, k.secret, jwt.MintOptions{
		Subject:  "alice",
		Channels: []string{"news", "user:alice*"},
		Write:    []string{"chat"},
		Listen:   []string{"docs:team-*", "wiki:42"},
	})
	g, err := a.Authorize(t.Context(), nil, token)
	if err != nil {
		t.Fatal(err)
	}
	r, ok := g.Rights.(auth.Rights)
	if !ok {
		t.Fatalf("Grant.Rights is %T, want auth.Rights", g.Rights)
	}
	if !r.CanSubscribe("news") || !r.CanSubscribe("user:alice/inbox") || r.CanSubscribe("user:bob") {
		t.Errorf("channels rights wrong: %q", r.Channels)
	}
	if !r.CanWrite("chat") || r.CanWrite("news") {
		t.Errorf("write rights wrong: %q", r.Write)
	}
	if !r.CanListen("docs", "team-1") || !r.CanListen("wiki", "42") || r.CanListen("wiki", "43") || r.CanListen("docs", "x") {
		t.Errorf("listen rights wrong: %q", r.Listen)
	}
}

func TestAuthorize_Refused(t *testing.T) {
	k := keys()
	valid := sign(t, jwtlib.SigningMethodHS256, k.secret, validClaims("alice"), nil)
	parts := strings.Split(valid, ".")
	header, payload := parts[0], parts[1]
	enc := base64.RawURLEncoding.EncodeToString
	// tamper changes one character in the middle of a segment.
	tamper := func(s string) string {
		b := []byte(s)
		i := len(b) / 2
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	exp := now.Add(time.Hour).Unix()
	tests := []struct {
		name  string
		token string
		want  error
		msg   string
	}{
		{name: "expired", token: sign(t, jwtlib.SigningMethodHS256, k.secret, jwtlib.MapClaims{"exp": now.Add(-time.Second).Unix()}, nil), want: halley.ErrTokenExpired, msg: "token expired"},
		{name: "expired EdDSA", token: sign(t, jwtlib.SigningMethodEdDSA, k.ed, jwtlib.MapClaims{"sub": "a", "exp": now.Add(-time.Hour).Unix()}, nil), want: halley.ErrTokenExpired},
		{name: "expired at now", token: sign(t, jwtlib.SigningMethodHS256, k.secret, jwtlib.MapClaims{"exp": now.Unix()}, nil), want: halley.ErrTokenExpired},
		{name: "one segment", token: "abcdefghijklmnop", msg: "malformed"},
		{name: "two segments", token: header + "." + payload, msg: "malformed"},
		{name: "four segments", token: valid + ".x", msg: "malformed"},
		{name: "bad base64", token: header + ".!!!!." + parts[2], msg: "malformed"},
		{name: "header not JSON", token: enc([]byte("nope")) + "." + payload + "." + parts[2], msg: "malformed"},
		{name: "padded", token: valid + "==", msg: "malformed"},
		{name: "too long", token: strings.Repeat("a", halley.MaxTokenLen+1), msg: "longer than 8192 bytes"},
		{name: "tampered payload", token: header + "." + tamper(payload) + "." + parts[2], msg: ""},
		{name: "tampered signature", token: header + "." + payload + "." + tamper(parts[2]), msg: "bad signature"},
		{name: "other secret", token: sign(t, jwtlib.SigningMethodHS256, k.otherSecret, validClaims("alice"), nil), msg: "bad signature"},
		{name: "other RSA key", token: sign(t, jwtlib.SigningMethodRS256, k.rsa2, validClaims("alice"), nil), msg: "bad signature"},
		{name: "other EC key", token: sign(t, jwtlib.SigningMethodES256, k.p256b, validClaims("alice"), nil), msg: "bad signature"},
		{name: "other Ed25519 key", token: sign(t, jwtlib.SigningMethodEdDSA, k.ed2, validClaims("alice"), nil), msg: "bad signature"},
		{name: "alg none", token: sign(t, jwtlib.SigningMethodNone, jwtlib.UnsafeAllowNoneSignatureType, validClaims("alice"), nil), msg: "algorithm not allowed"},
		{name: "unknown alg", token: enc([]byte(`{"alg":"HS999","typ":"JWT"}`)) + "." + payload + "." + parts[2], msg: "unsupported algorithm"},
		{name: "no alg", token: enc([]byte(`{"typ":"JWT"}`)) + "." + payload + "." + parts[2], msg: "unsupported algorithm"},
		{name: "crit header", token: sign(t, jwtlib.SigningMethodHS256, k.secret, validClaims("alice"), map[string]any{"crit": []string{"b64"}, "b64": false}), msg: "unsupported crit header"},
		{name: "no exp", token: sign(t, jwtlib.SigningMethodHS256, k.secret, jwtlib.MapClaims{"sub": "alice"}, nil), msg: "no exp claim"},
		{name: "exp not a number", token: sign(t, jwtlib.SigningMethodHS256, k.secret, jwtlib.MapClaims{"exp": "soon"}, nil), msg: "malformed"},
		{name: "not valid yet", token: sign(t, jwtlib.SigningMethodHS256, k.secret, jwtlib.MapClaims{"exp": exp, "nbf": now.Add(time.Minute).Unix()}, nil), msg: "not valid yet"},
		{name: "channels not a list", token: sign(t, jwtlib.SigningMethodHS256, k.secret, jwtlib.MapClaims{"exp": exp, "channels": "news"}, nil), msg: "malformed"},
		{name: "channels not strings", token: sign(t, jwtlib.SigningMethodHS256, k.secret, jwtlib.MapClaims{"exp": exp, "channels": []any{1}}, nil), msg: "malformed"},
		{name: "bad channel pattern", token: sign(t, jwtlib.SigningMethodHS256, k.secret, jwtlib.MapClaims{"exp": exp, "channels": []string{"news", "a\x00secretpattern"}}, nil), msg: "rights claims: channels[1]: control character"},
		{name: "empty write pattern", token: sign(t, jwtlib.SigningMethodHS256, k.secret, jwtlib.MapClaims{"exp": exp, "write": []string{""}}, nil), msg: "rights claims: write[0]: empty pattern"},
		{name: "bad listen pattern", token: sign(t, jwtlib.SigningMethodHS256, k.secret, jwtlib.MapClaims{"exp": exp, "listen": []string{"docs"}}, nil), msg: "rights claims: listen[0]"},
		{name: "too many patterns", token: sign(t, jwtlib.SigningMethodHS256, k.secret, jwtlib.MapClaims{"exp": exp, "channels": make([]string, auth.MaxPatterns+1)}, nil), msg: "rights claims: channels: 257 patterns"},
		{name: "control character in sub", token: sign(t, jwtlib.SigningMethodHS256, k.secret, validClaims("ali\nce"), nil), msg: "control character in sub"},
	}
	a := newAuthorizer(t, allKeys())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.want
			if want == nil {
				want = halley.ErrInvalidToken
			}
			g, err := a.Authorize(t.Context(), nil, tt.token)
			if err == nil {
				t.Fatalf("Authorize accepted it: %+v", g)
			}
			checkRefused(t, tt.token, err, want, tt.msg)
			if g != (halley.Grant{}) {
				t.Errorf("refused with a grant: %+v", g)
			}
		})
	}
}

// An attacker who knows an RSA public key signs an HS256 token with it as
// the HMAC secret: a library that hands "the key" to whatever alg the
// token says would verify it.
func TestAuthorize_AlgorithmConfusion(t *testing.T) {
	k := keys()
	der, err := x509.MarshalPKIXPublicKey(&k.rsa.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	secrets := map[string][]byte{
		"PKIX PEM":  pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}),
		"PKIX DER":  der,
		"PKCS1 PEM": pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&k.rsa.PublicKey)}),
	}
	for _, cfg := range []struct {
		name string
		opts jwt.Options
		msg  string
	}{
		{"RSA key only", jwt.Options{PublicKeys: []crypto.PublicKey{&k.rsa.PublicKey}}, "algorithm not allowed"},
		{"RSA key and an HMAC secret", jwt.Options{PublicKeys: []crypto.PublicKey{&k.rsa.PublicKey}, HMACSecret: k.secret}, "bad signature"},
	} {
		a := newAuthorizer(t, cfg.opts)
		for name, secret := range secrets {
			t.Run(cfg.name+"/"+name, func(t *testing.T) {
				for _, m := range []jwtlib.SigningMethod{jwtlib.SigningMethodHS256, jwtlib.SigningMethodHS384, jwtlib.SigningMethodHS512} {
					token := sign(t, m, secret, validClaims("mallory"), nil)
					g, err := a.Authorize(t.Context(), nil, token)
					if err == nil {
						t.Fatalf("%s token signed with the public key accepted: %+v", m.Alg(), g)
					}
					checkRefused(t, token, err, halley.ErrInvalidToken, cfg.msg)
				}
			})
		}
	}
}

// An ES384 token signed by a P-256 key verifies with that key if the
// verifier does not check the curve: it must be refused.
func TestAuthorize_ECDSACurveMismatch(t *testing.T) {
	k := keys()
	text := sign(t, jwtlib.SigningMethodES256, k.p256, validClaims("mallory"), map[string]any{"alg": "ES384"})
	text = text[:strings.LastIndexByte(text, '.')]
	h := sha512.Sum384([]byte(text))
	r, s, err := ecdsa.Sign(rand.Reader, k.p256, h[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 96)
	r.FillBytes(sig[:48])
	s.FillBytes(sig[48:])
	if err := jwtlib.SigningMethodES384.Verify(text, sig, &k.p256.PublicKey); err != nil {
		t.Fatalf("the forged signature does not verify with the P-256 key (%v): the test proves nothing", err)
	}
	token := text + "." + base64.RawURLEncoding.EncodeToString(sig)
	a := newAuthorizer(t, jwt.Options{PublicKeys: []crypto.PublicKey{&k.p256.PublicKey, &k.p384.PublicKey}})
	_, err = a.Authorize(t.Context(), nil, token)
	checkRefused(t, token, err, halley.ErrInvalidToken, "bad signature")

	a = newAuthorizer(t, jwt.Options{PublicKeys: []crypto.PublicKey{&k.p256.PublicKey}})
	_, err = a.Authorize(t.Context(), nil, token)
	checkRefused(t, token, err, halley.ErrInvalidToken, "algorithm not allowed")
}

func TestAuthorize_AllowedAlgorithms(t *testing.T) {
	k := keys()
	tokens := map[string]string{
		"HS256": sign(t, jwtlib.SigningMethodHS256, k.secret, validClaims("a"), nil),
		"RS256": sign(t, jwtlib.SigningMethodRS256, k.rsa, validClaims("a"), nil),
		"PS256": sign(t, jwtlib.SigningMethodPS256, k.rsa, validClaims("a"), nil),
		"ES256": sign(t, jwtlib.SigningMethodES256, k.p256, validClaims("a"), nil),
		"ES384": sign(t, jwtlib.SigningMethodES384, k.p384, validClaims("a"), nil),
		"EdDSA": sign(t, jwtlib.SigningMethodEdDSA, k.ed, validClaims("a"), nil),
	}
	for _, tc := range []struct {
		name string
		opts jwt.Options
		ok   []string
	}{
		{"HMAC", jwt.Options{HMACSecret: k.secret}, []string{"HS256"}},
		{"RSA", jwt.Options{PublicKeys: []crypto.PublicKey{&k.rsa.PublicKey}}, []string{"RS256", "PS256"}},
		{"P-256", jwt.Options{PublicKeys: []crypto.PublicKey{&k.p256.PublicKey}}, []string{"ES256"}},
		{"P-384", jwt.Options{PublicKeys: []crypto.PublicKey{&k.p384.PublicKey}}, []string{"ES384"}},
		{"Ed25519", jwt.Options{PublicKeys: []crypto.PublicKey{k.ed.Public()}}, []string{"EdDSA"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newAuthorizer(t, tc.opts)
			for alg, token := range tokens {
				_, err := a.Authorize(t.Context(), nil, token)
				if ok := strings.Contains(strings.Join(tc.ok, " "), alg); ok && err != nil {
					t.Errorf("%s refused: %v", alg, err)
				} else if !ok {
					if err == nil {
						t.Errorf("%s accepted", alg)
					} else {
						checkRefused(t, token, err, halley.ErrInvalidToken, "algorithm not allowed")
					}
				}
			}
		})
	}
}

func TestAuthorize_SeveralKeys(t *testing.T) {
	k := keys()
	a := newAuthorizer(t, jwt.Options{PublicKeys: []crypto.PublicKey{&k.rsa.PublicKey, &k.p256.PublicKey, &k.rsa2.PublicKey, &k.p256b.PublicKey, k.ed.Public(), k.ed2.Public()}})
	for name, token := range map[string]string{
		"first RSA":           sign(t, jwtlib.SigningMethodRS256, k.rsa, validClaims("a"), nil),
		"second RSA":          sign(t, jwtlib.SigningMethodPS512, k.rsa2, validClaims("a"), nil),
		"second EC":           sign(t, jwtlib.SigningMethodES256, k.p256b, validClaims("a"), nil),
		"second Ed25519":      sign(t, jwtlib.SigningMethodEdDSA, k.ed2, validClaims("a"), nil),
		"kid ignored for PEM": sign(t, jwtlib.SigningMethodRS256, k.rsa2, validClaims("a"), map[string]any{"kid": "whatever"}),
	} {
		if _, err := a.Authorize(t.Context(), nil, token); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	token := sign(t, jwtlib.SigningMethodRS256, other, validClaims("a"), nil)
	_, err = a.Authorize(t.Context(), nil, token)
	checkRefused(t, token, err, halley.ErrInvalidToken, "bad signature")
}

func TestAuthorize_AudienceIssuer(t *testing.T) {
	k := keys()
	a := newAuthorizer(t, jwt.Options{HMACSecret: k.secret, Audience: "halley", Issuer: "https://id.example"})
	exp := now.Add(time.Hour).Unix()
	hs := func(c jwtlib.MapClaims) string { return sign(t, jwtlib.SigningMethodHS256, k.secret, c, nil) }
	for _, tc := range []struct {
		name  string
		token string
		want  error
		msg   string
	}{
		{name: "both right", token: mint(t, k.secret, jwt.MintOptions{Audience: "halley", Issuer: "https://id.example"})},
		{name: "one of several audiences", token: hs(jwtlib.MapClaims{"exp": exp, "aud": []string{"other", "halley"}, "iss": "https://id.example"})},
		{name: "audience as a string", token: hs(jwtlib.MapClaims{"exp": exp, "aud": "halley", "iss": "https://id.example"})},
		{name: "wrong audience", token: mint(t, k.secret, jwt.MintOptions{Audience: "other", Issuer: "https://id.example"}), want: halley.ErrInvalidToken, msg: "wrong audience"},
		{name: "no audience", token: mint(t, k.secret, jwt.MintOptions{Issuer: "https://id.example"}), want: halley.ErrInvalidToken, msg: "no aud claim"},
		{name: "wrong issuer", token: mint(t, k.secret, jwt.MintOptions{Audience: "halley", Issuer: "https://evil.example"}), want: halley.ErrInvalidToken, msg: "wrong issuer"},
		{name: "no issuer", token: mint(t, k.secret, jwt.MintOptions{Audience: "halley"}), want: halley.ErrInvalidToken, msg: "no iss claim"},
		{name: "expired, right audience", token: hs(jwtlib.MapClaims{"exp": now.Add(-time.Minute).Unix(), "aud": "halley", "iss": "https://id.example"}), want: halley.ErrTokenExpired},
		// Renewing an expired token would not help: say what else is wrong.
		{name: "expired, wrong audience", token: hs(jwtlib.MapClaims{"exp": now.Add(-time.Minute).Unix(), "aud": "other", "iss": "https://id.example"}), want: halley.ErrInvalidToken, msg: "wrong audience"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := a.Authorize(t.Context(), nil, tc.token)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Authorize: %v", err)
				}
				return
			}
			checkRefused(t, tc.token, err, tc.want, tc.msg)
		})
	}
}

func TestAuthorize_Leeway(t *testing.T) {
	k := keys()
	token := mint(t, k.secret, jwt.MintOptions{Subject: "alice", TTL: time.Minute})
	exp := now.Add(time.Minute)
	nbf := sign(t, jwtlib.SigningMethodHS256, k.secret, jwtlib.MapClaims{"exp": now.Add(time.Hour).Unix(), "nbf": now.Add(20 * time.Second).Unix()}, nil)
	for _, tc := range []struct {
		name   string
		leeway time.Duration
		at     time.Time
		token  string
		want   error
	}{
		{"before exp", 0, exp.Add(-time.Second), token, nil},
		{"at exp, no leeway", 0, exp, token, halley.ErrTokenExpired},
		{"within leeway", 30 * time.Second, exp.Add(29 * time.Second), token, nil},
		{"past leeway", 30 * time.Second, exp.Add(31 * time.Second), token, halley.ErrTokenExpired},
		{"nbf within leeway", 30 * time.Second, now, nbf, nil},
		{"nbf past leeway", 10 * time.Second, now, nbf, halley.ErrInvalidToken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newAuthorizer(t, jwt.Options{HMACSecret: k.secret, Leeway: tc.leeway, Now: func() time.Time { return tc.at }})
			g, err := a.Authorize(t.Context(), nil, tc.token)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Authorize: %v", err)
				}
				if tc.token == token && !g.Expires.Equal(exp.Add(tc.leeway)) {
					t.Errorf("Grant.Expires = %v, want exp %v plus the leeway %v", g.Expires, exp, tc.leeway)
				}
				return
			}
			checkRefused(t, tc.token, err, tc.want, "")
		})
	}
}

func TestNew_Errors(t *testing.T) {
	k := keys()
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	many := make([]crypto.PublicKey, jwt.MaxPublicKeys+1)
	for i := range many {
		many[i] = k.ed.Public()
	}
	for _, tc := range []struct {
		name string
		opts jwt.Options
		msg  string
	}{
		{"no key", jwt.Options{Audience: "x"}, "no key"},
		{"empty secret and no key", jwt.Options{HMACSecret: []byte{}}, "no key"},
		{"short secret", jwt.Options{HMACSecret: []byte("secret")}, "HMACSecret of 6 bytes, at least 32"},
		{"too many keys", jwt.Options{PublicKeys: many}, "17 PublicKeys, at most 16"},
		{"nil key", jwt.Options{PublicKeys: []crypto.PublicKey{nil}}, "PublicKeys[0]: nil key"},
		{"nil RSA key", jwt.Options{PublicKeys: []crypto.PublicKey{(*rsa.PublicKey)(nil)}}, "PublicKeys[0]: nil RSA key"},
		{"private key", jwt.Options{PublicKeys: []crypto.PublicKey{k.rsa}}, "PublicKeys[0]: unsupported key type *rsa.PrivateKey"},
		{"secret as a key", jwt.Options{PublicKeys: []crypto.PublicKey{k.secret}}, "unsupported key type []uint8"},
		{"small RSA key", jwt.Options{PublicKeys: []crypto.PublicKey{k.ed.Public(), &small.PublicKey}}, "PublicKeys[1]: RSA key of 1024 bits"},
		{"P-224", jwt.Options{PublicKeys: []crypto.PublicKey{&p224.PublicKey}}, "curve P-224"},
		{"bad JWKS URL", jwt.Options{JWKSURL: "ftp://x/jwks"}, "not an http or https URL"},
		{"relative JWKS URL", jwt.Options{JWKSURL: "/jwks"}, "not an http or https URL"},
		{"negative leeway", jwt.Options{HMACSecret: k.secret, Leeway: -time.Second}, "negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := jwt.New(t.Context(), tc.opts)
			if err == nil {
				a.Close()
				t.Fatal("New accepted it")
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("New error = %q, want it to contain %q", err, tc.msg)
			}
		})
	}
}

func TestAuthorizer_Concurrent(t *testing.T) {
	k := keys()
	a := newAuthorizer(t, allKeys())
	tokens := []string{
		mint(t, k.secret, jwt.MintOptions{Subject: "hs", Channels: []string{"a*"}}),
		mint(t, k.p256, jwt.MintOptions{Subject: "es"}),
		mint(t, k.ed, jwt.MintOptions{Subject: "ed", Listen: []string{"*"}}),
	}
	done := make(chan error)
	for i := range 8 {
		go func() {
			var err error
			for j := range 50 {
				if _, e := a.Authorize(t.Context(), nil, tokens[(i+j)%len(tokens)]); e != nil {
					err = e
				}
			}
			done <- err
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
