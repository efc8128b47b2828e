package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/client"
)

// signFilter enriches every write with its writer's session ("server" for
// the server's own writes), and rejects writes that contain "bad".
func signFilter(_ context.Context, w halley.Writer, data []byte) ([]byte, error) {
	if bytes.Contains(data, []byte("bad")) {
		return nil, halley.Reject("no bad words")
	}
	from := "server"
	if w.Session != nil {
		from = w.Session.ID()
	}
	return json.Marshal(chatLine{From: from, Text: string(data)})
}

type chatLine struct {
	From string `json:"from"`
	Text string `json:"text"`
}

func newChat(t testing.TB, e *env) *halley.Bus {
	t.Helper()
	bus, err := e.hub.NewBus(t.Context(), halley.BusOptions{Name: "chat", Filter: signFilter})
	if err != nil {
		t.Fatal(err)
	}
	return bus
}

// startOn starts a client on transport tr subscribed to channel from its
// current end, and waits until it is subscribed: it has a session, and over
// WebSocket a live connection.
func startOn(t testing.TB, e *env, tr client.Transport, hc *http.Client, channel string) *runner {
	t.Helper()
	c := client.New(e.url, client.Options{Transport: tr, HTTPClient: hc, Logger: discard})
	c.Subscribe(channel, client.From{})
	r := start(t, c)
	if ev := r.next(t, client.EventSubscribed, client.EventEnded); ev.Type != client.EventSubscribed || ev.Channel != channel {
		t.Fatalf("first event %+v, want %s subscribed", ev, channel)
	}
	return r
}

func TestClient_WriteChat(t *testing.T) {
	cases := []struct {
		name string
		a, b client.Transport
	}{
		{"ws", client.WebSocket, client.WebSocket},
		{"sse", client.SSE, client.SSE},
		{"poll", client.Poll, client.Poll},
		{"ws and poll", client.WebSocket, client.Poll},
		{"sse and ws", client.SSE, client.WebSocket},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			bus := newChat(t, e)
			server := bus.Reader(0)
			type writer struct {
				name string
				tr   client.Transport
				obs  *observer
				r    *runner
			}
			writers := []*writer{{name: "a", tr: tc.a}, {name: "b", tr: tc.b}}
			for _, w := range writers {
				var hc *http.Client
				w.obs, hc = newObserver(t)
				w.r = startOn(t, e, w.tr, hc, "chat")
			}

			const n = 20
			ctx := t.Context()
			var wg sync.WaitGroup
			offsets := map[string][]uint64{}
			var mu sync.Mutex
			for _, w := range writers {
				wg.Go(func() {
					var offs []uint64
					for i := range n {
						off, err := w.r.Write(ctx, "chat", fmt.Appendf(nil, "%s%d", w.name, i))
						if err != nil {
							t.Errorf("%s: Write %d: %v", w.name, i, err)
							return
						}
						offs = append(offs, off)
					}
					mu.Lock()
					defer mu.Unlock()
					offsets[w.name] = offs
				})
			}
			wg.Go(func() {
				var offs []uint64
				for i := range n {
					o, err := bus.Write(ctx, fmt.Appendf(nil, "s%d", i))
					if err != nil {
						t.Errorf("server: Write %d: %v", i, err)
						return
					}
					offs = append(offs, o.Offset)
				}
				mu.Lock()
				defer mu.Unlock()
				offsets["s"] = offs
			})
			wg.Wait()
			if t.Failed() {
				return
			}

			// Every participant reads every message once, in one order.
			const total = 3 * n
			var views [][]string
			for _, w := range writers {
				var view []string
				for i := 1; i <= total; i++ {
					ev := w.r.next(t, client.EventMsg, client.EventGap, client.EventEnded)
					if ev.Type != client.EventMsg || ev.Channel != "chat" || ev.Offset != uint64(i) {
						t.Fatalf("%s: got %+v, want msg %d of chat", w.name, ev, i)
					}
					view = append(view, string(ev.Data))
				}
				views = append(views, view)
			}
			var view []string
			for i := 1; i <= total; i++ {
				m, err := server.Next(ctx)
				if err != nil || m.Offset != uint64(i) {
					t.Fatalf("server reader: %d, %v; want message %d", m.Offset, err, i)
				}
				view = append(view, string(m.Data))
			}
			views = append(views, view)
			for i := 1; i < len(views); i++ {
				if !slices.Equal(views[i], views[0]) {
					t.Fatalf("participants disagree:\n%q\n%q", views[0], views[i])
				}
			}

			// The filter saw each writer's session; each writer's messages
			// are where Write said, in the order it wrote them.
			from := map[string]string{"s": "server"}
			for _, w := range writers {
				from[w.name] = w.r.Session()
			}
			next := map[string]int{}
			for i, raw := range views[0] {
				var line chatLine
				if err := json.Unmarshal([]byte(raw), &line); err != nil {
					t.Fatalf("message %d = %q: %v", i+1, raw, err)
				}
				name, k := line.Text[:1], next[line.Text[:1]]
				if want := fmt.Sprintf("%s%d", name, k); line.Text != want {
					t.Errorf("message %d is %q, want %q next from %s", i+1, line.Text, want, name)
				}
				if line.From != from[name] {
					t.Errorf("message %d (%s) from %q, want %q", i+1, line.Text, line.From, from[name])
				}
				if k < len(offsets[name]) && offsets[name][k] != uint64(i+1) {
					t.Errorf("%s: Write returned offset %d for %q, which is at %d", name, offsets[name][k], line.Text, i+1)
				}
				next[name]++
			}
			for _, w := range writers {
				// A connected WebSocket writes on its connection.
				want := n
				if w.tr == client.WebSocket {
					want = 0
				}
				if got := w.obs.pathCount("/write"); got != want {
					t.Errorf("%s (%s): %d POST /write, want %d", w.name, w.tr, got, want)
				}
			}
		})
	}
}

func TestClient_WriteRefused(t *testing.T) {
	forEachTransport(t, func(t *testing.T, tr client.Transport) {
		e := newEnv(t)
		newChat(t, e)
		e.createChannel(t, "news", 0)
		obs, hc := newObserver(t)
		r := startOn(t, e, tr, hc, "chat")
		ctx := t.Context()
		// The HTTP status of a refusal, 0 over WebSocket; negative codes
		// are HTTP on every transport.
		status := func(code int) int {
			switch {
			case code < 0:
				return -code
			case tr == client.WebSocket:
				return 0
			}
			return code
		}

		cases := []struct {
			name, bus, data string
			reason, message string
			status          int
		}{
			{"rejected", "chat", "bad words", "rejected", "no bad words", http.StatusUnprocessableEntity},
			{"not a bus", "news", "x", "not_a_bus", "", http.StatusBadRequest},
			{"unknown channel", "nope", "x", "unknown_channel", "", http.StatusNotFound},
			// Over the WebSocket frame limit: it goes over HTTP whatever
			// the transport.
			{"too large", "chat", strings.Repeat("z", 64<<10+1), "message_too_large", "", -http.StatusRequestEntityTooLarge},
		}
		for _, tc := range cases {
			_, err := r.Write(ctx, tc.bus, []byte(tc.data))
			var re *client.RefusedError
			if !errors.As(err, &re) {
				t.Errorf("%s: Write = %v, want a RefusedError", tc.name, err)
				continue
			}
			if re.Op != "write" || re.Reason != tc.reason || re.Status != status(tc.status) ||
				(tc.message != "" && re.Message != tc.message) || re.Message == "" {
				t.Errorf("%s: %+v, want write refused: %s (%s), status %d", tc.name, re, tc.reason, tc.message, status(tc.status))
			}
		}
		if _, err := r.Write(ctx, "", []byte("x")); err == nil {
			t.Error("Write to no bus succeeded")
		}

		// Nothing refused entered the bus, and the client goes on.
		// At the server's limit for a client's message, and escaped
		// over the WebSocket frame limit: it goes over HTTP.
		big := bytes.Repeat([]byte(`"`), 64<<10)
		for i, data := range [][]byte{[]byte("good"), big} {
			off, err := r.Write(ctx, "chat", data)
			if err != nil || off != uint64(i+1) {
				t.Fatalf("Write %d = %d, %v; want offset %d", i, off, err, i+1)
			}
			ev := r.next(t, client.EventMsg, client.EventGap, client.EventEnded)
			var line chatLine
			if ev.Type != client.EventMsg || ev.Offset != uint64(i+1) || json.Unmarshal(ev.Data, &line) != nil || line.Text != string(data) {
				t.Fatalf("got %+v, want message %d", ev, i+1)
			}
		}
		if n := obs.pathCount("/ws"); tr == client.WebSocket && n != 1 {
			t.Errorf("%d WebSocket connections, want 1: a refusal or a large write cost the connection", n)
		}
	})
}

func TestClient_WriteWithoutRun(t *testing.T) {
	e := newEnv(t)
	newChat(t, e)
	c := client.New(e.url, client.Options{Logger: discard})
	off, err := c.Write(t.Context(), "chat", []byte("hi"))
	if err != nil || off != 1 {
		t.Fatalf("Write = %d, %v; want 1", off, err)
	}
	// The session the write made is the client's from now on.
	sid := c.Session()
	if sid == "" {
		t.Fatal("no session after a write")
	}
	if _, err := c.Write(t.Context(), "chat", []byte("again")); err != nil {
		t.Fatal(err)
	}
	ch, _ := e.hub.Channel("chat")
	msgs, err := ch.Read(t.Context(), 0, 0)
	if err != nil || len(msgs) != 2 {
		t.Fatalf("read %d messages, %v; want 2", len(msgs), err)
	}
	for _, m := range msgs {
		var line chatLine
		if err := json.Unmarshal(m.Data, &line); err != nil || line.From != sid {
			t.Errorf("message %s, want it from %s", m.Data, sid)
		}
	}
}
