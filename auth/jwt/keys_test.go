package jwt_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/halleyhq/halley/auth/jwt"
)

func pemBlock(t testing.TB, typ string, der []byte) []byte {
	t.Helper()
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func pkixPEM(t testing.TB, pub any) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pemBlock(t, "PUBLIC KEY", der)
}

func pkcs8(t testing.TB, priv any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return pemBlock(t, "PRIVATE KEY", der)
}

// certificate returns a self-signed certificate of key's public key.
func certificate(t testing.TB, key crypto.Signer) []byte {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "halley test"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return pemBlock(t, "CERTIFICATE", der)
}

func TestParsePublicKeys(t *testing.T) {
	k := keys()
	file := bytes.Join([][]byte{
		[]byte("# the keys of the issuer\n"),
		pkixPEM(t, &k.rsa.PublicKey),
		pkixPEM(t, &k.p256.PublicKey),
		pkixPEM(t, k.ed.Public()),
		pemBlock(t, "RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&k.rsa2.PublicKey)),
		certificate(t, k.p384),
	}, nil)
	got, err := jwt.ParsePublicKeys(file)
	if err != nil {
		t.Fatalf("ParsePublicKeys: %v", err)
	}
	want := []crypto.PublicKey{&k.rsa.PublicKey, &k.p256.PublicKey, k.ed.Public(), &k.rsa2.PublicKey, &k.p384.PublicKey}
	if len(got) != len(want) {
		t.Fatalf("ParsePublicKeys: %d keys, want %d", len(got), len(want))
	}
	for i := range want {
		if !want[i].(interface{ Equal(crypto.PublicKey) bool }).Equal(got[i]) {
			t.Errorf("key %d = %T, not the key written", i, got[i])
		}
	}
	// They verify tokens of their keys.
	a := newAuthorizer(t, jwt.Options{PublicKeys: got})
	for _, key := range []any{k.rsa, k.p256, k.ed, k.rsa2, k.p384} {
		if _, err := a.Authorize(t.Context(), nil, mint(t, key, jwt.MintOptions{})); err != nil {
			t.Errorf("token of %T: %v", key, err)
		}
	}
}

func TestParsePublicKeys_Errors(t *testing.T) {
	k := keys()
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		pem  []byte
		msg  string
	}{
		{"empty", nil, "no PEM block"},
		{"not PEM", []byte("ssh-ed25519 AAAA"), "no PEM block"},
		{"private key", append(pkixPEM(t, &k.rsa.PublicKey), pkcs8(t, k.rsa)...), "PEM block 2 (PRIVATE KEY): not a public key"},
		{"garbage", pemBlock(t, "PUBLIC KEY", []byte("nope")), "PEM block 1 (PUBLIC KEY): "},
		{"bad certificate", pemBlock(t, "CERTIFICATE", []byte("nope")), "PEM block 1 (CERTIFICATE): x509"},
		{"P-224", pkixPEM(t, &p224.PublicKey), "curve P-224"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := jwt.ParsePublicKeys(tc.pem)
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("ParsePublicKeys error = %v, want it to contain %q", err, tc.msg)
			}
		})
	}
}

func TestParsePrivateKey(t *testing.T) {
	k := keys()
	sec1, err := x509.MarshalECPrivateKey(k.p256)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		pem  []byte
		pub  crypto.PublicKey
	}{
		{"PKCS8 RSA", pkcs8(t, k.rsa), &k.rsa.PublicKey},
		{"PKCS8 ECDSA", pkcs8(t, k.p384), &k.p384.PublicKey},
		{"PKCS8 Ed25519", pkcs8(t, k.ed), k.ed.Public()},
		{"PKCS1", pemBlock(t, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(k.rsa)), &k.rsa.PublicKey},
		// As openssl ecparam -genkey writes it.
		{"SEC1 after EC PARAMETERS", append(pemBlock(t, "EC PARAMETERS", []byte{6, 8, 42, 134, 72, 206, 61, 3, 1, 7}), pemBlock(t, "EC PRIVATE KEY", sec1)...), &k.p256.PublicKey},
		{"with a certificate", append(certificate(t, k.ed), pkcs8(t, k.ed)...), k.ed.Public()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key, err := jwt.ParsePrivateKey(tc.pem)
			if err != nil {
				t.Fatalf("ParsePrivateKey: %v", err)
			}
			if !tc.pub.(interface{ Equal(crypto.PublicKey) bool }).Equal(key.Public()) {
				t.Errorf("ParsePrivateKey gave the key of another public key")
			}
			// It mints tokens its public key verifies.
			a := newAuthorizer(t, jwt.Options{PublicKeys: []crypto.PublicKey{tc.pub}})
			if _, err := a.Authorize(t.Context(), nil, mint(t, key, jwt.MintOptions{})); err != nil {
				t.Errorf("minted token: %v", err)
			}
		})
	}
}

func TestParsePrivateKey_Errors(t *testing.T) {
	k := keys()
	encrypted := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00"}, Bytes: []byte("x")})
	for _, tc := range []struct {
		name string
		pem  []byte
		msg  string
	}{
		{"empty", nil, "no private key"},
		{"public key only", pkixPEM(t, &k.rsa.PublicKey), "no private key"},
		{"two keys", append(pkcs8(t, k.ed), pkcs8(t, k.ed2)...), "more than one private key"},
		{"PKCS8 encrypted", pemBlock(t, "ENCRYPTED PRIVATE KEY", []byte("x")), "encrypted"},
		{"legacy encrypted", encrypted, "encrypted"},
		{"garbage", pemBlock(t, "PRIVATE KEY", []byte("nope")), "private key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := jwt.ParsePrivateKey(tc.pem)
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("ParsePrivateKey error = %v, want it to contain %q", err, tc.msg)
			}
		})
	}
}
