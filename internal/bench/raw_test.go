package bench_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	jwtv5 "github.com/golang-jwt/jwt/v5"

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

// fakePeer is a server in the manner of Centrifugo's unidirectional SSE,
// through net/http: its streams come chunked, as a peer's do.
type fakePeer struct {
	mu   sync.Mutex
	subs map[string][]chan []byte
}

func (p *fakePeer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/connection/uni_sse":
		var connect struct{ Token string }
		var claims jwtv5.MapClaims
		if json.Unmarshal([]byte(r.URL.Query().Get("cf_connect")), &connect) != nil {
			http.Error(w, "bad connect", http.StatusBadRequest)
			return
		}
		if _, _, err := jwtv5.NewParser().ParseUnverified(connect.Token, &claims); err != nil {
			http.Error(w, "bad token", http.StatusUnauthorized)
			return
		}
		channels, _ := claims["channels"].([]any)
		ch, _ := channels[0].(string)
		msgs := make(chan []byte, 1024)
		p.mu.Lock()
		p.subs[ch] = append(p.subs[ch], msgs)
		p.mu.Unlock()
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: {\"connect\":{}}\n\n")
		w.(http.Flusher).Flush()
		for {
			select {
			case m := <-msgs:
				fmt.Fprintf(w, "data: {\"pub\":{\"data\":%s}}\n\n", m)
				w.(http.Flusher).Flush()
			case <-r.Context().Done():
				return
			}
		}
	case "/api/publish":
		var pub struct {
			Channel string
			Data    json.RawMessage
		}
		if json.NewDecoder(r.Body).Decode(&pub) != nil {
			http.Error(w, "bad publish", http.StatusBadRequest)
			return
		}
		p.mu.Lock()
		subs := p.subs[pub.Channel]
		p.mu.Unlock()
		for _, s := range subs {
			s <- pub.Data
		}
		fmt.Fprint(w, `{"result":{}}`)
	default:
		http.NotFound(w, r)
	}
}

// TestRun_PeerChunked: raw subscribers read a peer's chunked streams
// (net/http's, cut anywhere) and count every message once and in order.
func TestRun_PeerChunked(t *testing.T) {
	srv := httptest.NewServer(&fakePeer{subs: make(map[string][]chan []byte)})
	t.Cleanup(srv.Close)
	cfg := bench.Config{
		Server: srv.URL, Subscribers: 20, Channels: 3, Messages: 200, Size: 3000,
		Peer: bench.PeerCentrifugo, PeerSecret: "secret", APIKey: "key", Timeout: time.Minute,
	}
	res, err := bench.Run(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	const want = 67*7 + 67*7 + 66*6
	if !res.OK() || res.Deliveries != want {
		t.Errorf("OK %v, deliveries %d (want %d), lost %d, duplicated %d, out of order %d", res.OK(), res.Deliveries, want, res.Lost, res.Duplicated, res.OutOfOrder)
	}
}
