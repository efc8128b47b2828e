package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestLimitListener_CapsConnectionsPerAddress(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := newLimitListener(inner, 2, nil)
	defer ln.Close()
	accepted := make(chan net.Conn, 8)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	dial := func() net.Conn {
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	a, b := dial(), dial()
	sa, sb := <-accepted, <-accepted
	// A third connection from the same address is answered 429 and
	// closed at once.
	c := dial()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("a third connection: %v %v, want 429", resp, err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil || !strings.Contains(string(body), `"too_many_connections"`) {
		t.Fatalf("a third connection: body %q, %v", body, err)
	}
	// Closing one (twice, as net/http and a hijacker may) frees one place.
	sa.Close()
	sa.Close()
	dial()
	if got := <-accepted; got == nil {
		t.Fatal("no connection accepted after one closed")
	}
	_, _ = a, b
	sb.Close()
}
