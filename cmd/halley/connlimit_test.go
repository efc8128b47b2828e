package main

import (
	"io"
	"net"
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
	// A third connection from the same address is closed at once.
	c := dial()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("a third connection: read %v, want EOF (closed by the server)", err)
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
