package client_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/halleyhq/halley/client"
)

func forEachTransport(t *testing.T, f func(t *testing.T, tr client.Transport)) {
	for _, tr := range transports {
		t.Run(string(tr), func(t *testing.T) {
			t.Parallel()
			f(t, tr)
		})
	}
}

func TestClient_Receive(t *testing.T) {
	forEachTransport(t, func(t *testing.T, tr client.Transport) {
		e := newEnv(t)
		e.createChannel(t, "news", 0)
		// A one-event buffer: the connection must wait for the test, and
		// lose nothing meanwhile.
		c := client.New(e.url, client.Options{Transport: tr, Buffer: 1, Logger: discard})
		c.Subscribe("news", client.From{})
		r := start(t, c)
		if ev := r.next(t, client.EventSubscribed); ev.Channel != "news" || ev.Offset != 0 {
			t.Fatalf("subscribed = %+v, want news at 0 with an epoch", ev)
		}
		e.publish(t, "news", 1, 100)
		r.expectMsgs(t, "news", 1, 100)

		// JSON payloads come back as their JSON text.
		if _, _, err := e.api.Publish(t.Context(), "news", []byte(`{"a": [1, 2]}`)); err != nil {
			t.Fatal(err)
		}
		if ev := r.next(t, client.EventMsg); ev.Offset != 101 || string(ev.Data) != `{"a":[1,2]}` {
			t.Errorf("msg = %+v (data %q), want 101 {\"a\":[1,2]}", ev, ev.Data)
		}
		// SSE event ids and poll answers carry the epoch; over WebSocket
		// the client knows only what subscribed and gap frames say, and
		// the subscribed frame of a channel without messages has none.
		pos := c.Positions()["news"]
		if pos.Offset != 101 || (tr != client.WebSocket && pos.Epoch == "") {
			t.Errorf("position = %+v, want 101 with an epoch", pos)
		}
		if c.Session() == "" {
			t.Error("no session after a connection")
		}
	})
}

func TestClient_ResumeAfterDrop(t *testing.T) {
	forEachTransport(t, func(t *testing.T, tr client.Transport) {
		e := newEnv(t)
		e.createChannel(t, "news", 0)
		obs, hc := newObserver(t)
		c := client.New(e.url, client.Options{
			Transport:  tr,
			HTTPClient: hc,
			MinBackoff: time.Millisecond,
			MaxBackoff: 10 * time.Millisecond,
			Logger:     discard,
		})
		c.Subscribe("news", client.From{})
		r := start(t, c)
		r.next(t, client.EventSubscribed)
		e.publish(t, "news", 1, 10)
		r.expectMsgs(t, "news", 1, 10)
		session := c.Session()

		// Deactivation ends every stream and poll, and refuses new ones
		// with 503: wait until the client has been refused once, so that
		// the messages below are written while it is away.
		e.hub.Deactivate()
		obs.wait(t, "a 503", func(o *observer) bool { return o.statuses[http.StatusServiceUnavailable] > 0 })
		e.publish(t, "news", 11, 20)
		e.hub.Activate()
		r.expectMsgs(t, "news", 11, 20)
		e.publish(t, "news", 21, 21)
		r.expectMsgs(t, "news", 21, 21)
		if got := c.Session(); got != session {
			t.Errorf("session %q after the resume, want %q kept", got, session)
		}
	})
}

func TestClient_SetTransport(t *testing.T) {
	e := newEnv(t)
	e.createChannel(t, "news", 0)
	obs, hc := newObserver(t)
	c := client.New(e.url, client.Options{Transport: client.WebSocket, HTTPClient: hc, Logger: discard})
	c.Subscribe("news", client.From{After: ptr[uint64](0)})
	r := start(t, c)

	const total, window = 300, 20
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	// The producer stays at most window messages ahead of the consumer,
	// so that messages are in flight at every switch.
	credit := make(chan struct{}, total)
	wg.Go(func() {
		for i := 1; i <= total; i++ {
			if i > window {
				select {
				case <-credit:
				case <-ctx.Done():
					return
				}
			}
			if _, _, err := e.api.Publish(ctx, "news", []byte("m"+strconv.Itoa(i))); err != nil {
				if ctx.Err() == nil {
					t.Errorf("publish %d: %v", i, err)
				}
				return
			}
		}
	})

	switches := map[int]client.Transport{50: client.SSE, 150: client.Poll, 250: client.WebSocket}
	for i := 1; i <= total; i++ {
		r.expectMsgs(t, "news", i, i)
		credit <- struct{}{}
		if tr, ok := switches[i]; ok {
			c.SetTransport(tr)
		}
	}
	for _, path := range []string{"/ws", "/sse", "/poll"} {
		if obs.pathCount(path) == 0 {
			t.Errorf("no request to %s: the transport did not switch", path)
		}
	}
	if got := c.Transport(); got != client.WebSocket {
		t.Errorf("Transport() = %q, want ws", got)
	}
}

func TestClient_Gap(t *testing.T) {
	cases := []struct {
		name   string
		from   client.From
		reason string
	}{
		{"fell off the ring", client.From{After: ptr[uint64](1)}, "channel_full"},
		{"other epoch", client.From{After: ptr[uint64](5), Epoch: "bogus"}, "unknown_position"},
	}
	forEachTransport(t, func(t *testing.T, tr client.Transport) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				e := newEnv(t)
				e.createChannel(t, "ring", 3)
				e.publish(t, "ring", 1, 10)
				c := client.New(e.url, client.Options{Transport: tr, Logger: discard})
				c.Subscribe("ring", tc.from)
				r := start(t, c)
				ev := r.next(t, client.EventMsg, client.EventGap, client.EventEnded)
				if ev.Type != client.EventGap || ev.Channel != "ring" || ev.Reason != tc.reason || ev.Offset != 7 || ev.Epoch == "" {
					t.Fatalf("first event %+v, want a %s gap up to 7", ev, tc.reason)
				}
				r.expectMsgs(t, "ring", 8, 10)
				if pos := c.Positions()["ring"]; pos.Offset != 10 || pos.Epoch != ev.Epoch {
					t.Errorf("position = %+v, want 10 of epoch %q", pos, ev.Epoch)
				}
			})
		}
	})
}

func TestClient_Ended(t *testing.T) {
	forEachTransport(t, func(t *testing.T, tr client.Transport) {
		e := newEnv(t)
		e.createChannel(t, "news", 0)
		c := client.New(e.url, client.Options{Transport: tr, Logger: discard})
		c.Subscribe("nope", client.From{})
		c.Subscribe("news", client.From{})
		r := start(t, c)
		var nopeEnded, newsSubscribed bool
		for !nopeEnded || !newsSubscribed {
			ev := r.next(t, client.EventSubscribed, client.EventEnded)
			switch {
			case ev.Type == client.EventEnded && ev.Channel == "nope":
				if ev.Reason != "unknown_channel" {
					t.Errorf("nope ended with %q, want unknown_channel", ev.Reason)
				}
				nopeEnded = true
			case ev.Type == client.EventSubscribed && ev.Channel == "news":
				newsSubscribed = true
			default:
				t.Fatalf("unexpected %+v", ev)
			}
		}
		if err := e.api.DeleteChannel(t.Context(), "news"); err != nil {
			t.Fatal(err)
		}
		// A connection waiting on the channel sees it end; one made
		// after the delete (a poll between two answers) finds no such
		// channel.
		if ev := r.next(t, client.EventEnded, client.EventMsg); ev.Type != client.EventEnded || ev.Channel != "news" ||
			(ev.Reason != "channel_ended" && ev.Reason != "unknown_channel") {
			t.Errorf("after delete: %+v, want news ended", ev)
		}
		if pos := c.Positions(); len(pos) != 0 {
			t.Errorf("positions %v after every channel ended, want none", pos)
		}
	})
}

func TestClient_SubscribeUnsubscribeLive(t *testing.T) {
	forEachTransport(t, func(t *testing.T, tr client.Transport) {
		e := newEnv(t)
		e.createChannel(t, "a", 0)
		e.createChannel(t, "b", 0)
		obs, hc := newObserver(t)
		c := client.New(e.url, client.Options{Transport: tr, HTTPClient: hc, Logger: discard})
		c.Subscribe("a", client.From{})
		r := start(t, c)
		if ev := r.next(t, client.EventSubscribed); ev.Channel != "a" {
			t.Fatalf("subscribed %+v, want a", ev)
		}
		e.publish(t, "a", 1, 1)
		r.expectMsgs(t, "a", 1, 1)

		c.Subscribe("b", client.From{})
		if ev := r.next(t, client.EventSubscribed); ev.Channel != "b" {
			t.Fatalf("subscribed %+v, want b", ev)
		}
		e.publish(t, "b", 1, 1)
		r.expectMsgs(t, "b", 1, 1)

		c.Unsubscribe("b")
		e.publish(t, "b", 2, 2)
		e.publish(t, "a", 2, 2)
		// b's message was written first: had it come, it would be first.
		r.expectMsgs(t, "a", 2, 2)
		if _, ok := c.Positions()["b"]; ok {
			t.Error("b still has a position after Unsubscribe")
		}
		// A WebSocket changes its subscriptions in place.
		if n := obs.pathCount("/ws"); tr == client.WebSocket && n != 1 {
			t.Errorf("%d WebSocket connections, want 1", n)
		}
	})
}

func TestClient_BackoffWhileDown(t *testing.T) {
	forEachTransport(t, func(t *testing.T, tr client.Transport) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		url := "http://" + ln.Addr().String()
		ln.Close()

		obs, hc := newObserver(t)
		c := client.New(url, client.Options{
			Transport:  tr,
			HTTPClient: hc,
			MinBackoff: time.Millisecond,
			MaxBackoff: 5 * time.Millisecond,
			Logger:     discard,
		})
		c.Subscribe("news", client.From{})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- c.Run(ctx) }()
		obs.wait(t, "3 failed attempts", func(o *observer) bool { return o.errs >= 3 })
		select {
		case err := <-done:
			t.Fatalf("Run returned while the server is down: %v", err)
		default:
		}
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run = %v after cancel, want nil", err)
			}
		case <-time.After(waitTimeout):
			t.Fatal("Run did not return after cancel")
		}
	})
}

func TestClient_PermanentError(t *testing.T) {
	forEachTransport(t, func(t *testing.T, tr client.Transport) {
		e := newEnv(t)
		c := client.New(e.url+"/nowhere", client.Options{Transport: tr, Logger: discard})
		c.Subscribe("news", client.From{})
		done := make(chan error, 1)
		go func() { done <- c.Run(t.Context()) }()
		select {
		case err := <-done:
			var ae *client.APIError
			if !errors.As(err, &ae) || ae.Status != http.StatusNotFound {
				t.Errorf("Run = %v, want an APIError 404", err)
			}
			// One prefix, not "client: ws: client: 404 …".
			if want := "client: " + string(tr) + ": 404 Not Found"; err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Errorf("Run = %q, want it to start with %q", err, want)
			}
		case <-time.After(waitTimeout):
			t.Fatal("Run kept retrying a 404")
		}
	})
}

func TestClient_BadURL(t *testing.T) {
	for _, u := range []string{"ftp://example.com", "127.0.0.1:8080", "http://"} {
		c := client.New(u, client.Options{})
		if err := c.Run(t.Context()); err == nil {
			t.Errorf("Run with URL %q = nil, want an error", u)
		}
	}
}

func TestClient_RunTwice(t *testing.T) {
	e := newEnv(t)
	e.createChannel(t, "news", 0)
	c := client.New(e.url, client.Options{Transport: client.Poll, Logger: discard})
	c.Subscribe("news", client.From{})
	r := start(t, c)
	r.next(t, client.EventSubscribed)
	if err := c.Run(t.Context()); !errors.Is(err, client.ErrRunning) {
		t.Errorf("second Run = %v, want ErrRunning", err)
	}
}

func TestParseTransport(t *testing.T) {
	for _, s := range []string{"ws", "sse", "poll"} {
		if tr, err := client.ParseTransport(s); err != nil || string(tr) != s {
			t.Errorf("ParseTransport(%q) = %q, %v", s, tr, err)
		}
	}
	if _, err := client.ParseTransport("carrier-pigeon"); err == nil {
		t.Error("ParseTransport accepted an unknown transport")
	}
}

func TestClient_MixedStarts(t *testing.T) {
	forEachTransport(t, func(t *testing.T, tr client.Transport) {
		e := newEnv(t)
		for _, id := range []string{"a", "b", "c"} {
			e.createChannel(t, id, 0)
			e.publish(t, id, 1, 3)
		}
		// One SSE or poll request has one "last" for all its channels:
		// the client must ask in turns, and lose nothing meanwhile.
		c := client.New(e.url, client.Options{Transport: tr, Logger: discard})
		c.Subscribe("a", client.From{Last: 2})
		c.Subscribe("b", client.From{Last: 1})
		c.Subscribe("c", client.From{After: ptr[uint64](0)})
		r := start(t, c)
		want := map[string][]uint64{"a": {2, 3}, "b": {3}, "c": {1, 2, 3}}
		got := map[string][]uint64{}
		for n := 0; n < 6; n++ {
			ev := r.next(t, client.EventMsg, client.EventGap, client.EventEnded)
			if ev.Type != client.EventMsg {
				t.Fatalf("unexpected %+v", ev)
			}
			got[ev.Channel] = append(got[ev.Channel], ev.Offset)
		}
		for id, offs := range want {
			if fmt.Sprint(got[id]) != fmt.Sprint(offs) {
				t.Errorf("%s: offsets %v, want %v", id, got[id], offs)
			}
		}
		// Nothing more is pending: the next message is the next one.
		e.publish(t, "b", 4, 4)
		r.expectMsgs(t, "b", 4, 4)
	})
}
