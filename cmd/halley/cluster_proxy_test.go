package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/halleyhq/halley/client"
)

// rrProxy is a round-robin reverse proxy over nodes, without sticky
// sessions: each request goes to the next node. drop cuts every stream and
// long poll under way, as a proxy restarting would (writes, which a client
// cannot resend blindly, go through).
type rrProxy struct {
	*httptest.Server
	next atomic.Uint64

	mu      sync.Mutex
	cancels map[*context.CancelFunc]struct{}
}

func newRRProxy(t *testing.T, nodes []*testServer) *rrProxy {
	t.Helper()
	var targets []*httputil.ReverseProxy
	for _, n := range nodes {
		u, err := url.Parse(n.url)
		if err != nil {
			t.Fatal(err)
		}
		rp := httputil.NewSingleHostReverseProxy(u)
		rp.FlushInterval = -1 // streams go through as written
		rp.ErrorLog = nil
		targets = append(targets, rp)
	}
	p := &rrProxy{cancels: make(map[*context.CancelFunc]struct{})}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithCancel(r.Context())
		switch r.URL.Path {
		case "/sse", "/ws", "/poll":
			p.mu.Lock()
			p.cancels[&cancel] = struct{}{}
			p.mu.Unlock()
		}
		defer func() {
			p.mu.Lock()
			delete(p.cancels, &cancel)
			p.mu.Unlock()
			cancel()
		}()
		targets[p.next.Add(1)%uint64(len(targets))].ServeHTTP(w, r.WithContext(ctx))
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *rrProxy) drop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.cancels {
		(*c)()
	}
}

// TestCluster_BehindRoundRobinProxy: the Go client, on each transport,
// through a proxy that sends each request to the next of three nodes and
// cuts every stream now and then, reads a channel, writes to and reads a
// bus, and gets its notifications: everything exactly once, in order.
func TestCluster_BehindRoundRobinProxy(t *testing.T) {
	for _, tr := range []client.Transport{client.Poll, client.SSE, client.WebSocket} {
		t.Run(string(tr), func(t *testing.T) {
			_, nodes := startCluster(t, 3)
			if res := nodes[0].do(http.MethodPost, "/api/buses", "application/json", `{"name":"room"}`); res.status != http.StatusCreated {
				t.Fatalf("bus: %d %s", res.status, res.body)
			}
			proxy := newRRProxy(t, nodes)
			hc := &http.Client{Transport: &http.Transport{}}
			defer hc.CloseIdleConnections()
			cl := client.New(proxy.URL, client.Options{Transport: tr, HTTPClient: hc})
			cl.Subscribe("news", client.From{})
			cl.Subscribe("room", client.From{})
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			ran := make(chan error, 1)
			go func() { ran <- cl.Run(ctx) }()
			defer func() {
				cancel()
				<-ran
			}()
			subscribed := map[string]bool{}
			for len(subscribed) < 2 {
				ev := <-cl.Events()
				if ev.Type == client.EventSubscribed {
					subscribed[ev.Channel] = true
				}
			}
			if err := cl.Listen(ctx, "docs", "k"); err != nil {
				t.Fatalf("listen: %v", err)
			}

			const news, writes, notes = 60, 20, 10
			api := &client.API{URL: proxy.URL, HTTPClient: hc}
			sent := make(chan error, 1)
			ambiguous := map[string]bool{} // the publisher's, read once it is done
			go func() {
				for i := 1; i <= news; i++ {
					if _, _, err := api.Publish(ctx, "news", fmt.Appendf(nil, "n%d", i)); err != nil {
						sent <- fmt.Errorf("publish %d: %w", i, err)
						return
					}
					if i <= writes {
						// A write whose connection the proxy cut may or
						// may not be in the bus: the client never resends,
						// the application does, and may then see it twice.
						// The test's context bounds the tries.
						for {
							_, err := cl.Write(ctx, "room", fmt.Appendf(nil, "w%d", i))
							if errors.Is(err, client.ErrConnectionLost) {
								ambiguous[fmt.Sprintf("w%d", i)] = true
								continue
							}
							if err != nil {
								sent <- fmt.Errorf("write %d: %w", i, err)
								return
							}
							break
						}
					}
					if i <= notes {
						res, err := hc.Post(proxy.URL+"/api/notify", "application/json",
							strings.NewReader(fmt.Sprintf(`{"notifier":"docs","key":"k","data":%d}`, i)))
						if err != nil {
							sent <- err
							return
						}
						res.Body.Close()
						if res.StatusCode != http.StatusOK {
							sent <- fmt.Errorf("notify %d: %d", i, res.StatusCode)
							return
						}
					}
				}
				sent <- nil
			}()

			got := map[string][]string{}
			total := 0
			// A bound that says what arrived, rather than the test's
			// timeout.
			stuck, unstick := context.WithTimeout(ctx, time.Minute)
			defer unstick()
			distinct := func(xs []string) int {
				seen := map[string]bool{}
				for _, x := range xs {
					seen[x] = true
				}
				return len(seen)
			}
			for len(got["news"]) < news || distinct(got["room"]) < writes || len(got["notify"]) < notes {
				var ev client.Event
				select {
				case ev = <-cl.Events():
				case err := <-ran:
					t.Fatalf("Run returned: %v", err)
				case err := <-sent:
					if err != nil {
						t.Fatal(err)
					}
					sent = nil // all sent: nil blocks from now on
					continue
				case <-stuck.Done():
					t.Fatalf("gave up waiting after %d events: %v", total, got)
				}
				switch ev.Type {
				case client.EventMsg:
					got[ev.Channel] = append(got[ev.Channel], string(ev.Data))
				case client.EventNotify:
					got["notify"] = append(got["notify"], string(ev.Data))
				case client.EventSubscribed, client.EventClose:
					continue
				default:
					t.Fatalf("event %+v after %v", ev, got)
				}
				if total++; total%15 == 0 {
					proxy.drop() // every stream moves to another node
				}
			}
			if sent != nil {
				if err := <-sent; err != nil {
					t.Fatal(err)
				}
			}
			for _, c := range []struct {
				name, prefix string
				n            int
			}{{"news", "n", news}, {"room", "w", writes}} {
				// A write sent twice may be there twice, and its first
				// copy, still in flight on the node whose connection was
				// cut, may land after later writes: only its first
				// occurrence counts.
				var once []string
				seen := map[string]bool{}
				for _, d := range got[c.name] {
					if seen[d] && ambiguous[d] {
						continue
					}
					seen[d] = true
					once = append(once, d)
				}
				got[c.name] = once
				for i, d := range got[c.name] {
					if want := fmt.Sprintf("%s%d", c.prefix, i+1); d != want || len(got[c.name]) != c.n {
						t.Fatalf("%s read %v: lost, duplicated or out of order at %d", c.name, got[c.name], i)
					}
				}
			}
			if len(got["notify"]) != notes {
				t.Fatalf("notifications %v, want %d", got["notify"], notes)
			}
			for i, d := range got["notify"] {
				if d != fmt.Sprint(i+1) {
					t.Fatalf("notifications %v: lost, duplicated or out of order at %d", got["notify"], i)
				}
			}
		})
	}
}
