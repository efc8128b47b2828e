package bench

import (
	"bytes"
	"io"
	"net"
	"strings"
	"testing"
)

// TestFloorServe feeds the publish floor's server one connection's bytes:
// a request gets the answer and its event on the subscriber's
// connection; a clean end after it is no error; a head of too many lines
// or a bad Content-Length is refused.
func TestFloorServe(t *testing.T) {
	serve := func(t *testing.T, in string) (answers, events string, err error) {
		t.Helper()
		pub, pubPeer := net.Pipe()
		sub, subPeer := net.Pipe()
		got := make(chan string, 2)
		for _, c := range []net.Conn{pubPeer, subPeer} {
			go func() { b, _ := io.ReadAll(c); got <- string(b) }()
		}
		go func() {
			_, _ = io.WriteString(pubPeer, in)
		}()
		// The writer above and the readers end when the pipes close.
		errc := make(chan error, 1)
		go func() {
			errc <- floorServe(pub, []net.Conn{sub}, []byte("data: x\n\n"), 0, 1)
			pub.Close()
			sub.Close()
		}()
		err = <-errc
		a, b := <-got, <-got
		if strings.HasPrefix(b, "HTTP/") {
			a, b = b, a
		}
		return a, b, err
	}
	req := "POST /api/publish HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"

	// Two requests, each answered and its event written before the
	// next, then the publisher's end: no error.
	t.Run("requests", func(t *testing.T) {
		pub, pubPeer := net.Pipe()
		sub, subPeer := net.Pipe()
		defer subPeer.Close()
		errc := make(chan error, 1)
		go func() { errc <- floorServe(pub, []net.Conn{sub}, []byte("data: x\n\n"), 0, 1) }()
		for i := range 2 {
			if _, err := io.WriteString(pubPeer, req); err != nil {
				t.Fatal(err)
			}
			answer := make([]byte, len(floorAnswer))
			if _, err := io.ReadFull(pubPeer, answer); err != nil || !bytes.Equal(answer, floorAnswer) {
				t.Fatalf("request %d: answer %q, %v", i, answer, err)
			}
			event := make([]byte, len("data: x\n\n"))
			if _, err := io.ReadFull(subPeer, event); err != nil || string(event) != "data: x\n\n" {
				t.Fatalf("request %d: event %q, %v", i, event, err)
			}
		}
		pubPeer.Close()
		if err := <-errc; err != nil {
			t.Errorf("the end after two requests: %v, want none", err)
		}
	})
	t.Run("long head", func(t *testing.T) {
		head := "POST /api/publish HTTP/1.1\r\n" + strings.Repeat("X-A: b\r\n", maxFloorHeadLines) + "\r\n"
		answers, events, err := serve(t, head)
		if err == nil || answers != "" || events != "" {
			t.Errorf("a head of %d lines: %v, answers %q, events %q: want refused, nothing written", maxFloorHeadLines+1, err, answers, events)
		}
	})
	t.Run("bad length", func(t *testing.T) {
		answers, events, err := serve(t, "POST /api/publish HTTP/1.1\r\nContent-Length: -3\r\n\r\n")
		if err == nil || answers != "" || events != "" {
			t.Errorf("Content-Length -3: %v, answers %q, events %q: want refused, nothing written", err, answers, events)
		}
	})
}
