package main

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
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

// TestLimitListener_KeepsTheSocket: a counted connection is still a
// syscall.Conn with the socket's descriptor, so the hub's writers write
// its streams (without it every stream of a server with the default cap
// would need a goroutine per message).
func TestLimitListener_KeepsTheSocket(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := newLimitListener(inner, 2, nil)
	defer ln.Close()
	c, err := net.Dial("tcp", inner.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	if _, ok := sc.(*limitedConn); !ok {
		t.Fatalf("accepted a %T, want a counted connection", sc)
	}
	want := fdOf(t, sc.(*limitedConn).Conn.(syscall.Conn))
	if got := fdOf(t, sc.(syscall.Conn)); got != want {
		t.Fatalf("SyscallConn's descriptor %d, want the socket's %d", got, want)
	}
	if _, err := rawConnOf(struct{ net.Conn }{sc}); !errors.Is(err, errNoSocket) {
		t.Fatalf("a connection without a socket: %v, want errNoSocket", err)
	}
}

// fdOf returns the descriptor of sc's socket.
func fdOf(t *testing.T, sc syscall.Conn) uintptr {
	t.Helper()
	rc, err := sc.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var fd uintptr
	if err := rc.Control(func(f uintptr) { fd = f }); err != nil {
		t.Fatal(err)
	}
	return fd
}
