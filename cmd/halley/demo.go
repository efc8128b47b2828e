package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/halleyhq/halley"
)

// demoFS holds the demo page, its script app.js (built from js/demo) and
// client.js, the browser client (js/client), both built by
// `npm run build:demo` in js/client and checked in; CI checks that they
// are current.
//
//go:embed demo/index.html demo/app.js demo/client.js
var demoFS embed.FS

// demoChannel is the name of the demo's news channel (broadcast).
const demoChannel = "demo"

// The demo's other channels, buses and notifier.
const (
	demoCounter  = "demo:counter" // newest: a live counter
	demoChat     = "demo:chat"    // bus: chat between tabs, each line tagged by the filter
	demoBurst    = "demo:burst"   // bus: a write floods the news ring, to show channel_full
	demoLazy     = "demo:lazy"    // lazy: a value computed when a client asks
	demoStats    = "demo:stats"   // newest: connections and messages per second
	demoNotifier = "demo-docs"    // notifier: edits of documents, by key
	demoRing     = 20             // the news ring's size
)

// demoDocs are the keys of the demo's notifier.
var demoDocs = []string{"alpha", "beta", "gamma"}

// demoPage serves the demo page. The page has no external resources, so
// its policy allows nothing beyond this origin.
func demoPage() http.Handler {
	page, err := demoFS.ReadFile("demo/index.html")
	if err != nil {
		panic("halley: demo page missing from the binary: " + err.Error())
	}
	return demoFile(page, "text/html; charset=utf-8")
}

// demoScript serves a script of the demo page: app.js or client.js. The
// client is public code that pages of any origin may import, as from a
// CDN (docs/client-js.md).
func demoScript(name string) http.Handler {
	js, err := demoFS.ReadFile("demo/" + name)
	if err != nil {
		panic("halley: demo script missing from the binary: " + err.Error())
	}
	h := demoFile(js, "text/javascript; charset=utf-8")
	if name != "client.js" {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		h.ServeHTTP(w, r)
	})
}

func demoFile(b []byte, typ string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", typ)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
		h.Set("Cache-Control", "no-cache")
		_, _ = w.Write(b)
	})
}

// demo is what the demo page reads: it is made by newDemo (nil when the
// demo is off), started by start, and run by run until its context ends.
type demo struct {
	conns atomic.Int64 // transport requests under way
	msgs  atomic.Int64 // messages written on the demo's channels and buses
	lazyN atomic.Int64 // values the lazy channel computed

	news, counter, stats *halley.Channel
	docs                 *halley.Notifier[string, docEdit, docEdit]
	hub                  *halley.Hub
	log                  *slog.Logger

	mu        sync.Mutex
	lastBurst time.Time
}

func newDemo(on bool) *demo {
	if !on {
		return nil
	}
	return &demo{}
}

// wrap counts the client connections open, for the demo's plot: the
// transport requests under way, and the connections that WebSockets and
// SSE streams took over, until they close.
func (d *demo) wrap(h http.Handler) http.Handler {
	if d == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.conns.Add(1)
		cw := &countingWriter{ResponseWriter: w, d: d}
		defer func() {
			if !cw.hijacked {
				d.conns.Add(-1)
			}
		}()
		h.ServeHTTP(cw, r)
	})
}

// countingWriter hands a taken-over connection on with a count to release.
type countingWriter struct {
	http.ResponseWriter
	d        *demo
	hijacked bool
}

func (w *countingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *countingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return c, brw, err
	}
	w.hijacked = true
	return &countedConn{Conn: c, d: w.d}, brw, nil
}

// countedConn releases its count when it closes.
type countedConn struct {
	net.Conn
	d    *demo
	once sync.Once
}

// SyscallConn returns the connection's socket (see limitedConn's).
func (c *countedConn) SyscallConn() (syscall.RawConn, error) { return rawConnOf(c.Conn) }

func (c *countedConn) Close() error {
	c.once.Do(func() { c.d.conns.Add(-1) })
	return c.Conn.Close()
}

// tick is one message of the news channel.
type tick struct {
	Tick     int    `json:"tick"`
	Time     string `json:"time"`
	Headline string `json:"headline"`
}

// chatLine is what enters the chat bus: the filter adds the writer's tag.
type chatLine struct {
	Name   string `json:"name"`
	Text   string `json:"text"`
	Writer string `json:"writer"`
	Time   string `json:"time"`
}

// docEdit is a notification of the docs notifier.
type docEdit struct {
	Doc    string `json:"doc"`
	Rev    int    `json:"rev"`
	Author string `json:"author"`
	Change string `json:"change"`
}

// writerTag names a writer without giving away its session id.
func writerTag(w halley.Writer) string {
	if w.Session == nil {
		return "server"
	}
	sum := sha256.Sum256([]byte("halley demo " + w.Session.ID()))
	return hex.EncodeToString(sum[:3])
}

// start makes the demo's channels, buses and notifier.
func (d *demo) start(ctx context.Context, hub *halley.Hub, log *slog.Logger) error {
	d.hub, d.log = hub, log
	var err error
	ch := func(o halley.ChannelOptions) *halley.Channel {
		var c *halley.Channel
		if err == nil {
			// Every node of a cluster declares the demo's channels.
			o.Public, o.Declare = true, true
			if c, err = hub.NewChannel(ctx, o); err != nil {
				err = fmt.Errorf("demo channel %q: %w", o.Name, err)
			}
		}
		return c
	}
	d.news = ch(halley.ChannelOptions{Name: demoChannel, Size: demoRing})
	d.counter = ch(halley.ChannelOptions{Name: demoCounter, Kind: halley.KindNewest})
	d.stats = ch(halley.ChannelOptions{Name: demoStats, Kind: halley.KindNewest})
	ch(halley.ChannelOptions{Name: demoLazy, Kind: halley.KindLazy, Size: 10, Producer: d.compute})
	if err != nil {
		return err
	}
	if _, err := hub.NewBus(ctx, halley.BusOptions{Name: demoChat, Size: 100, Public: true, Declare: true, Filter: d.chatFilter}); err != nil {
		return fmt.Errorf("demo bus %q: %w", demoChat, err)
	}
	if _, err := hub.NewBus(ctx, halley.BusOptions{Name: demoBurst, Size: 10, Public: true, Declare: true, Filter: d.burstFilter}); err != nil {
		return fmt.Errorf("demo bus %q: %w", demoBurst, err)
	}
	d.docs, err = halley.NewNotifier(hub, halley.NotifierOptions[string, docEdit, docEdit]{Name: demoNotifier, Public: true, Declare: true})
	if err != nil {
		return fmt.Errorf("demo notifier: %w", err)
	}
	return nil
}

// chatFilter checks a chat line and tags it with its writer.
func (d *demo) chatFilter(_ context.Context, w halley.Writer, data []byte) ([]byte, error) {
	var in chatLine
	if err := json.Unmarshal(data, &in); err != nil {
		return nil, halley.Reject("a chat line is {\"name\": …, \"text\": …}")
	}
	in.Name, in.Text = strings.TrimSpace(in.Name), strings.TrimSpace(in.Text)
	switch {
	case in.Text == "":
		return nil, halley.Reject("empty line")
	case utf8.RuneCountInString(in.Text) > 500:
		return nil, halley.Reject("at most 500 characters")
	case utf8.RuneCountInString(in.Name) > 32:
		return nil, halley.Reject("a name has at most 32 characters")
	}
	if in.Name == "" {
		in.Name = "anonymous"
	}
	in.Writer, in.Time = writerTag(w), time.Now().UTC().Format(time.RFC3339)
	d.msgs.Add(1)
	return json.Marshal(in)
}

// burstFilter floods the news ring with more than it holds, so that a
// reader that paused falls off it; at most one burst a second.
func (d *demo) burstFilter(ctx context.Context, w halley.Writer, _ []byte) ([]byte, error) {
	d.mu.Lock()
	if time.Since(d.lastBurst) < time.Second {
		d.mu.Unlock()
		return nil, halley.Reject("one burst a second")
	}
	d.lastBurst = time.Now()
	d.mu.Unlock()
	for i := 1; i <= demoRing+5; i++ {
		if err := d.write(ctx, d.news, tick{Time: time.Now().UTC().Format(time.RFC3339), Headline: fmt.Sprintf("Burst headline %d of %d", i, demoRing+5)}); err != nil {
			return nil, err
		}
	}
	return json.Marshal(map[string]any{"writer": writerTag(w), "headlines": demoRing + 5})
}

// compute is the lazy channel's producer: it runs only while a client
// waits, and takes a moment, as real work would.
func (d *demo) compute(ctx context.Context) ([]byte, error) {
	t := time.NewTimer(100 * time.Millisecond)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-t.C:
	}
	n := d.lazyN.Add(1)
	d.msgs.Add(1)
	return json.Marshal(map[string]any{"n": n, "computed": time.Now().UTC().Format(time.RFC3339Nano), "sessions": d.hub.SessionCount()})
}

func (d *demo) write(ctx context.Context, c *halley.Channel, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if _, err := c.Write(ctx, b); err != nil {
		return err
	}
	d.msgs.Add(1)
	return nil
}

var demoHeadlines = []string{
	"Comet channels now resume after any reconnect",
	"Buses keep one order for every reader",
	"A hidden tab polls less, a shown one wakes at once",
	"Readers that fall off the ring are told so",
	"Long-poll takes over when a proxy holds the stream",
	"Tokens refresh without dropping the stream",
	"Notifications reach only the keys listened to",
	"Lazy channels compute a value only when asked",
}

var demoAuthors = []string{"Ada", "Grace", "Linus", "Barbara", "Ken"}

// run publishes until ctx is done: the counter every half period, a
// headline every period, a document edit every one and a half, and the
// server's numbers every second.
func (d *demo) run(ctx context.Context, period time.Duration) {
	half := max(period/2, time.Millisecond)
	t := time.NewTicker(half)
	defer t.Stop()
	stats := time.NewTicker(time.Second)
	defer stats.Stop()
	revs := map[string]int{}
	lastMsgs := d.msgs.Load()
	lastAt := time.Now()
	for n := 1; ; n++ {
		var now time.Time
		select {
		case <-ctx.Done():
			return
		case now = <-stats.C:
			m := d.msgs.Load()
			rate := float64(m-lastMsgs) / now.Sub(lastAt).Seconds()
			lastMsgs, lastAt = m, now
			if d.check(ctx, d.write(ctx, d.stats, map[string]any{"connections": d.conns.Load(), "sessions": d.hub.SessionCount(), "messages_per_second": rate, "time": now.UTC().Format(time.RFC3339)})) {
				return
			}
			n--
			continue
		case now = <-t.C:
		}
		if d.check(ctx, d.write(ctx, d.counter, map[string]any{"value": n, "time": now.UTC().Format(time.RFC3339)})) {
			return
		}
		if n%2 == 0 {
			h := demoHeadlines[(n/2-1)%len(demoHeadlines)]
			if d.check(ctx, d.write(ctx, d.news, tick{Tick: n / 2, Time: now.UTC().Format(time.RFC3339), Headline: h})) {
				return
			}
		}
		if n%3 == 0 {
			doc := demoDocs[rand.IntN(len(demoDocs))]
			revs[doc]++
			e := docEdit{Doc: doc, Rev: revs[doc], Author: demoAuthors[rand.IntN(len(demoAuthors))], Change: fmt.Sprintf("edited paragraph %d", 1+rand.IntN(9))}
			if k, err := d.docs.Notify(ctx, doc, e, halley.NotFor{}); err == nil {
				d.msgs.Add(int64(k))
			} else if d.check(ctx, err) {
				return
			}
		}
	}
}

// check logs a failed write; it reports whether the demo should stop.
func (d *demo) check(ctx context.Context, err error) bool {
	switch {
	case err == nil:
		return false
	case ctx.Err() != nil:
		return true
	case errors.Is(err, halley.ErrChannelClosed):
		d.log.Info("halley: demo: a channel closed, the demo stops", "err", err)
		return true
	}
	d.log.Warn("halley: demo: publish", "err", err)
	return false
}
