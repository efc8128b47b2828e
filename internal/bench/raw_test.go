package bench_test

import (
	"strings"
	"testing"
	"time"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/auth/jwt"
	"github.com/halleyhq/halley/client"
	"github.com/halleyhq/halley/internal/bench"
)

// TestRun_Raw: raw SSE subscribers (the load a peer gets too) count every
// message once and in order, with and without a token, and a refused
// stream fails the run with the server's answer.
func TestRun_Raw(t *testing.T) {
	secret := []byte("a test HMAC secret of at least 32 bytes")
	a, err := jwt.New(t.Context(), jwt.Options{HMACSecret: secret})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	hub, url := newServerWith(t, halley.Config{Authorizer: a}, nil)
	tok, err := jwt.Mint(secret, jwt.MintOptions{Subject: "bench", Channels: []string{"bench-*"}, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	cfg := bench.Config{Server: url, Subscribers: 20, Channels: 3, Messages: 200, Raw: true, Token: tok, Timeout: time.Minute}
	res, err := bench.Run(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	const want = 67*7 + 67*7 + 66*6
	if !res.OK() || res.Deliveries != want || !res.Raw || res.Peer != "" {
		t.Errorf("OK %v, deliveries %d (want %d), raw %v, peer %q: want a clean raw run", res.OK(), res.Deliveries, want, res.Raw, res.Peer)
	}
	cfg.Token = "not-a-jwt"
	if _, err := bench.Run(t.Context(), cfg, nil); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("raw run with a bad token: %v, want the stream refused (401)", err)
	}
	if n := hub.ChannelCount(); n != 0 {
		t.Errorf("%d channels left after the runs, want 0", n)
	}
}

// TestConfig_Peer: a peer takes raw SSE subscribers and one message per
// request; unknown peers and other loads are refused before anything runs.
func TestConfig_Peer(t *testing.T) {
	for _, cfg := range []bench.Config{
		{Peer: "nchan"},
		{Peer: bench.PeerCentrifugo, Batch: 10},
		{Peer: bench.PeerCentrifugo, Stream: true},
		{Raw: true, Transport: client.WebSocket},
	} {
		cfg.Server, cfg.Subscribers = "http://127.0.0.1:1", 1
		if _, err := bench.Run(t.Context(), cfg, nil); err == nil || !strings.Contains(err.Error(), "invalid configuration") {
			t.Errorf("%+v: %v, want a configuration error", cfg, err)
		}
	}
}
