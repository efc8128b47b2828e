package jwt

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// MaxPublicKeys bounds Options.PublicKeys: a token without "kid" is tried
// against every configured key of its type, so their number bounds the
// work a bad token costs. It also bounds the JWKS keys such a token is
// tried against.
const MaxPublicKeys = 16

// MinHMACSecret is the shortest HMAC secret accepted, in bytes (RFC 7518
// §3.2: at least the size of the SHA-256 output).
const MinHMACSecret = 32

// MinRSABits is the smallest RSA modulus accepted, in bits.
const MinRSABits = 2048

var (
	hmacMethods  = []string{"HS256", "HS384", "HS512"}
	rsaMethods   = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
	ecdsaMethods = []string{"ES256", "ES384", "ES512"}
	edMethods    = []string{"EdDSA"}
	// publicMethods are what a JWKS may allow: its keys are known only
	// once fetched, and fits checks each against the token's alg.
	publicMethods = slices.Concat(rsaMethods, ecdsaMethods, edMethods)
)

// ecdsaMethod is the algorithm of an ECDSA key, by its curve; "" for
// another curve.
func ecdsaMethod(k *ecdsa.PublicKey) string {
	switch k.Curve {
	case elliptic.P256():
		return "ES256"
	case elliptic.P384():
		return "ES384"
	case elliptic.P521():
		return "ES512"
	}
	return ""
}

// keyMethods returns the algorithms a public key verifies, or an error
// for a key New does not accept.
func keyMethods(key crypto.PublicKey) ([]string, error) {
	switch k := key.(type) {
	case *rsa.PublicKey:
		if k == nil || k.N == nil {
			return nil, errors.New("nil RSA key")
		}
		if n := k.N.BitLen(); n < MinRSABits {
			return nil, fmt.Errorf("RSA key of %d bits, at least %d wanted", n, MinRSABits)
		}
		return rsaMethods, nil
	case *ecdsa.PublicKey:
		if k == nil || k.Curve == nil {
			return nil, errors.New("nil ECDSA key")
		}
		m := ecdsaMethod(k)
		if m == "" {
			return nil, fmt.Errorf("ECDSA key on curve %s (want P-256, P-384 or P-521)", k.Curve.Params().Name)
		}
		return []string{m}, nil
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("Ed25519 key of %d bytes", len(k))
		}
		return edMethods, nil
	case nil:
		return nil, errors.New("nil key")
	}
	return nil, fmt.Errorf("unsupported key type %T (want *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey)", key)
}

// fits reports whether key may verify a token signed with alg. It is the
// one place that ties algorithms to key types: an HS* alg fits no public
// key, and nothing fits a symmetric key, which is never a public key.
func fits(alg string, key any) bool {
	switch k := key.(type) {
	case *rsa.PublicKey:
		return strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS")
	case *ecdsa.PublicKey:
		return k.Curve != nil && ecdsaMethod(k) == alg
	case ed25519.PublicKey:
		return alg == "EdDSA" && len(k) == ed25519.PublicKeySize
	}
	return false
}

// ParsePublicKeys returns the public keys of every PEM block of a file:
// "PUBLIC KEY" (PKIX: RSA, ECDSA or Ed25519), "RSA PUBLIC KEY" (PKCS #1) and
// "CERTIFICATE" (its public key; the certificate's dates and chain are not
// checked). A block of another type, a key of another kind or a file
// without a block is an error.
func ParsePublicKeys(pemBytes []byte) ([]crypto.PublicKey, error) {
	var keys []crypto.PublicKey
	for n := 1; ; n++ {
		var block *pem.Block
		block, pemBytes = pem.Decode(pemBytes)
		if block == nil {
			break
		}
		var key crypto.PublicKey
		var err error
		switch block.Type {
		case "PUBLIC KEY":
			key, err = x509.ParsePKIXPublicKey(block.Bytes)
		case "RSA PUBLIC KEY":
			key, err = x509.ParsePKCS1PublicKey(block.Bytes)
		case "CERTIFICATE":
			var cert *x509.Certificate
			if cert, err = x509.ParseCertificate(block.Bytes); err == nil {
				key = cert.PublicKey
			}
		default:
			err = errors.New("not a public key or certificate")
		}
		if err == nil {
			_, err = keyMethods(key)
		}
		if err != nil {
			return nil, fmt.Errorf("jwt: PEM block %d (%s): %w", n, block.Type, err)
		}
		keys = append(keys, key)
	}
	if len(keys) == 0 {
		return nil, errors.New("jwt: no PEM block")
	}
	return keys, nil
}

// ParsePrivateKey returns the private key of a PEM file, to sign tokens
// with Mint: a "PRIVATE KEY" (PKCS #8: RSA, ECDSA or Ed25519), "RSA PRIVATE
// KEY" (PKCS #1) or "EC PRIVATE KEY" (SEC 1) block. Other blocks (EC
// PARAMETERS, certificates) are skipped; an encrypted key, a file with no
// private key or with more than one is an error.
func ParsePrivateKey(pemBytes []byte) (crypto.Signer, error) {
	var found crypto.Signer
	for {
		var block *pem.Block
		block, pemBytes = pem.Decode(pemBytes)
		if block == nil {
			break
		}
		var key any
		var err error
		switch block.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		case "ENCRYPTED PRIVATE KEY":
			return nil, errors.New("jwt: encrypted private keys are not supported")
		default:
			continue
		}
		if strings.Contains(block.Headers["Proc-Type"], "ENCRYPTED") {
			return nil, errors.New("jwt: encrypted private keys are not supported")
		}
		if err != nil {
			return nil, fmt.Errorf("jwt: %s: %w", strings.ToLower(block.Type), err)
		}
		if found != nil {
			return nil, errors.New("jwt: more than one private key")
		}
		switch k := key.(type) {
		case *rsa.PrivateKey:
			found = k
		case *ecdsa.PrivateKey:
			found = k
		case ed25519.PrivateKey:
			found = k
		default:
			return nil, fmt.Errorf("jwt: unsupported private key type %T", key)
		}
	}
	if found == nil {
		return nil, errors.New("jwt: no private key in the PEM data")
	}
	return found, nil
}
