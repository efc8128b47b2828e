package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/auth/jwt"
	"github.com/halleyhq/halley/client"
	"github.com/halleyhq/halley/httpapi"
)

// tokenSecret signs the tokens of newTokenHub's clients.
var tokenSecret = []byte("a test HMAC secret of at least 32 bytes")

// tokenHub is a hub whose clients present tokens signed with
// tokenSecret, with the channels "news" and "secret", the bus "chat" and
// the notifier "docs".
type tokenHub struct {
	hubServer
	docs *halley.Notifier[string, string, string]
}

func newTokenHub(t testing.TB) *tokenHub {
	t.Helper()
	a, err := jwt.New(t.Context(), jwt.Options{HMACSecret: tokenSecret})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	hub, err := halley.New(halley.Config{Logger: discard(), Authorizer: a})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"news", "secret"} {
		if _, err := hub.NewChannel(t.Context(), halley.ChannelOptions{Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := hub.NewBus(t.Context(), halley.BusOptions{Name: "chat"}); err != nil {
		t.Fatal(err)
	}
	docs, err := halley.NewSimpleNotifier[string, string](hub, "docs")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/", httpapi.New(hub, httpapi.Options{Logger: discard()}))
	mux.Handle("/", hub.Handler())
	ts := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := hub.Shutdown(ctx); err != nil {
			t.Errorf("hub shutdown: %v", err)
		}
		ts.Close()
	})
	return &tokenHub{
		hubServer: hubServer{url: ts.URL, api: &client.API{URL: ts.URL, HTTPClient: ts.Client()}},
		docs:      docs,
	}
}

// mintToken returns a token of alice's with the given rights, for an
// hour.
func mintToken(t testing.TB, channels, write, listen []string) string {
	t.Helper()
	tok, err := jwt.Mint(tokenSecret, jwt.MintOptions{Subject: "alice", Channels: channels, Write: write, Listen: listen, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// runCmd runs a command to its end and returns its exit code, stdout and
// stderr.
func runCmd(t testing.TB, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr syncBuffer
	code := run(t.Context(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestSub_Token(t *testing.T) {
	for _, tr := range []string{"ws", "sse", "poll"} {
		t.Run(tr, func(t *testing.T) {
			h := newTokenHub(t)
			tok := mintToken(t, []string{"news"}, nil, nil)
			pub(t, h.url, "news", "hi")
			pub(t, h.url, "secret", "psst")
			s := startSub(t, "--server", h.url, "--transport", tr, "--token", tok, "--last", "1", "news", "secret")
			// Either may come first.
			for _, want := range []string{`{"channel":"secret","ended":"forbidden"}`, `{"channel":"news","offset":1,"data":"hi"}`} {
				if line, _ := s.log.wait(t, 0, want); line != want {
					t.Errorf("sub printed %s, want %s", line, want)
				}
			}
			if code := s.stop(); code != 0 {
				t.Errorf("exit code = %d, want 0 (stderr %q)", code, s.stderr.String())
			}
		})
	}
}

func TestSub_TokenFromEnv(t *testing.T) {
	h := newTokenHub(t)
	t.Setenv(tokenEnv, mintToken(t, []string{"news"}, nil, nil))
	pub(t, h.url, "news", "first")
	s := startSub(t, "--server", h.url, "--transport", "poll", "--last", "1", "news")
	s.expectLines(`{"channel":"news","offset":1,"data":"first"}`)
}

func TestSub_TokenRefused(t *testing.T) {
	h := newTokenHub(t)
	expired, err := jwt.Mint(tokenSecret, jwt.MintOptions{
		Subject: "alice", Channels: []string{"news"}, TTL: time.Minute,
		Now: func() time.Time { return time.Now().Add(-time.Hour) },
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range []string{"ws", "sse", "poll"} {
		for _, tc := range []struct{ name, token, reason string }{
			{"invalid", "not-a-jwt", "invalid_token (401)"},
			{"expired", expired, "token_expired (401)"},
		} {
			t.Run(tr+"/"+tc.name, func(t *testing.T) {
				code, stdout, stderr := runCmd(t, "sub", "--server", h.url, "--transport", tr, "--token", tc.token, "news")
				if code != 1 || !strings.Contains(stderr, "halley sub: "+tc.reason) {
					t.Errorf("exit %d, stderr %q: want 1 and %q", code, stderr, tc.reason)
				}
				if stdout != "" {
					t.Errorf("stdout %q, want nothing", stdout)
				}
			})
		}
	}
}

func TestWrite_Token(t *testing.T) {
	h := newTokenHub(t)
	writer := mintToken(t, []string{"chat"}, []string{"chat"}, nil)
	reader := mintToken(t, []string{"chat"}, nil, nil)
	for i, tr := range []string{"ws", "sse", "poll"} {
		t.Run(tr, func(t *testing.T) {
			code, stdout, stderr := runCmd(t, "write", "--server", h.url, "--transport", tr, "--token", writer, "chat", "hi")
			if want := fmt.Sprintf("{\"offset\":%d}\n", i+1); code != 0 || stdout != want {
				t.Errorf("write: exit %d, stdout %q, stderr %q; want %q", code, stdout, stderr, want)
			}
			code, stdout, stderr = runCmd(t, "write", "--server", h.url, "--transport", tr, "--token", reader, "chat", "hi")
			if code != 1 || stdout != "" || !strings.Contains(stderr, "halley write: forbidden: ") {
				t.Errorf("write with a read-only token: exit %d, stdout %q, stderr %q; want 1 and forbidden", code, stdout, stderr)
			}
			code, _, stderr = runCmd(t, "write", "--server", h.url, "--transport", tr, "--token", "not-a-jwt", "chat", "hi")
			if code != 1 || !strings.Contains(stderr, "invalid_token") {
				t.Errorf("write with a bad token: exit %d, stderr %q; want 1 and invalid_token", code, stderr)
			}
		})
	}
}

func TestListen_Token(t *testing.T) {
	tok := mintToken(t, nil, nil, []string{"docs:42"})
	for _, tr := range []string{"ws", "sse", "poll"} {
		t.Run(tr, func(t *testing.T) {
			// A hub of its own: the sessions of the other subtests
			// listen still.
			h := newTokenHub(t)
			l := startListen(t, "--server", h.url, "--transport", tr, "--token", tok, "docs", "42")
			retry(t, "a listener of 42", func() bool {
				n, err := h.docs.Notify(t.Context(), "42", "v2", halley.NotFor{})
				return err == nil && n == 1
			})
			l.expectLines(`{"notifier":"docs","key":"42","data":"v2"}`)
			if code := l.stop(); code != 0 {
				t.Errorf("exit code = %d, want 0 (stderr %q)", code, l.stderr.String())
			}

			code, _, stderr := runCmd(t, "listen", "--server", h.url, "--transport", tr, "--token", tok, "docs", "7")
			if code != 1 || !strings.Contains(stderr, "halley listen: forbidden: ") {
				t.Errorf("listen on a key the token does not allow: exit %d, stderr %q; want 1 and forbidden", code, stderr)
			}
		})
	}
}

// TestSub_TokenExpires: a fixed token is not renewed, so sub exits 1
// once the server has ended its stream and refused the expired token,
// with its resume cursor.
func TestSub_TokenExpires(t *testing.T) {
	for _, tr := range []string{"ws", "sse", "poll"} {
		t.Run(tr, func(t *testing.T) {
			t.Parallel()
			h := newTokenHub(t)
			tok, err := jwt.Mint(tokenSecret, jwt.MintOptions{Subject: "alice", Channels: []string{"news"}, TTL: 2 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			pub(t, h.url, "news", "hi")
			s := startSub(t, "--server", h.url, "--transport", tr, "--token", tok, "--last", "1", "news")
			s.expectLines(`{"channel":"news","offset":1,"data":"hi"}`)
			if code := s.wait(); code != 1 {
				t.Errorf("exit code = %d, want 1", code)
			}
			if stderr := s.stderr.String(); !strings.Contains(stderr, "halley sub: token_expired (401)") ||
				!strings.Contains(stderr, "resume with --cursor 'news:1:") {
				t.Errorf("stderr %q: want token_expired and the cursor", stderr)
			}
		})
	}
}
