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
	"github.com/halleyhq/halley/client"
)

// presencePage follows the members of "room" with the browser client: it
// records join and leave events and asks who is there.
const presencePage = `<!doctype html>
<title>Halley presence</title>
<script type="module">
import { Client } from '/test/client.js';
const q = new URLSearchParams(location.search);
window.__steps = [];
const step = (name) => new Promise((r) => { window.__resume = r; window.__steps.push(name); });
const until = (f) => new Promise((r) => { const t = setInterval(async () => { if (await f()) { clearInterval(t); r(); } }, 20); });
const events = [];
const client = new Client({ url: q.get('halley'), transport: q.get('transport') });
const room = client.channel('room', { presence: true });
room.on('join', (e) => events.push('join:' + (e.user ?? '')));
room.on('leave', (e) => events.push('leave:' + (e.user ?? '')));
await until(async () => (await client.presence('room')).connections >= 1);
await step('subscribed');
await until(() => events.includes('join:'));
const during = await client.presence('room');
await step('joined');
await until(() => events.includes('leave:'));
window.__result = { events, during, transport: client.state.transport };
window.__done = true;
</script>`

// TestClient_Presence: a page follows a presence channel with the browser
// client: another client's arrival and departure come as join and leave
// events, and presence() counts both connections while both are there.
func TestClient_Presence(t *testing.T) {
	needBrowser(t)
	for _, tr := range []string{"ws", "sse"} {
		t.Run(tr, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 120*time.Second)
			defer cancel()
			mux := http.NewServeMux()
			mux.HandleFunc("/test/page", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				fmt.Fprint(w, presencePage)
			})
			mux.HandleFunc("/test/client.js", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/javascript")
				http.ServeFile(w, r, "../cmd/halley/demo/client.js")
			})
			mux.HandleFunc("/favicon.ico", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
			app := httptest.NewServer(mux)
			defer app.Close()
			hub, err := halley.New(halley.Config{AllowedOrigins: []string{app.URL}})
			if err != nil {
				t.Fatal(err)
			}
			defer hub.Shutdown(context.Background())
			if _, err := hub.NewChannel(ctx, halley.ChannelOptions{Name: "room", Presence: true, Public: true}); err != nil {
				t.Fatal(err)
			}
			hs := httptest.NewServer(hub.Handler())
			defer hs.Close()
			connections := func(n int) {
				t.Helper()
				for {
					p, err := hub.Presence(ctx, "room")
					if err != nil {
						t.Fatal(err)
					}
					if p.Connections == n {
						return
					}
					select {
					case <-ctx.Done():
						t.Fatalf("never %d connections on room: %+v", n, p)
					case <-time.After(5 * time.Millisecond):
					}
				}
			}

			// The other member: a Go client, started and stopped on the
			// page's steps.
			hc := &http.Client{Transport: &http.Transport{}}
			defer hc.CloseIdleConnections()
			other := client.New(hs.URL, client.Options{Transport: client.WebSocket, HTTPClient: hc})
			other.Subscribe("room", client.From{})
			octx, stop := context.WithCancel(ctx)
			defer stop()
			ran := make(chan error, 1)
			go func() { // its events are not this test's
				for {
					select {
					case <-other.Events():
					case <-octx.Done():
						return
					}
				}
			}()
			var r struct {
				Page struct {
					Events    []string
					During    struct{ Connections, Sessions int }
					Transport string
				}
				Errors []string
			}
			scenario(t, ctx, "page", app.URL+"/test/page?transport="+tr+"&halley="+hs.URL, "", nil, func(step string) {
				switch step {
				case "subscribed":
					go func() { ran <- other.Run(octx) }()
					connections(2)
				case "joined":
					stop()
					<-ran
					connections(0 + 1)
				}
			}, &r)
			if !slices.Equal(r.Page.Events, []string{"join:", "leave:"}) {
				t.Errorf("the page saw %q, want the other client's join then its leave", r.Page.Events)
			}
			// Over SSE the client anchors its position with a first long
			// poll, whose connection stays a member for a few seconds: two
			// sessions, and two connections or more.
			if r.Page.During.Sessions != 2 || r.Page.During.Connections < 2 {
				t.Errorf("presence() while both were there: %+v, want 2 sessions", r.Page.During)
			}
			if r.Page.Transport != tr {
				t.Errorf("the page read over %q, want %q", r.Page.Transport, tr)
			}
			if len(r.Errors) > 0 {
				t.Errorf("console errors: %q", r.Errors)
			}
		})
	}
}
