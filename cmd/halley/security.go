package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/auth/jwt"
	"github.com/halleyhq/halley/httpapi"
)

// securityConfig is the part of the configuration that decides who may
// do what, and the limits that hold against hostile clients
// (docs/security.md). The config file's keys are its JSON names; every
// field is also a flag.
type securityConfig struct {
	// Client tokens: any of the three key sources turns tokens on.
	TokenHMACSecret string   `json:"token_hmac_secret"`
	TokenPublicKey  string   `json:"token_public_key"` // a PEM file
	TokenJWKSURL    string   `json:"token_jwks_url"`
	TokenAudience   string   `json:"token_audience"`
	TokenIssuer     string   `json:"token_issuer"`
	TokenLeeway     duration `json:"token_leeway"`

	AllowedOrigins list `json:"allowed_origins"`
	TrustedProxies list `json:"trusted_proxies"`

	MaxConnsPerIP    int      `json:"max_conns_per_ip"`
	SessionRate      float64  `json:"session_rate"`
	SessionBurst     int      `json:"session_burst"`
	MaxListens       int      `json:"max_listens"`
	ClientFrameRate  float64  `json:"client_frame_rate"`
	MaxKeyLen        int      `json:"max_key_len"`
	MaxClientMessage int      `json:"max_client_message"`
	RingBytes        int      `json:"ring_bytes"`
	BodyTimeout      duration `json:"body_timeout"`
}

// defaultSecurity returns the library's defaults, so that the flags show
// them.
func defaultSecurity() securityConfig {
	return securityConfig{
		TokenLeeway:      duration(30 * time.Second),
		MaxConnsPerIP:    halley.DefaultMaxConnsPerIP,
		SessionRate:      halley.DefaultSessionRate,
		SessionBurst:     halley.DefaultSessionBurst,
		MaxListens:       halley.DefaultMaxListens,
		ClientFrameRate:  halley.DefaultClientFrameRate,
		MaxKeyLen:        halley.DefaultMaxKeyLen,
		MaxClientMessage: halley.DefaultMaxClientMessage,
		RingBytes:        halley.DefaultRingBytes,
		BodyTimeout:      duration(halley.DefaultBodyTimeout),
	}
}

// flags declares the security flags on fs, writing into c.
func (c *securityConfig) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.TokenHMACSecret, "token-hmac-secret", c.TokenHMACSecret, "`secret` of HS256/384/512 client tokens, at least 32 bytes (default $HALLEY_TOKEN_HMAC_SECRET); turns tokens on")
	fs.StringVar(&c.TokenPublicKey, "token-public-key", c.TokenPublicKey, "PEM `file` of the public keys (RSA, ECDSA, Ed25519) of client tokens; turns tokens on")
	fs.StringVar(&c.TokenJWKSURL, "token-jwks-url", c.TokenJWKSURL, "`URL` of a JWKS with the keys of client tokens, fetched at start and refreshed; turns tokens on")
	fs.StringVar(&c.TokenAudience, "token-audience", c.TokenAudience, "`aud` client tokens must carry (default: not checked)")
	fs.StringVar(&c.TokenIssuer, "token-issuer", c.TokenIssuer, "`iss` client tokens must carry (default: not checked)")
	fs.DurationVar((*time.Duration)(&c.TokenLeeway), "token-leeway", time.Duration(c.TokenLeeway), "clock skew allowed on a token's exp and nbf")
	fs.Var(&c.AllowedOrigins, "allowed-origins", "comma-separated `patterns` of the web pages of other origins that may use the client transports, such as https://*.example.com (default $HALLEY_ALLOWED_ORIGINS; none: the server's own pages only)")
	fs.Var(&c.TrustedProxies, "trusted-proxies", "comma-separated `addresses or CIDRs` of reverse proxies whose X-Forwarded-For and X-Forwarded-Proto are believed")
	fs.IntVar(&c.MaxConnsPerIP, "max-conns-per-ip", c.MaxConnsPerIP, "cap on the transport requests under way from one client address (an IPv6 /64); -1: no cap")
	fs.Float64Var(&c.SessionRate, "session-rate", c.SessionRate, "new sessions per second one client address may get, on average; -1: no limit")
	fs.IntVar(&c.SessionBurst, "session-burst", c.SessionBurst, "new sessions one client address may get at once")
	fs.IntVar(&c.MaxListens, "max-listens", c.MaxListens, "cap on the notifier keys one session listens on")
	fs.Float64Var(&c.ClientFrameRate, "client-frame-rate", c.ClientFrameRate, "frames per second a WebSocket client may send (in bursts of as many); past it the server reads no faster")
	fs.IntVar(&c.MaxKeyLen, "max-key-len", c.MaxKeyLen, "longest notifier key, in bytes")
	fs.IntVar(&c.MaxClientMessage, "max-client-message", c.MaxClientMessage, "largest message a client writes to a bus, in bytes")
	fs.IntVar(&c.RingBytes, "ring-bytes", c.RingBytes, "payload bytes a channel's ring keeps at most, beside its size in messages; -1: no byte bound")
	fs.DurationVar((*time.Duration)(&c.BodyTimeout), "body-timeout", time.Duration(c.BodyTimeout), "time a client may take to send a request body")
}

// check reports the first value the server cannot run with.
func (c securityConfig) check() error {
	if c.TokenHMACSecret != "" && len(c.TokenHMACSecret) < jwt.MinHMACSecret {
		return fmt.Errorf("token HMAC secret: at least %d bytes, got %d", jwt.MinHMACSecret, len(c.TokenHMACSecret))
	}
	if _, err := c.prefixes(); err != nil {
		return err
	}
	switch {
	case c.TokenLeeway < 0:
		return errors.New("token leeway must not be negative")
	case c.SessionBurst < 1:
		return fmt.Errorf("session burst must be 1 or more, got %d", c.SessionBurst)
	case c.SessionRate == 0:
		return errors.New("session rate must be positive (or -1: no limit)")
	case c.MaxConnsPerIP == 0:
		return errors.New("max conns per ip must be positive (or -1: no cap)")
	case c.MaxListens < 1 || c.MaxKeyLen < 1 || c.MaxClientMessage < 1 || c.ClientFrameRate <= 0:
		return errors.New("max listens, max key len, max client message and client frame rate must be positive")
	case c.RingBytes == 0:
		return errors.New("ring bytes must be positive (or -1: no byte bound)")
	case c.BodyTimeout <= 0:
		return errors.New("body timeout must be positive")
	}
	for _, o := range c.AllowedOrigins {
		if o == "*" {
			return errors.New(`allowed origins: "*" would let every web page use the server as its visitors; list the origins`)
		}
	}
	return nil
}

// tokens reports whether client tokens are on.
func (c securityConfig) tokens() bool {
	return c.TokenHMACSecret != "" || c.TokenPublicKey != "" || c.TokenJWKSURL != ""
}

// prefixes parses the trusted proxies.
func (c securityConfig) prefixes() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range c.TrustedProxies {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, fmt.Errorf("trusted proxies: %q is neither an address nor a CIDR", s)
			}
			p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// apply fills the hub's configuration, and makes the token Authorizer
// when tokens are on (its JWKS is fetched once before it returns); the
// caller closes it at exit.
func (c securityConfig) apply(ctx context.Context, hc *halley.Config) (*jwt.Authorizer, error) {
	proxies, err := c.prefixes()
	if err != nil {
		return nil, err
	}
	hc.AllowedOrigins = c.AllowedOrigins
	hc.TrustedProxies = proxies
	hc.MaxConnsPerIP = c.MaxConnsPerIP
	hc.SessionRate = c.SessionRate
	hc.SessionBurst = c.SessionBurst
	hc.MaxListens = c.MaxListens
	hc.ClientFrameRate = c.ClientFrameRate
	hc.MaxKeyLen = c.MaxKeyLen
	hc.MaxClientMessage = c.MaxClientMessage
	hc.RingBytes = c.RingBytes
	hc.BodyTimeout = time.Duration(c.BodyTimeout)
	if !c.tokens() {
		return nil, nil
	}
	opts := jwt.Options{
		JWKSURL:  c.TokenJWKSURL,
		Audience: c.TokenAudience,
		Issuer:   c.TokenIssuer,
		Leeway:   time.Duration(c.TokenLeeway),
	}
	if c.TokenHMACSecret != "" {
		opts.HMACSecret = []byte(c.TokenHMACSecret)
	}
	if c.TokenPublicKey != "" {
		pem, err := os.ReadFile(c.TokenPublicKey)
		if err != nil {
			return nil, fmt.Errorf("token public key: %w", err)
		}
		if opts.PublicKeys, err = jwt.ParsePublicKeys(pem); err != nil {
			return nil, fmt.Errorf("token public key %s: %w", c.TokenPublicKey, err)
		}
	}
	a, err := jwt.New(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("client tokens: %w", err)
	}
	hc.Authorizer = a
	return a, nil
}

// checkAPIKey refuses an API key that could never match.
func checkAPIKey(key string) error {
	if err := httpapi.CheckAPIKey(key); err != nil {
		return fmt.Errorf("api key: %w", err)
	}
	return nil
}

// list is a list of strings: a comma-separated flag, a JSON array in the
// config file.
type list []string

// String implements flag.Value.
func (l *list) String() string { return strings.Join(*l, ",") }

// Set implements flag.Value: the flag replaces the list.
func (l *list) Set(s string) error {
	*l = nil
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			*l = append(*l, item)
		}
	}
	return nil
}

// UnmarshalJSON takes an array of strings, or one comma-separated string.
func (l *list) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		return l.Set(s)
	}
	var items []string
	if err := json.Unmarshal(b, &items); err != nil {
		return errors.New("want an array of strings")
	}
	*l = items
	return nil
}
