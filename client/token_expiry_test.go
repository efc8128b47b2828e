package client_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/halleyhq/halley/auth/jwt"
	"github.com/halleyhq/halley/client"
)

// quietUntil waits on the clock until at, failing on any event meanwhile.
func (r *runner) quietUntil(t testing.TB, at time.Time) {
	t.Helper()
	timer := time.NewTimer(time.Until(at))
	defer timer.Stop()
	select {
	case <-timer.C:
	case ev := <-r.Events():
		t.Fatalf("event %+v while waiting for the token to expire, want none", ev)
	case <-r.done:
		t.Fatalf("Run returned: %v", r.err)
	}
}

func TestClient_TokenRefreshWS(t *testing.T) {
	t.Parallel()
	e := newTokenEnv(t)
	e.createChannel(t, "news", 0)
	src := &tokenSource{opts: &jwt.MintOptions{Subject: "alice", Channels: []string{"news"}, TTL: 3 * time.Second}}
	obs, hc := newObserver(t)
	c := client.New(e.url, client.Options{Transport: client.WebSocket, HTTPClient: hc, Token: src.Token, Logger: discard})
	c.Subscribe("news", client.From{})
	r := start(t, c)
	r.next(t, client.EventSubscribed)
	e.publish(t, "news", 1, 1)
	r.expectMsgs(t, "news", 1, 1)

	// Past the first token's end (the server checks on its clock, which
	// is this one), the stream is still there: it was refreshed, not
	// closed and made again.
	_, exp := src.state()
	r.quietUntil(t, exp.Add(200*time.Millisecond))
	e.publish(t, "news", 2, 2)
	r.expectMsgs(t, "news", 2, 2)
	if n := obs.pathCount("/ws"); n != 1 {
		t.Errorf("%d WebSocket connections, want 1", n)
	}
	if n, _ := src.state(); n < 2 {
		t.Errorf("%d tokens minted, want a refresh's", n)
	}
}

func TestClient_TokenRefreshEndsForbidden(t *testing.T) {
	t.Parallel()
	e := newTokenEnv(t)
	e.createChannel(t, "news", 0)
	e.createChannel(t, "secret", 0)
	src := &tokenSource{
		opts:  &jwt.MintOptions{Subject: "alice", Channels: []string{"news", "secret"}, TTL: 3 * time.Second},
		later: &jwt.MintOptions{Subject: "alice", Channels: []string{"news"}, TTL: time.Hour},
	}
	obs, hc := newObserver(t)
	c := client.New(e.url, client.Options{Transport: client.WebSocket, HTTPClient: hc, Token: src.Token, Logger: discard})
	c.Subscribe("news", client.From{})
	c.Subscribe("secret", client.From{})
	r := start(t, c)
	for range 2 {
		if ev := r.next(t, client.EventSubscribed, client.EventEnded); ev.Type != client.EventSubscribed {
			t.Fatalf("event %+v, want news and secret subscribed", ev)
		}
	}
	// The refresh, before the first token expires, takes the right to
	// read secret away.
	ev := r.next(t, client.EventEnded, client.EventClose)
	if ev.Type != client.EventEnded || ev.Channel != "secret" || ev.Reason != "forbidden" {
		t.Fatalf("event %+v, want secret ended: forbidden", ev)
	}
	e.publish(t, "news", 1, 1)
	r.expectMsgs(t, "news", 1, 1)
	if _, ok := c.Positions()["secret"]; ok {
		t.Error("secret still has a position after it ended")
	}
	if n := obs.pathCount("/ws"); n != 1 {
		t.Errorf("%d WebSocket connections, want 1", n)
	}
}

// TestClient_TokenExpiryResume runs a stream across two token expiries
// with no refresh (the token source gives the same token until it has
// expired, then the expired one once more): each stream ends at expiry,
// the stale token is refused at connection, and the client comes back
// with a new one, losing and repeating nothing.
func TestClient_TokenExpiryResume(t *testing.T) {
	forEachTransport(t, func(t *testing.T, tr client.Transport) {
		e := newTokenEnv(t)
		e.createChannel(t, "news", 0)
		src := &tokenSource{
			opts:  &jwt.MintOptions{Subject: "alice", Channels: []string{"news"}, TTL: 2 * time.Second},
			reuse: true, stale: true,
		}
		obs, hc := newObserver(t)
		c := client.New(e.url, client.Options{
			Transport:  tr,
			HTTPClient: hc,
			Token:      src.Token,
			MinBackoff: time.Millisecond,
			MaxBackoff: 10 * time.Millisecond,
			Logger:     discard,
		})
		c.Subscribe("news", client.From{})
		r := start(t, c)
		r.next(t, client.EventSubscribed)

		// A producer paced by a ticker, at most window messages ahead of
		// the consumer, publishes across the expiries.
		const window = 20
		ctx, cancel := context.WithCancel(t.Context())
		var wg sync.WaitGroup
		credit := make(chan struct{}, 1<<16)
		wg.Go(func() {
			tick := time.NewTicker(5 * time.Millisecond)
			defer tick.Stop()
			for i := 1; ; i++ {
				if i > window {
					select {
					case <-credit:
					case <-ctx.Done():
						return
					}
				}
				select {
				case <-tick.C:
				case <-ctx.Done():
					return
				}
				if _, _, err := e.api.Publish(ctx, "news", fmt.Appendf(nil, "m%d", i)); err != nil {
					if ctx.Err() == nil {
						t.Errorf("publish %d: %v", i, err)
					}
					return
				}
			}
		})
		stop := sync.OnceFunc(func() {
			cancel()
			wg.Wait()
		})
		defer stop()

		closes := 0
		next := uint64(1)
		check := func(ev client.Event) {
			t.Helper()
			switch {
			case ev.Type == client.EventClose && ev.Reason == "token_expired":
				closes++
			case ev.Type == client.EventMsg && ev.Offset == next && string(ev.Data) == fmt.Sprintf("m%d", next):
				next++
				credit <- struct{}{}
			default:
				t.Fatalf("event %+v (data %q), want msg %d", ev, ev.Data, next)
			}
		}
		// Two expiries: the third token is minted after the second
		// expired.
		for n, _ := src.state(); n < 3; n, _ = src.state() {
			check(r.next(t, client.EventMsg, client.EventGap, client.EventEnded, client.EventClose))
		}
		stop()
		// The last message published, whether or not its publisher saw
		// the answer, is before this one.
		last, _, err := e.api.Publish(t.Context(), "news", []byte("last"))
		if err != nil {
			t.Fatal(err)
		}
		for next < last {
			check(r.next(t, client.EventMsg, client.EventGap, client.EventEnded, client.EventClose))
		}
		if ev := r.next(t, client.EventMsg, client.EventGap, client.EventEnded); ev.Offset != last || string(ev.Data) != "last" {
			t.Fatalf("event %+v, want the last message, %d", ev, last)
		}
		obs.mu.Lock()
		refused := obs.statuses[http.StatusUnauthorized]
		obs.mu.Unlock()
		t.Logf("%d messages, %d close events, %d refusals", last, closes, refused)
		if refused < 2 {
			t.Errorf("%d answers 401, want the stale token refused at each of the 2 expiries", refused)
		}
		// A stream is cut at expiry; a poll may end before it.
		if tr != client.Poll && closes < 2 {
			t.Errorf("%d close events token_expired, want one at each of the 2 expiries", closes)
		}
	})
}

// TestClient_TokenExpiredAtOnce checks that a stream cut by its token's
// expiry is made again at once: with an hour of backoff, any wait would
// time the test out.
func TestClient_TokenExpiredAtOnce(t *testing.T) {
	forEachTransport(t, func(t *testing.T, tr client.Transport) {
		e := newTokenEnv(t)
		e.createChannel(t, "news", 0)
		src := &tokenSource{opts: &jwt.MintOptions{Subject: "alice", Channels: []string{"news"}, TTL: 2 * time.Second}, reuse: true}
		c := client.New(e.url, client.Options{
			Transport: tr, Token: src.Token, Logger: discard,
			MinBackoff: time.Hour, MaxBackoff: time.Hour,
		})
		c.Subscribe("news", client.From{})
		r := start(t, c)
		r.next(t, client.EventSubscribed)
		e.publish(t, "news", 1, 1)
		r.expectMsgs(t, "news", 1, 1)
		_, exp := src.state()
		timer := time.NewTimer(time.Until(exp.Add(200 * time.Millisecond)))
		closes := 0
		for waiting := true; waiting; {
			select {
			case <-timer.C:
				waiting = false
			case ev := <-r.Events():
				switch {
				case ev.Type == client.EventClose && ev.Reason == "token_expired":
					closes++
				case ev.Type == client.EventSubscribed && ev.Offset == 1:
					// A reconnection repeats where the stream stands.
				default:
					t.Fatalf("event %+v while the token expires, want only a close and a resume", ev)
				}
			}
		}
		e.publish(t, "news", 2, 2)
		for {
			ev := r.next(t, client.EventMsg, client.EventGap, client.EventEnded, client.EventClose)
			if ev.Type == client.EventClose && ev.Reason == "token_expired" {
				closes++
				continue
			}
			if ev.Type != client.EventMsg || ev.Offset != 2 {
				t.Fatalf("event %+v, want msg 2", ev)
			}
			break
		}
		if tr != client.Poll && closes != 1 {
			t.Errorf("%d close events token_expired, want 1", closes)
		}
		if n, _ := src.state(); n != 2 {
			t.Errorf("%d tokens minted, want 2", n)
		}
	})
}
