package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/auth/jwt"
)

const testTokenSecret = "a test secret of at least 32 bytes."

// mintCLI runs halley token and returns the token it printed.
func mintCLI(t *testing.T, args ...string) string {
	t.Helper()
	var stdout, stderr syncBuffer
	if code := run(t.Context(), append([]string{"token"}, args...), &stdout, &stderr); code != 0 {
		t.Fatalf("halley token %q: exit %d, stderr %q", args, code, stderr.String())
	}
	out := stdout.String()
	if !strings.HasSuffix(out, "\n") || strings.Count(out, "\n") != 1 || strings.Count(out, ".") != 2 {
		t.Fatalf("halley token printed %q, want a JWT and a newline", out)
	}
	if stderr.String() != "" {
		t.Errorf("halley token wrote on stderr: %q", stderr.String())
	}
	return strings.TrimSuffix(out, "\n")
}

// authorize checks token with an Authorizer for opts.
func authorize(t *testing.T, opts jwt.Options, token string) halley.Grant {
	t.Helper()
	a, err := jwt.New(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	g, err := a.Authorize(t.Context(), nil, token)
	if err != nil {
		t.Fatalf("Authorize: %v", err)
	}
	return g
}

func TestToken_HMAC(t *testing.T) {
	t.Setenv(tokenSecretEnv, "")
	before := time.Now().Truncate(time.Second)
	token := mintCLI(t, "--hmac-secret", testTokenSecret, "--sub", "alice",
		"--channels", "news, user:alice*", "--write", "chat", "--listen", "docs:*,wiki:42,", "--ttl", "15m")
	after := time.Now()
	g := authorize(t, jwt.Options{HMACSecret: []byte(testTokenSecret)}, token)
	if g.User != "alice" {
		t.Errorf("User = %q, want alice", g.User)
	}
	if g.Expires.Before(before.Add(15*time.Minute)) || g.Expires.After(after.Add(15*time.Minute)) {
		t.Errorf("Expires = %v, want 15 minutes after %v", g.Expires, before)
	}
	if g.Rights == nil {
		t.Fatal("no rights")
	}
	r := g.Rights
	for _, c := range []struct {
		what      string
		got, want bool
	}{
		{"read news", r.CanSubscribe("news"), true},
		{"read user:alice/inbox", r.CanSubscribe("user:alice/inbox"), true},
		{"read chat", r.CanSubscribe("chat"), false},
		{"write chat", r.CanWrite("chat"), true},
		{"listen docs 1", r.CanListen("docs", "1"), true},
		{"listen wiki 42", r.CanListen("wiki", "42"), true},
		{"listen wiki 43", r.CanListen("wiki", "43"), false},
	} {
		if c.got != c.want {
			t.Errorf("%s: %v, want %v", c.what, c.got, c.want)
		}
	}
}

func TestToken_SecretFromEnv(t *testing.T) {
	t.Setenv(tokenSecretEnv, testTokenSecret)
	token := mintCLI(t, "--aud", "halley", "--iss", "me")
	g := authorize(t, jwt.Options{HMACSecret: []byte(testTokenSecret), Audience: "halley", Issuer: "me"}, token)
	if g.User != "" || g.Rights != nil {
		t.Errorf("Grant = %+v, want anonymous without rights", g)
	}
	// The flag wins over the environment.
	other := strings.Repeat("x", 32)
	token = mintCLI(t, "--hmac-secret", other)
	authorize(t, jwt.Options{HMACSecret: []byte(other)}, token)
}

func TestToken_PrivateKey(t *testing.T) {
	t.Setenv(tokenSecretEnv, testTokenSecret) // ignored with --private-key
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ec, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for name, key := range map[string]crypto.Signer{"Ed25519": ed, "P-384": ec} {
		t.Run(name, func(t *testing.T) {
			der, err := x509.MarshalPKCS8PrivateKey(key)
			if err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(t.TempDir(), "key.pem")
			if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
				t.Fatal(err)
			}
			token := mintCLI(t, "--private-key", file, "--sub", "bob")
			if g := authorize(t, jwt.Options{PublicKeys: []crypto.PublicKey{key.Public()}}, token); g.User != "bob" {
				t.Errorf("User = %q, want bob", g.User)
			}
		})
	}
}

func TestToken_Errors(t *testing.T) {
	dir := t.TempDir()
	notKey := filepath.Join(dir, "not-a-key.pem")
	if err := os.WriteFile(notKey, []byte("hello\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		env    string
		args   []string
		code   int
		stderr string
	}{
		{name: "no key", args: []string{"--sub", "alice"}, code: 2, stderr: "halley token: no key: give --hmac-secret"},
		{name: "empty secret flag", env: testTokenSecret, args: []string{"--hmac-secret", ""}, code: 2, stderr: "no key"},
		{name: "both keys", args: []string{"--hmac-secret", testTokenSecret, "--private-key", notKey}, code: 2, stderr: "give one key only"},
		{name: "short secret", args: []string{"--hmac-secret", "secret"}, code: 2, stderr: "the HMAC secret has 6 bytes, at least 32"},
		{name: "short secret from env", env: "secret", code: 2, stderr: "the HMAC secret has 6 bytes"},
		{name: "zero TTL", env: testTokenSecret, args: []string{"--ttl", "0s"}, code: 2, stderr: "--ttl must be positive"},
		{name: "negative TTL", env: testTokenSecret, args: []string{"--ttl", "-1h"}, code: 2, stderr: "--ttl must be positive"},
		{name: "bad TTL", env: testTokenSecret, args: []string{"--ttl", "soon"}, code: 2, stderr: "invalid value"},
		{name: "bad listen pattern", env: testTokenSecret, args: []string{"--listen", "docs:1,docs"}, code: 2, stderr: "halley token: invalid pattern: listen[1]: listen pattern without ':'"},
		{name: "bad channel pattern", env: testTokenSecret, args: []string{"--channels", "a\tb"}, code: 2, stderr: "channels[0]: control character"},
		{name: "argument", env: testTokenSecret, args: []string{"alice"}, code: 2, stderr: `unexpected argument "alice"`},
		{name: "unknown flag", env: testTokenSecret, args: []string{"--user", "alice"}, code: 2, stderr: "flag provided but not defined"},
		{name: "missing key file", args: []string{"--private-key", filepath.Join(dir, "nope.pem")}, code: 1, stderr: "no such file"},
		{name: "not a key file", args: []string{"--private-key", notKey}, code: 1, stderr: "no private key"},
		{name: "help", args: []string{"-h"}, code: 0, stderr: "usage: halley token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(tokenSecretEnv, tt.env)
			var stdout, stderr syncBuffer
			if code := run(t.Context(), append([]string{"token"}, tt.args...), &stdout, &stderr); code != tt.code {
				t.Errorf("exit code = %d, want %d (stderr %q)", code, tt.code, stderr.String())
			}
			if stdout.String() != "" {
				t.Errorf("stdout = %q, want nothing", stdout.String())
			}
			if !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("stderr = %q, want it to contain %q", stderr.String(), tt.stderr)
			}
		})
	}
}

func TestToken_InHelp(t *testing.T) {
	var stdout, stderr syncBuffer
	if code := run(t.Context(), []string{"help"}, &stdout, &stderr); code != 0 {
		t.Fatalf("help: exit %d", code)
	}
	if !strings.Contains(stdout.String(), "token    mint a client token") {
		t.Errorf("help does not list token: %q", stdout.String())
	}
}
