package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/auth/jwt"
)

// clientPage is an application's page on its own origin, with the browser
// client: it gets its tokens from its backend through getToken and reads
// the Halley server's "news" channel.
const clientPage = `<!doctype html>
<title>Halley client with tokens</title>
<script type="module">
import { Client } from '/test/client.js';
const q = new URLSearchParams(location.search);
window.__steps = [];
const step = (name) => new Promise((r) => { window.__resume = r; window.__steps.push(name); });
const got = [];
let tokens = 0;
const client = new Client({
  url: q.get('halley'),
  transport: q.get('transport'),
  getToken: async () => { tokens++; return (await fetch('/token')).text(); },
});
client.channel('news').on('message', (m) => got.push(m.value));
await new Promise((r) => client.on('state', (s) => s.name === 'connected' && r()));
await step('connected');
await new Promise((r) => { const t = setInterval(() => got.length >= 3 && (clearInterval(t), r()), 20); });
window.__result = { got, tokens, stats: client.stats, state: client.state };
window.__done = true;
</script>`

// evilClientPage is a page of an origin the server does not allow, with the
// client: it reads a public channel until every transport failed twice.
const evilClientPage = `<!doctype html>
<title>Not allowed</title>
<script type="module">
import { Client } from '/test/client.js';
const q = new URLSearchParams(location.search);
const got = [];
let connected = false;
const client = new Client({ url: q.get('halley'), backoffBase: 50, backoffMax: 100 });
client.channel('public', { last: 10 }).on('message', (m) => got.push(m.value));
client.on('state', (s) => {
  if (s.name === 'connected') connected = true;
  if (s.name === 'reconnecting' && s.attempt >= 2) {
    client.close();
    window.__result = { got, connected, transports: s.reason };
    window.__done = true;
  }
});
</script>`

// appServer serves the test pages, the client and tokens (the first one
// short, then long ones); minted receives each token's expiry.
func appServer(t *testing.T, minted chan<- time.Time) *httptest.Server {
	mux := http.NewServeMux()
	page := func(html string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, html)
		}
	}
	mux.HandleFunc("/test/page", page(clientPage))
	mux.HandleFunc("/test/evil", page(evilClientPage))
	mux.HandleFunc("/test/client.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		http.ServeFile(w, r, "../cmd/halley/demo/client.js")
	})
	n := 0
	mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		ttl := time.Hour
		if n++; n == 1 {
			ttl = 4 * time.Second
		}
		tok, err := jwt.Mint(tokenSecret, jwt.MintOptions{Subject: "alice", Channels: []string{"news"}, TTL: ttl})
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		minted <- time.Now().Add(ttl)
		fmt.Fprint(w, tok)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// TestClient_TokenRefreshedMidStream: the client's first token expires
// while it reads; it gets a new one before (a refresh frame over
// WebSocket, a new stream over SSE and polls) and loses nothing.
func TestClient_TokenRefreshedMidStream(t *testing.T) {
	needBrowser(t)
	for _, tr := range []string{"ws", "sse", "poll"} {
		t.Run(tr, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 120*time.Second)
			defer cancel()
			minted := make(chan time.Time, 16)
			app := appServer(t, minted)
			authz, err := jwt.New(ctx, jwt.Options{HMACSecret: tokenSecret})
			if err != nil {
				t.Fatal(err)
			}
			defer authz.Close()
			hub, err := halley.New(halley.Config{Authorizer: authz, AllowedOrigins: []string{app.URL}})
			if err != nil {
				t.Fatal(err)
			}
			defer hub.Shutdown(context.Background())
			news, err := hub.NewChannel(ctx, halley.ChannelOptions{Name: "news"})
			if err != nil {
				t.Fatal(err)
			}
			hs := httptest.NewServer(hub.Handler())
			defer hs.Close()

			write := func(m string) {
				if _, err := news.Write(ctx, []byte(m)); err != nil {
					t.Error(err)
				}
			}
			var r struct {
				Page struct {
					Got    []string
					Tokens int
					Stats  struct{ Reconnects int }
				}
				Errors []string
			}
			scenario(t, ctx, "page", app.URL+"/test/page?transport="+tr+"&halley="+hs.URL, "", nil, func(step string) {
				first := <-minted
				write("before the refresh")
				select { // the second token, asked for before the first one ends
				case exp := <-minted:
					if !exp.After(first) {
						t.Errorf("second token ends %v, not after the first (%v)", exp, first)
					}
				case <-ctx.Done():
					t.Fatal("no second token")
				}
				// Wait on the clock for the first token's end (exp in whole seconds).
				select {
				case <-time.After(time.Until(first.Add(time.Second))):
				case <-ctx.Done():
				}
				write("past the first token")
				write("and more")
			}, &r)
			want := []string{"before the refresh", "past the first token", "and more"}
			if !slices.Equal(r.Page.Got, want) {
				t.Errorf("the page got %q, want %q", r.Page.Got, want)
			}
			if tr == "ws" && r.Page.Stats.Reconnects != 0 {
				t.Errorf("%d reconnects over WebSocket: the refresh frame should keep the stream", r.Page.Stats.Reconnects)
			}
		})
	}
}

// TestClient_ForeignOriginGetsNothing: a page of an origin the server does
// not allow gets nothing on any transport, and makes no session.
func TestClient_ForeignOriginGetsNothing(t *testing.T) {
	needBrowser(t)
	ctx := t.Context()
	app := appServer(t, make(chan time.Time, 16))
	hub, err := halley.New(halley.Config{AllowedOrigins: []string{"https://app.example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Shutdown(context.Background())
	public, err := hub.NewChannel(ctx, halley.ChannelOptions{Name: "public", Public: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := public.Write(ctx, []byte("public news")); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(hub.Handler())
	defer hs.Close()
	var r struct {
		Page struct {
			Got       []string
			Connected bool
		}
	}
	scenario(t, ctx, "page", app.URL+"/test/evil?halley="+hs.URL, "", nil, noSteps, &r)
	if len(r.Page.Got) != 0 || r.Page.Connected {
		t.Errorf("a page of another origin got %q (connected: %v), want nothing", r.Page.Got, r.Page.Connected)
	}
	if n := hub.SessionCount(); n != 0 {
		t.Errorf("the foreign page's requests made %d sessions", n)
	}
}
