package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/auth/jwt"
)

var tokenSecret = []byte("the e2e test secret, at least 32 bytes long")

// appPage is an application's page on its own origin: it gets a token from
// its backend, opens a WebSocket to the Halley server with it, reads a
// channel its token allows, and refreshes the token before it expires.
const appPage = `<!doctype html>
<title>Halley token refresh</title>
<script>
const halley = new URL(location.search.slice(1)); // the Halley server
const report = (q) => fetch('/test/event?' + q, {method: 'POST'});
const got = [];
let refreshed = 0;
(async () => {
  // Cross-origin long-poll with the token: a CORS request with a preflight.
  const tok0 = await (await fetch('/token')).text();
  const p = await fetch(halley.origin + '/poll', {method: 'POST',
    headers: {'Content-Type': 'application/json', 'Authorization': 'Bearer ' + tok0},
    body: JSON.stringify({channels: ['news']})});
  const answer = await p.json();
  report('poll=' + p.status + '&frame=' + answer.frames[0].type + '&session=' + (p.headers.get('Halley-Session') ? 1 : 0));

  const ws = new WebSocket(halley.origin.replace('http', 'ws') + '/ws?token=' + encodeURIComponent(tok0));
  ws.onopen = () => ws.send(JSON.stringify({type: 'subscribe', channel: 'news'}));
  ws.onclose = (e) => { report('closed=' + e.code); };
  ws.onmessage = async (e) => {
    for (const line of e.data.split('\n')) {
      const f = JSON.parse(line);
      if (f.type === 'hello') {
        // Refresh halfway through the token's life.
        const wait = (f.expires * 1000 - Date.now()) / 2;
        setTimeout(async () => {
          const tok = await (await fetch('/token?ttl=1h')).text();
          ws.send(JSON.stringify({type: 'refresh', token: tok, ref: 'r' + (++refreshed)}));
        }, Math.max(0, wait));
      } else if (f.type === 'subscribed') {
        report('subscribed=1');
      } else if (f.type === 'refreshed') {
        report('refreshed=' + f.ref);
      } else if (f.type === 'msg') {
        got.push(f.data);
        report('msg=' + f.offset);
        if (got.length === 4) { window.__result = {got, refreshed}; window.__done = true; ws.close(); }
      } else {
        report('other=' + f.type + ':' + (f.reason || ''));
      }
    }
  };
})();
</script>`

// evilPage is a page of an origin the server does not allow: it tries
// every transport and reports what it could read.
const evilPage = `<!doctype html>
<title>Not allowed</title>
<script>
const halley = new URL(location.search.slice(1));
const r = {};
const finish = () => { if (Object.keys(r).length === 3) { window.__result = r; window.__done = true; } };
fetch(halley.origin + '/poll', {method: 'POST', headers: {'Content-Type': 'application/json'},
  body: JSON.stringify({channels: ['public']})})
  .then((p) => p.text().then((t) => { r.poll = 'read:' + t; finish(); }))
  .catch(() => { r.poll = 'blocked'; finish(); });
const es = new EventSource(halley.origin + '/sse?channel=public');
es.onmessage = (e) => { r.sse = 'read:' + e.data; es.close(); finish(); };
es.onerror = () => { if (!r.sse) { r.sse = 'blocked'; } es.close(); finish(); };
const ws = new WebSocket(halley.origin.replace('http', 'ws') + '/ws');
ws.onmessage = (e) => { r.ws = 'read:' + e.data; ws.close(); finish(); };
ws.onerror = () => { if (!r.ws) { r.ws = 'blocked'; } finish(); };
</script>`

// TestToken_AllowedOriginKeepsStreamAcrossRefresh checks, in Chromium, that
// a page of an allowed origin reads a channel with a token, across a token
// refresh and past the first token's expiry, and that a page of another
// origin gets nothing from any transport.
func TestToken_AllowedOriginKeepsStreamAcrossRefresh(t *testing.T) {
	needBrowser(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	// The application's origin: its page and its token endpoint.
	events := make(chan string, 64)
	app := http.NewServeMux()
	app.HandleFunc("/test/page", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, appPage)
	})
	app.HandleFunc("/test/evil", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, evilPage)
	})
	app.HandleFunc("/test/event", func(w http.ResponseWriter, r *http.Request) { events <- r.URL.RawQuery })
	firstExp := make(chan time.Time, 1)
	app.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		ttl := 4 * time.Second
		if r.URL.Query().Get("ttl") != "" {
			ttl = time.Hour
		}
		tok, err := jwt.Mint(tokenSecret, jwt.MintOptions{Subject: "alice", Channels: []string{"news"}, TTL: ttl})
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		if ttl != time.Hour {
			select {
			case firstExp <- time.Now().Add(ttl):
			default:
			}
		}
		fmt.Fprint(w, tok)
	})
	appSrv := httptest.NewServer(app)
	defer appSrv.Close()
	evilSrv := httptest.NewServer(app) // same pages, another origin (port)
	defer evilSrv.Close()

	authz, err := jwt.New(ctx, jwt.Options{HMACSecret: tokenSecret})
	if err != nil {
		t.Fatal(err)
	}
	defer authz.Close()
	hub, err := halley.New(halley.Config{Authorizer: authz, AllowedOrigins: []string{appSrv.URL}})
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Shutdown(context.Background())
	news, err := hub.NewChannel(ctx, halley.ChannelOptions{Name: "news"})
	if err != nil {
		t.Fatal(err)
	}
	public, err := hub.NewChannel(ctx, halley.ChannelOptions{Name: "public", Public: true})
	if err != nil {
		t.Fatal(err)
	}
	halleySrv := httptest.NewServer(hub.Handler())
	defer halleySrv.Close()

	type result struct {
		Got       []string `json:"got"`
		Refreshed int      `json:"refreshed"`
	}
	pg := openPage[result](ctx, appSrv.URL+"/test/page?"+halleySrv.URL)
	bad := func(ev string) bool { return strings.HasPrefix(ev, "other=") || strings.HasPrefix(ev, "closed=") }
	await := func(want string) {
		t.Helper()
		pg.await(t, ctx, events, want, bad)
	}
	await("poll=200&frame=subscribed&session=1")
	await("subscribed=1")
	exp := <-firstExp
	if _, err := news.Write(ctx, []byte("before the refresh")); err != nil {
		t.Fatal(err)
	}
	await("msg=1")
	await("refreshed=r1")
	if _, err := news.Write(ctx, []byte("after the refresh")); err != nil {
		t.Fatal(err)
	}
	await("msg=2")
	// Wait on the clock for the first token's end (its exp is in whole
	// seconds), then check the stream is still there.
	<-time.After(time.Until(exp.Add(time.Second)))
	for _, m := range []string{"past the first token", "and more"} {
		if _, err := news.Write(ctx, []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	r := pg.result(t, ctx)
	want := []string{"before the refresh", "after the refresh", "past the first token", "and more"}
	if !slices.Equal(r.Got, want) || r.Refreshed != 1 {
		t.Fatalf("the page got %q with %d refreshes; want %q with 1", r.Got, r.Refreshed, want)
	}

	// A page of another origin.
	if _, err := public.Write(ctx, []byte("public news")); err != nil {
		t.Fatal(err)
	}
	sessions := hub.SessionCount()
	var evil map[string]string
	if err := browser(ctx, evilSrv.URL+"/test/evil?"+halleySrv.URL, "", &evil); err != nil {
		t.Fatal(err)
	}
	for _, tr := range []string{"poll", "sse", "ws"} {
		if evil[tr] != "blocked" {
			t.Errorf("a page of another origin over %s: %q, want blocked", tr, evil[tr])
		}
	}
	if n := hub.SessionCount(); n != sessions {
		t.Errorf("the foreign page's requests made %d sessions", n-sessions)
	}
}
