package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/auth/jwt"
	"github.com/halleyhq/halley/client"
)

// tokenSecret signs the tokens of the tests' hubs.
var tokenSecret = []byte("a test HMAC secret of at least 32 bytes")

// newTokenEnv is a hub whose clients present tokens signed with
// tokenSecret (no leeway: a grant ends at the token's exp).
func newTokenEnv(t testing.TB) *env {
	t.Helper()
	a, err := jwt.New(t.Context(), jwt.Options{HMACSecret: tokenSecret})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return newEnvWith(t, halley.Config{Authorizer: a})
}

// mint returns a token of opts, failing the test on error.
func mint(t testing.TB, opts jwt.MintOptions) string {
	t.Helper()
	tok, err := jwt.Mint(tokenSecret, opts)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// tokenSource is an Options.Token that mints tokens, and counts them.
type tokenSource struct {
	// opts make the first token; later, when set, every other one.
	opts, later *jwt.MintOptions
	// reuse gives the last token again until it expires, as a token
	// provider's cache does. stale, with reuse, gives an expired token
	// once more before minting a new one, as a cache behind the clock
	// would: the server refuses it (401 token_expired).
	reuse, stale bool

	mu     sync.Mutex
	tok    string
	exp    time.Time
	served bool // tok was given once after its expiry
	mints  int
	first  time.Time // exp of the first token
}

func (s *tokenSource) Token(context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if s.reuse && s.tok != "" {
		if now.Before(s.exp) {
			return s.tok, nil
		}
		if s.stale && !s.served {
			s.served = true
			return s.tok, nil
		}
	}
	opts := *s.opts
	if s.mints > 0 && s.later != nil {
		opts = *s.later
	}
	opts.Now = func() time.Time { return now }
	tok, err := jwt.Mint(tokenSecret, opts)
	if err != nil {
		return "", err
	}
	// exp is a whole second: Mint rounds it down.
	s.tok, s.exp, s.served = tok, time.Unix(now.Add(opts.TTL).Unix(), 0), false
	if s.mints == 0 {
		s.first = s.exp
	}
	s.mints++
	return tok, nil
}

// state returns the number of tokens minted and the first one's expiry.
func (s *tokenSource) state() (int, time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mints, s.first
}

func TestClient_Token(t *testing.T) {
	forEachTransport(t, func(t *testing.T, tr client.Transport) {
		e := newTokenEnv(t)
		e.createChannel(t, "news", 0)
		tok := mint(t, jwt.MintOptions{Subject: "alice", Channels: []string{"news"}, TTL: time.Hour})
		c := client.New(e.url, client.Options{Transport: tr, Token: client.StaticToken(tok), Logger: discard})
		// Without the token, "news" would end as forbidden: it is not
		// public.
		c.Subscribe("news", client.From{})
		r := start(t, c)
		if ev := r.next(t, client.EventSubscribed, client.EventEnded); ev.Type != client.EventSubscribed {
			t.Fatalf("first event %+v, want news subscribed", ev)
		}
		e.publish(t, "news", 1, 5)
		r.expectMsgs(t, "news", 1, 5)
		s, ok := e.hub.Session(c.Session())
		if !ok || s.User() != "alice" {
			t.Errorf("the client's session is not alice's")
		}
	})
}

func TestClient_TokenForbiddenChannel(t *testing.T) {
	forEachTransport(t, func(t *testing.T, tr client.Transport) {
		e := newTokenEnv(t)
		e.createChannel(t, "news", 0)
		e.createChannel(t, "secret", 0)
		tok := mint(t, jwt.MintOptions{Subject: "alice", Channels: []string{"news"}, TTL: time.Hour})
		c := client.New(e.url, client.Options{Transport: tr, Token: client.StaticToken(tok), Logger: discard})
		c.Subscribe("secret", client.From{})
		c.Subscribe("news", client.From{})
		r := start(t, c)
		var ended, subscribed bool
		for !ended || !subscribed {
			ev := r.next(t, client.EventSubscribed, client.EventEnded)
			switch {
			case ev.Type == client.EventEnded && ev.Channel == "secret" && ev.Reason == "forbidden":
				ended = true
			case ev.Type == client.EventSubscribed && ev.Channel == "news":
				subscribed = true
			default:
				t.Fatalf("event %+v, want secret ended: forbidden and news subscribed", ev)
			}
		}
		e.publish(t, "secret", 1, 1)
		e.publish(t, "news", 1, 1)
		r.expectMsgs(t, "news", 1, 1)
		if _, ok := c.Positions()["secret"]; ok {
			t.Error("secret still has a position after it ended")
		}
	})
}

// transportPath is the request path of each transport.
var transportPath = map[client.Transport]string{client.WebSocket: "/ws", client.SSE: "/sse", client.Poll: "/poll"}

// runErr runs c until it returns, failing after waitTimeout.
func runErr(t testing.TB, c *client.Client) error {
	t.Helper()
	done := make(chan error, 1)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() { done <- c.Run(ctx) }()
	select {
	case err := <-done:
		return err
	case <-time.After(waitTimeout):
		cancel()
		<-done
		t.Fatal("Run kept going")
		return nil
	}
}

func TestClient_TokenRefused(t *testing.T) {
	forEachTransport(t, func(t *testing.T, tr client.Transport) {
		e := newTokenEnv(t)
		e.createChannel(t, "news", 0)
		expired := mint(t, jwt.MintOptions{
			Subject: "alice", Channels: []string{"news"}, TTL: time.Minute,
			Now: func() time.Time { return time.Now().Add(-time.Hour) },
		})
		for _, tc := range []struct {
			name   string
			opts   client.Options
			reason string
			// requests the client makes: a refused token is never
			// presented again, but for an expired one, once.
			requests int
		}{
			{"StaticToken", client.Options{Token: client.StaticToken("not-a-jwt")}, "invalid_token", 1},
			{"header without Token", client.Options{Header: http.Header{"Authorization": {"Bearer not-a-jwt"}}}, "invalid_token", 1},
			{"expired", client.Options{Token: client.StaticToken(expired)}, "token_expired", 2},
		} {
			t.Run(tc.name, func(t *testing.T) {
				obs, hc := newObserver(t)
				opts := tc.opts
				opts.Transport, opts.HTTPClient, opts.Logger = tr, hc, discard
				opts.MinBackoff, opts.MaxBackoff = time.Millisecond, time.Millisecond
				c := client.New(e.url, opts)
				c.Subscribe("news", client.From{})
				err := runErr(t, c)
				var re *client.RefusedError
				if !errors.As(err, &re) || re.Op != "connect" || re.Reason != tc.reason || re.Status != http.StatusUnauthorized {
					t.Fatalf("Run = %v, want a connect refused: %s (401)", err, tc.reason)
				}
				var ae *client.APIError
				if !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized {
					t.Errorf("Run = %v, want it to wrap the APIError 401", err)
				}
				if n := obs.pathCount(transportPath[tr]); n != tc.requests {
					t.Errorf("%d requests, want %d", n, tc.requests)
				}
			})
		}
	})
}

func TestClient_TokenFails(t *testing.T) {
	forEachTransport(t, func(t *testing.T, tr client.Transport) {
		e := newTokenEnv(t)
		e.createChannel(t, "news", 0)
		errNoToken := errors.New("no token today")
		var mu sync.Mutex
		calls := 0
		// Two bad tokens, each refused once, then a failure.
		token := func(context.Context) (string, error) {
			mu.Lock()
			defer mu.Unlock()
			calls++
			if calls > 2 {
				return "", errNoToken
			}
			return fmt.Sprintf("bad-%d", calls), nil
		}
		obs, hc := newObserver(t)
		c := client.New(e.url, client.Options{
			Transport: tr, HTTPClient: hc, Token: token, Logger: discard,
			MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond,
		})
		c.Subscribe("news", client.From{})
		if err := runErr(t, c); !errors.Is(err, errNoToken) {
			t.Fatalf("Run = %v, want Token's error", err)
		}
		if n := obs.pathCount(transportPath[tr]); n != 2 {
			t.Errorf("%d requests, want one per token", n)
		}
		mu.Lock()
		defer mu.Unlock()
		if calls != 3 {
			t.Errorf("Token called %d times, want 3", calls)
		}
	})
}

func TestClient_ForbiddenOrigin(t *testing.T) {
	forEachTransport(t, func(t *testing.T, tr client.Transport) {
		e := newTokenEnv(t)
		e.createChannel(t, "news", 0)
		tok := mint(t, jwt.MintOptions{Subject: "alice", Channels: []string{"news"}, TTL: time.Hour})
		obs, hc := newObserver(t)
		c := client.New(e.url, client.Options{
			Transport: tr, HTTPClient: hc, Token: client.StaticToken(tok), Logger: discard,
			Header: http.Header{"Origin": {"https://elsewhere.example"}},
		})
		c.Subscribe("news", client.From{})
		err := runErr(t, c)
		var re *client.RefusedError
		if !errors.As(err, &re) || re.Reason != "forbidden_origin" || re.Status != http.StatusForbidden {
			t.Fatalf("Run = %v, want a connect refused: forbidden_origin (403)", err)
		}
		// No token changes the page's origin: no second try.
		if n := obs.pathCount(transportPath[tr]); n != 1 {
			t.Errorf("%d requests, want 1", n)
		}
	})
}

func TestClient_RetryAfter(t *testing.T) {
	forEachTransport(t, func(t *testing.T, tr client.Transport) {
		hub, err := halley.New(halley.Config{Logger: discard})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := hub.NewChannel(t.Context(), halley.ChannelOptions{Name: "news"}); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var refusedAt, cameBackAt time.Time
		h := hub.Handler()
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			first := refusedAt.IsZero()
			if first {
				refusedAt = time.Now()
			} else if cameBackAt.IsZero() {
				cameBackAt = time.Now()
			}
			mu.Unlock()
			if first {
				w.Header().Set("Retry-After", "1")
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusTooManyRequests)
				fmt.Fprint(w, `{"error":"rate_limited","message":"slow down"}`)
				return
			}
			h.ServeHTTP(w, r)
		}))
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			if err := hub.Shutdown(ctx); err != nil {
				t.Errorf("hub shutdown: %v", err)
			}
			ts.Close()
		})
		c := client.New(ts.URL, client.Options{
			Transport: tr, Logger: discard,
			MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond,
		})
		c.Subscribe("news", client.From{})
		r := start(t, c)
		r.next(t, client.EventSubscribed)
		mu.Lock()
		defer mu.Unlock()
		if wait := cameBackAt.Sub(refusedAt); wait < time.Second {
			t.Errorf("came back %v after a 429 with Retry-After: 1, want at least 1s", wait)
		}
	})
}

func TestClient_TokenWrite(t *testing.T) {
	forEachTransport(t, func(t *testing.T, tr client.Transport) {
		e := newTokenEnv(t)
		if _, err := e.hub.NewBus(t.Context(), halley.BusOptions{Name: "chat"}); err != nil {
			t.Fatal(err)
		}
		writer := mint(t, jwt.MintOptions{Subject: "alice", Channels: []string{"chat"}, Write: []string{"chat"}, TTL: time.Hour})
		reader := mint(t, jwt.MintOptions{Subject: "bob", Channels: []string{"chat"}, TTL: time.Hour})

		// Connected: over WebSocket the write goes on the connection,
		// else to POST /write.
		c := client.New(e.url, client.Options{Transport: tr, Token: client.StaticToken(writer), Logger: discard})
		c.Subscribe("chat", client.From{})
		r := start(t, c)
		r.next(t, client.EventSubscribed)
		if off, err := c.Write(t.Context(), "chat", []byte("m1")); err != nil || off != 1 {
			t.Fatalf("Write = %d, %v; want offset 1", off, err)
		}
		r.expectMsgs(t, "chat", 1, 1)

		// Not running: POST /write, and a token without the right.
		ro := client.New(e.url, client.Options{Transport: tr, Token: client.StaticToken(reader), Logger: discard})
		_, err := ro.Write(t.Context(), "chat", []byte("hi"))
		var re *client.RefusedError
		if !errors.As(err, &re) || re.Reason != "forbidden" || re.Status != http.StatusForbidden {
			t.Errorf("Write with a read-only token = %v, want refused: forbidden (403)", err)
		}
	})
}
