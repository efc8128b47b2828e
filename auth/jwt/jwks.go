package jwt

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	jwtlib "github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"
)

const (
	// jwksTimeout bounds a fetch of the JWKS, and a token's wait for a
	// fetch allowed by the unknown-kid rate limit.
	jwksTimeout = 10 * time.Second
	// maxJWKS bounds the size of a JWKS answer.
	maxJWKS = 1 << 20
	// The defaults of keyfunc.NewDefaultOverrideCtx.
	defaultJWKSRefresh           = time.Hour
	defaultJWKSRefreshUnknownKID = 5 * time.Minute
)

// jwks is a JWK Set fetched over HTTP. jwkset (through keyfunc) caches it
// and fetches it again when a token names an unknown kid; the periodic
// fetch is run here rather than by jwkset, whose goroutine cannot be
// waited for, so that Close can stop it and wait.
type jwks struct {
	kf   keyfunc.Keyfunc
	stop context.CancelFunc
	done chan struct{}
}

func newJWKS(ctx context.Context, opts Options) (*jwks, error) {
	client := opts.HTTPClient
	if client == nil {
		client = http.DefaultClient
	}
	limited := *client
	limited.Transport = limitTransport{rt: client.Transport}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	refresh := opts.JWKSRefresh
	if refresh == 0 {
		refresh = defaultJWKSRefresh
	}
	unknownKID := opts.JWKSRefreshUnknownKID
	if unknownKID == 0 {
		unknownKID = defaultJWKSRefreshUnknownKID
	}

	mem := jwkset.NewMemoryStorage()
	sopts := jwkset.HTTPClientStorageOptions{
		Client:      &limited,
		Ctx:         ctx, // the first fetch
		HTTPTimeout: jwksTimeout,
		RefreshErrorHandler: func(_ context.Context, err error) {
			log.Warn("halley: fetching the JWKS failed", "url", opts.JWKSURL, "err", err)
		},
		// Every fetch replaces the keys of mem, which a failed one leaves
		// as they were.
		Storage: mem,
	}
	store, err := jwkset.NewStorageFromHTTP(opts.JWKSURL, sopts)
	if err != nil {
		return nil, fmt.Errorf("jwt: JWKS: %w", err)
	}
	storage, err := jwkset.NewHTTPClient(jwkset.HTTPClientOptions{
		HTTPURLs:          map[string]jwkset.Storage{opts.JWKSURL: store},
		RateLimitWaitMax:  jwksTimeout,
		RefreshUnknownKID: rate.NewLimiter(rate.Every(unknownKID), 1),
	})
	if err != nil {
		return nil, fmt.Errorf("jwt: JWKS: %w", err)
	}
	kf, err := keyfunc.New(keyfunc.Options{
		Storage:      storage,
		UseWhitelist: []jwkset.USE{jwkset.UseSig, ""},
	})
	if err != nil {
		return nil, fmt.Errorf("jwt: JWKS: %w", err)
	}

	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	j := &jwks{kf: kf, stop: stop, done: make(chan struct{})}
	sopts.Ctx = bg
	sopts.RefreshErrorHandler = nil
	go j.run(bg, refresh, func() {
		if _, err := jwkset.NewStorageFromHTTP(opts.JWKSURL, sopts); err != nil && bg.Err() == nil {
			log.Warn("halley: fetching the JWKS failed", "url", opts.JWKSURL, "err", err)
		}
	})
	return j, nil
}

// run fetches the JWKS every interval until ctx ends.
func (j *jwks) run(ctx context.Context, interval time.Duration, fetch func()) {
	defer close(j.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fetch()
		}
	}
}

// keys returns the keys of the set that may verify t: the one its kid
// names, or without a kid those of its algorithm, at most MaxPublicKeys.
// A kid that names no key, or one that does not fit, gives none.
func (j *jwks) keys(ctx context.Context, t *jwtlib.Token, alg string) []jwtlib.VerificationKey {
	got, err := j.kf.KeyfuncCtx(ctx)(t)
	if err != nil {
		return nil
	}
	if set, ok := got.(jwtlib.VerificationKeySet); ok {
		var keys []jwtlib.VerificationKey
		for _, k := range set.Keys {
			if fits(alg, k) && len(keys) < MaxPublicKeys {
				keys = append(keys, k)
			}
		}
		return keys
	}
	if fits(alg, got) {
		return []jwtlib.VerificationKey{got}
	}
	return nil
}

// limitTransport bounds the bodies of the answers it returns.
type limitTransport struct{ rt http.RoundTripper }

func (l limitTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rt := l.rt
	if rt == nil {
		rt = http.DefaultTransport
	}
	res, err := rt.RoundTrip(r)
	if err == nil {
		res.Body = &limitedBody{ReadCloser: res.Body, left: maxJWKS}
	}
	return res, err
}

var errJWKSTooLarge = fmt.Errorf("JWKS answer over %d bytes", maxJWKS)

// limitedBody fails a read past its limit, rather than truncate the JSON.
type limitedBody struct {
	io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, errJWKSTooLarge
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1] // one more byte tells a body of exactly maxJWKS from a longer one
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		return n, errJWKSTooLarge
	}
	return n, err
}
