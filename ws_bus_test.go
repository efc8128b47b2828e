package halley_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/internal/wire/frame"
)

// TestWS_BusChat: two clients and the server chat on a bus; each client's
// writes are answered with their offsets, filtered, and every participant
// reads one order.
func TestWS_BusChat(t *testing.T) {
	h := newHub(t, halley.Config{})
	srv := cometServer(t, h)
	bus, err := h.NewBus(testCtx(t), halley.BusOptions{Name: "chat", Filter: func(_ context.Context, w halley.Writer, data []byte) ([]byte, error) {
		if strings.Contains(string(data), "spam") {
			return nil, fmt.Errorf("%w: no spam", halley.ErrRejected)
		}
		return data, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	server := bus.Reader(0)
	a, b := dialWS(t, srv, "", nil), dialWS(t, srv, "", nil)
	a.subscribed("chat", "", 0)
	b.subscribed("chat", "", 0)

	a.send(`{"type":"write","channel":"chat","data":"a1","ref":"x"}`)
	if f := a.next(); f.Type != frame.TypeWritten || *f.Offset != 1 || f.Ref != "x" {
		t.Fatalf("write answer %s", show(f))
	}
	a.msg("chat", 1, "a1") // the writer gets its own message back
	a.send(`{"type":"write","channel":"chat","data":"a2"}`)
	if f := a.next(); f.Type != frame.TypeWritten || *f.Offset != 2 {
		t.Fatalf("write answer %s", show(f))
	}
	a.msg("chat", 2, "a2")
	if _, err := bus.Write(testCtx(t), []byte("from the server")); err != nil {
		t.Fatal(err)
	}
	a.msg("chat", 3, "from the server")
	b.msg("chat", 1, "a1")
	b.msg("chat", 2, "a2")
	b.msg("chat", 3, "from the server")
	for _, want := range []string{"a1", "a2", "from the server"} {
		m, err := server.Next(testCtx(t))
		if err != nil || string(m.Data) != want {
			t.Fatalf("server reader: %q %v", m.Data, err)
		}
	}

	// A refused write gets a clear reason; the connection stays.
	b.send(`{"type":"write","channel":"chat","data":"spam","ref":"7"}`)
	if f := b.next(); f.Type != frame.TypeError || f.Reason != "rejected" || f.Ref != "7" || !strings.Contains(f.Message, "no spam") {
		t.Fatalf("rejected write: %s", show(f))
	}
	b.send(`{"type":"write","channel":"nope","data":"x"}`)
	if f := b.next(); f.Type != frame.TypeError || f.Reason != "unknown_channel" {
		t.Fatalf("write to an unknown bus: %s", show(f))
	}
	b.send(`{"type":"write","channel":"chat","json":{"ok":true}}`)
	if f := b.next(); f.Type != frame.TypeWritten || *f.Offset != 4 {
		t.Fatalf("write after refusals: %s", show(f))
	}
	b.msg("chat", 4, `{"ok":true}`)
}

// TestWS_Listen: a client listening on a key gets prepared notifications,
// and stops getting them after unlisten.
func TestWS_Listen(t *testing.T) {
	h := newHub(t, halley.Config{})
	srv := cometServer(t, h)
	n, err := halley.NewNotifier(h, halley.NotifierOptions[string, string, string]{
		Name: "docs",
		Prepare: func(_ context.Context, id halley.Identity, key, v string) (string, bool, error) {
			return v + " for " + id.Session.ID()[:4], true, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	c := dialWS(t, srv, "", nil)
	c.send(`{"type":"listen","notifier":"docs","key":"42"}`)
	l := c.next()
	if l.Type != frame.TypeListening || l.Notifier != "docs" || l.Key != "42" || l.Channel == "" {
		t.Fatalf("listen answer %s", show(l))
	}
	if f := c.next(); f.Type != frame.TypeSubscribed || f.Channel != l.Channel {
		t.Fatalf("the connection should subscribe to the notification channel: %s", show(f))
	}
	if sent, _ := n.Notify(testCtx(t), "42", "edited", halley.NotFor{}); sent != 1 {
		t.Fatalf("sent %d", sent)
	}
	c.msg(l.Channel, 1, `{"notifier":"docs","key":"42","json":"edited for `+c.session[:4]+`"}`)
	c.send(`{"type":"unlisten","notifier":"docs","key":"42","ref":"u"}`)
	if f := c.next(); f.Type != frame.TypeUnlistened || f.Key != "42" || f.Ref != "u" {
		t.Fatalf("unlisten answer: %s", show(f))
	}
	if n.Listeners("42") != 0 {
		t.Fatal("still listening after unlisten")
	}
	c.send(`{"type":"listen","notifier":"nope","key":"1","ref":"n"}`)
	if f := c.next(); f.Type != frame.TypeError || f.Reason != "unknown_notifier" || f.Ref != "n" {
		t.Fatalf("listen to an unknown notifier: %s %q", show(f), f.Message)
	}
}
