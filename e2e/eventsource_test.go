package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/halleyhq/halley"
)

const eventSourcePage = `<!doctype html>
<title>EventSource resume</title>
<script>
// A plain EventSource, nothing else: it must resume by itself.
const got = [];
let opens = 0;
const es = new EventSource('/sse?channel=news');
es.onopen = () => { opens++; fetch('/test/event?opened=' + opens, {method: 'POST'}); };
es.onmessage = (e) => {
  const f = JSON.parse(e.data);
  if (f.type !== 'msg') return;
  got.push({offset: f.offset, data: f.data});
  fetch('/test/event?offset=' + f.offset, {method: 'POST'});
  if (got.length === 15) { window.__result = {got, opens}; window.__done = true; es.close(); }
};
</script>`

// TestEventSource_ResumesByItself drops a browser's SSE stream in the
// middle (the server ends it, as on a restart) and checks that a plain
// EventSource reconnects with Last-Event-ID and gets every message exactly
// once: those written while it was away too.
func TestEventSource_ResumesByItself(t *testing.T) {
	needBrowser(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	hub, err := halley.New(halley.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Shutdown(context.Background())
	news, err := hub.NewChannel(ctx, halley.ChannelOptions{Name: "news"})
	if err != nil {
		t.Fatal(err)
	}

	events := make(chan string, 64)
	var mu sync.Mutex
	var lastEventIDs []string
	mux := http.NewServeMux()
	mux.HandleFunc("/test/page", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, eventSourcePage)
	})
	mux.HandleFunc("/test/event", func(w http.ResponseWriter, r *http.Request) {
		events <- r.URL.RawQuery
	})
	transports := hub.Handler()
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/sse" {
			mu.Lock()
			lastEventIDs = append(lastEventIDs, r.Header.Get("Last-Event-ID"))
			mu.Unlock()
		}
		transports.ServeHTTP(w, r)
	}))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	type result struct {
		Got []struct {
			Offset uint64 `json:"offset"`
			Data   string `json:"data"`
		} `json:"got"`
		Opens int `json:"opens"`
	}
	pg := openPage[result](ctx, srv.URL+"/test/page")
	await := func(want string) {
		t.Helper()
		pg.await(t, ctx, events, want, nil)
	}
	publish := func(from, to int) {
		for i := from; i <= to; i++ {
			if _, err := news.Write(ctx, []byte("m"+strconv.Itoa(i))); err != nil {
				t.Fatal(err)
			}
		}
	}

	await("opened=1")
	publish(1, 5)
	await("offset=5")
	// The server ends every stream (comet:deactivate, then activate):
	// the browser is disconnected and messages 6..10 come meanwhile.
	hub.Deactivate()
	hub.Activate()
	publish(6, 10)
	await("opened=2")
	publish(11, 15)

	r := pg.result(t, ctx)
	var offsets []uint64
	for i, m := range r.Got {
		offsets = append(offsets, m.Offset)
		if m.Data != "m"+strconv.Itoa(i+1) {
			t.Errorf("message %d: data %q", i+1, m.Data)
		}
	}
	want := []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	if !slices.Equal(offsets, want) || r.Opens != 2 {
		t.Fatalf("browser got offsets %v over %d connections; want %v over 2", offsets, r.Opens, want)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(lastEventIDs) != 2 || lastEventIDs[0] != "" || lastEventIDs[1] == "" {
		t.Fatalf("Last-Event-ID of the SSE requests: %q; want none, then the position", lastEventIDs)
	}
}
