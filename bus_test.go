package halley_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/halleyhq/halley"
)

type chatLine struct {
	Text string `json:"text"`
	From string `json:"from,omitempty"`
}

func TestBus_Filter(t *testing.T) {
	h := newHub(t, halley.Config{})
	s, _ := h.NewSession()
	s.SetUser("alice")
	bus, err := halley.NewTypedBus(testCtx(t), h, halley.BusOptions{Name: "chat"},
		func(_ context.Context, w halley.Writer, v chatLine) (chatLine, error) {
			if strings.Contains(v.Text, "spam") {
				return v, fmt.Errorf("%w: no spam", halley.ErrRejected)
			}
			v.From = "server"
			if !w.Server() {
				v.From = w.User // enrich with who wrote
			}
			return v, nil
		})
	if err != nil {
		t.Fatal(err)
	}
	r := bus.Reader(0)
	if _, err := bus.Write(testCtx(t), chatLine{Text: "hi all"}); err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Bus().WriteAs(testCtx(t), halley.Writer{Session: s}, []byte(`{"text":"hello"}`)); err != nil {
		t.Fatal(err)
	}
	_, err = bus.Bus().WriteAs(testCtx(t), halley.Writer{Session: s}, []byte(`{"text":"buy spam"}`))
	if !errors.Is(err, halley.ErrRejected) || halley.Reason(err) != "rejected" || !strings.Contains(err.Error(), "no spam") {
		t.Fatalf("filtered write: %v", err)
	}
	if _, err := bus.Bus().WriteAs(testCtx(t), halley.Writer{Session: s}, []byte(`not json`)); !errors.Is(err, halley.ErrRejected) {
		t.Fatalf("undecodable write: %v", err)
	}
	var got []chatLine
	for range 2 {
		v, err := r.Next(testCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, v.Value)
	}
	want := []chatLine{{"hi all", "server"}, {"hello", "alice"}}
	if !slices.Equal(got, want) {
		t.Fatalf("bus carried %v, want %v", got, want)
	}
	// The bus is a channel: a write through the channel (the HTTP API's
	// path) goes through the filter too.
	if _, err := bus.Bus().Channel().Write(testCtx(t), []byte(`{"text":"spam"}`)); !errors.Is(err, halley.ErrRejected) {
		t.Fatalf("channel write bypassed the filter: %v", err)
	}
}

func TestBus_StreamPerReader(t *testing.T) {
	h := newHub(t, halley.Config{})
	bus, err := h.NewBus(testCtx(t), halley.BusOptions{})
	if err != nil {
		t.Fatal(err)
	}
	readers := []*halley.Reader{bus.Reader(0), bus.Reader(0), bus.Reader(0)}
	for _, v := range []string{"a", "b"} {
		if _, err := bus.Write(testCtx(t), []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	for i, r := range readers {
		var got []string
		for range 2 {
			m, err := r.Next(testCtx(t))
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, string(m.Data))
		}
		if !slices.Equal(got, []string{"a", "b"}) {
			t.Fatalf("reader %d got %v: each reader must get the whole stream", i, got)
		}
	}
}

func TestBus_NamedKeepsID(t *testing.T) {
	// A restart is a new hub: the same name gives the same id, so clients
	// reconnect to it.
	var ids []string
	for range 2 {
		h, err := halley.New(halley.Config{})
		if err != nil {
			t.Fatal(err)
		}
		b, err := h.NewBus(testCtx(t), halley.BusOptions{Name: "lobby"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, b.ID())
		if _, ok := h.Bus("lobby"); !ok {
			t.Fatal("Bus(lobby) not found")
		}
		if err := h.Shutdown(testCtx(t)); err != nil {
			t.Fatal(err)
		}
	}
	if ids[0] != "lobby" || ids[1] != "lobby" {
		t.Fatalf("ids %v", ids)
	}
}

func TestBus_SessionScope(t *testing.T) {
	h := newHub(t, halley.Config{})
	bus, err := h.NewBus(testCtx(t), halley.BusOptions{Scope: halley.BusSession, Size: 3})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.NewBus(testCtx(t), halley.BusOptions{Scope: 7}); !errors.Is(err, halley.ErrInvalidOptions) {
		t.Fatalf("bad scope: %v", err)
	}
	if bus.Scope() != halley.BusSession || bus.Scope().String() != "session" {
		t.Fatalf("scope %v", bus.Scope())
	}
	server := bus.Reader(0)
	for _, v := range []string{"1", "2", "3"} {
		if _, err := bus.Write(testCtx(t), []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	// The server's readers see the whole stream, whatever the sessions do.
	for _, want := range []string{"1", "2", "3"} {
		m, err := server.Next(testCtx(t))
		if err != nil || string(m.Data) != want {
			t.Fatalf("server reader: %q, %v", m.Data, err)
		}
	}
}

func TestBus_TooLarge(t *testing.T) {
	h := newHub(t, halley.Config{MaxMessageSize: 8})
	bus, _ := h.NewBus(testCtx(t), halley.BusOptions{})
	if _, err := bus.Write(testCtx(t), []byte("123456789")); !errors.Is(err, halley.ErrTooLarge) || halley.Reason(err) != "message_too_large" {
		t.Fatalf("oversized write: %v", err)
	}
}
