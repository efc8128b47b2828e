package jwt

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	jwtlib "github.com/golang-jwt/jwt/v5"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/auth"
)

// Options configure an Authorizer. At least one key source (HMACSecret,
// PublicKeys or JWKSURL) is required; they may be combined.
type Options struct {
	// HMACSecret verifies HS256, HS384 and HS512 tokens: at least
	// MinHMACSecret (32) bytes. Default: none, and HS* tokens are refused.
	HMACSecret []byte
	// PublicKeys verify asymmetric tokens: *rsa.PublicKey (RS*, PS*; at
	// least MinRSABits), *ecdsa.PublicKey (ES256, ES384 or ES512, by
	// curve) and ed25519.PublicKey (EdDSA); at most MaxPublicKeys.
	// ParsePublicKeys reads them from PEM. A token is tried against each
	// key of its algorithm, whatever its "kid". Default: none.
	PublicKeys []crypto.PublicKey
	// JWKSURL is the URL of a JSON Web Key Set (an identity provider's
	// jwks_uri, normally https). New fetches it; the keys are cached and
	// fetched again every JWKSRefresh, and at once (at most every
	// JWKSRefreshUnknownKID) when a token names a "kid" the set does not
	// have. Its asymmetric keys verify tokens, chosen by "kid" (or, for
	// a token without one, each key of its algorithm, up to
	// MaxPublicKeys), each only for its own algorithm; its symmetric
	// keys, and keys with a "use" other than "sig", never do. Default:
	// none.
	JWKSURL string
	// HTTPClient fetches the JWKS; each fetch is also bounded by 10 s,
	// and the answer by 1 MiB. Default: http.DefaultClient.
	HTTPClient *http.Client
	// JWKSRefresh is how often the JWKS is fetched again. Default: 1 hour
	// (keyfunc's).
	JWKSRefresh time.Duration
	// JWKSRefreshUnknownKID is the least time between two fetches of the
	// JWKS caused by tokens naming an unknown "kid"; in between, such a
	// token is refused without a fetch, unless the next fetch is allowed
	// within 10 s, which it then waits for (within its context). Default:
	// 5 minutes (keyfunc's).
	JWKSRefreshUnknownKID time.Duration
	// Audience, when set, must be one of the token's "aud". Default: the
	// audience is not checked.
	Audience string
	// Issuer, when set, must be the token's "iss". Default: the issuer is
	// not checked.
	Issuer string
	// Leeway is the clock skew allowed when checking "exp" and "nbf".
	// Default: 0.
	Leeway time.Duration
	// Now is the clock tokens are checked against, for tests. Default:
	// time.Now.
	Now func() time.Time
	// Logger receives the failures of JWKS fetches after the first.
	// Default: slog.Default().
	Logger *slog.Logger
}

// Authorizer verifies clients' JSON Web Tokens and gives their grants: it
// implements halley.Authorizer. It is safe for concurrent use. Close it
// when it has a JWKS, to stop the goroutine refreshing the keys.
type Authorizer struct {
	hmac    []byte
	static  map[string]any // by alg: a key, or a VerificationKeySet of several
	methods []string
	parser  *jwtlib.Parser
	jwks    *jwks // nil without Options.JWKSURL
	leeway  time.Duration

	closeOnce sync.Once
}

var _ halley.Authorizer = (*Authorizer)(nil)

// New returns an Authorizer for opts, or an error for a bad option. With a
// JWKSURL, New fetches the key set, bounded by ctx, and fails if it cannot;
// the background refresh it starts lasts until Close, whatever ctx does.
func New(ctx context.Context, opts Options) (*Authorizer, error) {
	if len(opts.HMACSecret) == 0 && len(opts.PublicKeys) == 0 && opts.JWKSURL == "" {
		return nil, errors.New("jwt: no key: set HMACSecret, PublicKeys or JWKSURL")
	}
	if opts.Leeway < 0 || opts.JWKSRefresh < 0 || opts.JWKSRefreshUnknownKID < 0 {
		return nil, errors.New("jwt: negative Leeway, JWKSRefresh or JWKSRefreshUnknownKID")
	}
	a := &Authorizer{static: make(map[string]any), leeway: opts.Leeway}
	if opts.HMACSecret != nil {
		if len(opts.HMACSecret) < MinHMACSecret {
			return nil, fmt.Errorf("jwt: HMACSecret of %d bytes, at least %d wanted", len(opts.HMACSecret), MinHMACSecret)
		}
		a.hmac = slices.Clone(opts.HMACSecret)
		a.methods = append(a.methods, hmacMethods...)
	}
	if len(opts.PublicKeys) > MaxPublicKeys {
		return nil, fmt.Errorf("jwt: %d PublicKeys, at most %d", len(opts.PublicKeys), MaxPublicKeys)
	}
	byAlg := make(map[string][]jwtlib.VerificationKey)
	for i, k := range opts.PublicKeys {
		methods, err := keyMethods(k)
		if err != nil {
			return nil, fmt.Errorf("jwt: PublicKeys[%d]: %w", i, err)
		}
		for _, m := range methods {
			byAlg[m] = append(byAlg[m], k)
		}
	}
	for alg, keys := range byAlg {
		if len(keys) == 1 {
			a.static[alg] = keys[0]
		} else {
			a.static[alg] = jwtlib.VerificationKeySet{Keys: keys}
		}
	}
	for _, m := range publicMethods {
		if _, ok := byAlg[m]; ok || opts.JWKSURL != "" {
			a.methods = append(a.methods, m)
		}
	}
	if opts.JWKSURL != "" {
		u, err := url.Parse(opts.JWKSURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, errors.New("jwt: JWKSURL is not an http or https URL")
		}
		if a.jwks, err = newJWKS(ctx, opts); err != nil {
			return nil, err
		}
	}

	popts := []jwtlib.ParserOption{
		jwtlib.WithValidMethods(a.methods),
		jwtlib.WithExpirationRequired(),
		jwtlib.WithLeeway(opts.Leeway),
		// One encoding per token: no other string with the same signature.
		jwtlib.WithStrictDecoding(),
	}
	if opts.Now != nil {
		popts = append(popts, jwtlib.WithTimeFunc(opts.Now))
	}
	if opts.Audience != "" {
		popts = append(popts, jwtlib.WithAudience(opts.Audience))
	}
	if opts.Issuer != "" {
		popts = append(popts, jwtlib.WithIssuer(opts.Issuer))
	}
	a.parser = jwtlib.NewParser(popts...)
	return a, nil
}

// Close stops the periodic refresh of the JWKS and waits until it has
// stopped. It returns nil. Authorize goes on working after Close, with the
// keys it has (and a fetch for an unknown "kid", in the caller's
// goroutine).
func (a *Authorizer) Close() error {
	if a.jwks != nil {
		a.closeOnce.Do(a.jwks.stop)
		<-a.jwks.done
	}
	return nil
}

// Authorize implements halley.Authorizer: "" gives the anonymous Grant{};
// a token gives the grant of its claims (see Claims) if it is valid, else
// an error wrapping halley.ErrTokenExpired or halley.ErrInvalidToken. The
// request is not used. ctx bounds a fetch of the JWKS for an unknown "kid".
func (a *Authorizer) Authorize(ctx context.Context, _ *http.Request, token string) (halley.Grant, error) {
	if token == "" {
		return halley.Grant{}, nil
	}
	if len(token) > halley.MaxTokenLen {
		return halley.Grant{}, invalid(fmt.Sprintf("longer than %d bytes", halley.MaxTokenLen), nil)
	}
	var c Claims
	t, err := a.parser.ParseWithClaims(token, &c, a.keyfunc(ctx))
	if err != nil {
		return halley.Grant{}, a.refusal(t, &c, err)
	}
	if strings.ContainsFunc(c.Subject, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return halley.Grant{}, invalid("control character in sub", nil)
	}
	// A token is good until exp plus the leeway: so is a stream opened
	// with it.
	g := halley.Grant{User: c.Subject, Expires: c.ExpiresAt.Time.Add(a.leeway)}
	if len(c.Channels)+len(c.Write)+len(c.Listen) > 0 {
		r, err := auth.ParseRights(c.Channels, c.Write, c.Listen)
		if err != nil {
			return halley.Grant{}, invalid("rights claims: "+strings.TrimPrefix(err.Error(), auth.ErrInvalidPattern.Error()+": "), err)
		}
		g.Rights = r
	}
	return g, nil
}

// The failures of keyfunc.
var (
	// errNoKey: no configured key fits the token.
	errNoKey = errors.New("no key for the token")
	// errCrit: the token has a "crit" header, naming extensions it
	// must not be accepted without (RFC 7515 §4.1.11); none is known.
	errCrit = errors.New("crit header")
)

// keyfunc returns the keys that may verify a token: the HMAC secret for
// HS*, else the static and JWKS keys that fit its algorithm.
func (a *Authorizer) keyfunc(ctx context.Context) jwtlib.Keyfunc {
	return func(t *jwtlib.Token) (any, error) {
		if _, ok := t.Header["crit"]; ok {
			return nil, errCrit
		}
		alg := t.Method.Alg()
		if slices.Contains(hmacMethods, alg) {
			if a.hmac == nil {
				return nil, errNoKey
			}
			return a.hmac, nil
		}
		static, ok := a.static[alg]
		if a.jwks == nil {
			if !ok {
				return nil, errNoKey
			}
			return static, nil
		}
		keys := a.jwks.keys(ctx, t, alg)
		if ok {
			if set, isSet := static.(jwtlib.VerificationKeySet); isSet {
				keys = append(keys, set.Keys...)
			} else {
				keys = append(keys, static)
			}
		}
		switch len(keys) {
		case 0:
			return nil, errNoKey
		case 1:
			return keys[0], nil
		}
		return jwtlib.VerificationKeySet{Keys: keys}, nil
	}
}

// refusal is the error of a token the parser refused: expired only when
// that is all that is wrong with it.
func (a *Authorizer) refusal(t *jwtlib.Token, c *Claims, err error) error {
	switch {
	case errors.Is(err, jwtlib.ErrTokenMalformed):
		return invalid("malformed", err)
	case t != nil && t.Method != nil && !slices.Contains(a.methods, t.Method.Alg()):
		return invalid("algorithm not allowed", err)
	case errors.Is(err, errNoKey):
		return invalid("unknown signing key", err)
	case errors.Is(err, errCrit):
		return invalid("unsupported crit header", err)
	case errors.Is(err, jwtlib.ErrTokenUnverifiable):
		return invalid("unsupported algorithm", err)
	case errors.Is(err, jwtlib.ErrTokenSignatureInvalid):
		return invalid("bad signature", err)
	case errors.Is(err, jwtlib.ErrTokenRequiredClaimMissing):
		switch {
		case c.ExpiresAt == nil:
			return invalid("no exp claim", err)
		case len(c.Audience) == 0:
			return invalid("no aud claim", err)
		}
		return invalid("no iss claim", err)
	case errors.Is(err, jwtlib.ErrTokenInvalidAudience):
		return invalid("wrong audience", err)
	case errors.Is(err, jwtlib.ErrTokenInvalidIssuer):
		return invalid("wrong issuer", err)
	case errors.Is(err, jwtlib.ErrTokenNotValidYet):
		return invalid("not valid yet", err)
	case errors.Is(err, jwtlib.ErrTokenExpired):
		return &tokenError{kind: halley.ErrTokenExpired, cause: err}
	}
	return invalid("invalid claims", err)
}

// tokenError is a refused token: its text is the kind and a short reason,
// never the token; it wraps the kind and the parser's error.
type tokenError struct {
	kind  error
	why   string
	cause error
}

func invalid(why string, cause error) error {
	return &tokenError{kind: halley.ErrInvalidToken, why: why, cause: cause}
}

func (e *tokenError) Error() string {
	if e.why == "" {
		return e.kind.Error()
	}
	return e.kind.Error() + ": " + e.why
}

func (e *tokenError) Unwrap() []error {
	if e.cause == nil {
		return []error{e.kind}
	}
	return []error{e.kind, e.cause}
}
