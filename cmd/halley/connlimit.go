package main

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"
)

// tooManyConnections is the answer to a connection over the cap.
const tooManyConnections = "HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: 92\r\n\r\n" +
	`{"error":"too_many_connections","message":"too many connections at a time from one address"}`

// limitListener caps the TCP connections open at once from one client
// address (an IPv6 /64), idle keep-alive connections and connections still
// sending their headers included: the hub's own per-address cap counts
// requests, and cannot see those. Connections from trusted proxies are not
// counted (the hub counts their clients by X-Forwarded-For). A connection
// over the cap is answered 429 too_many_connections (HTTP/1.1, written at
// once into its empty send buffer, nothing read) and closed.
type limitListener struct {
	net.Listener
	max     int
	trusted []netip.Prefix

	mu    sync.Mutex
	conns map[netip.Addr]int
}

func newLimitListener(ln net.Listener, max int, trusted []netip.Prefix) net.Listener {
	if max < 0 {
		return ln
	}
	return &limitListener{Listener: ln, max: max, trusted: trusted, conns: make(map[netip.Addr]int)}
}

// Accept implements net.Listener.
func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		key, counted := l.key(c.RemoteAddr())
		if !counted {
			return c, nil
		}
		if l.take(key) {
			return &limitedConn{Conn: c, l: l, key: key}, nil
		}
		_ = c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
		_, _ = io.WriteString(c, tooManyConnections)
		_ = c.Close()
	}
}

// key returns the address a connection counts against, or false for one
// that is not counted.
func (l *limitListener) key(a net.Addr) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}, false
	}
	ip := ap.Addr().Unmap()
	for _, p := range l.trusted {
		if p.Contains(ip) {
			return netip.Addr{}, false
		}
	}
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.Addr(), true
	}
	return ip, true
}

func (l *limitListener) take(key netip.Addr) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conns[key] >= l.max {
		return false
	}
	l.conns[key]++
	return true
}

func (l *limitListener) give(key netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conns[key]--; l.conns[key] <= 0 {
		delete(l.conns, key)
	}
}

// limitedConn gives its place back when closed (once: net/http and a
// hijacker may both close it).
type limitedConn struct {
	net.Conn
	l    *limitListener
	key  netip.Addr
	once sync.Once
}

// Close implements net.Conn.
func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.give(c.key) })
	return err
}

// SyscallConn returns the socket of the connection: its reads and
// writes are the socket's, so the hub's writers may write it without a
// goroutine per stream (a wrapper without it would cost every SSE and
// WebSocket stream of the server that pooling).
func (c *limitedConn) SyscallConn() (syscall.RawConn, error) {
	return rawConnOf(c.Conn)
}

// rawConnOf returns the socket of c, or an error for a connection that
// has none (syscall.Conn).
func rawConnOf(c net.Conn) (syscall.RawConn, error) {
	if sc, ok := c.(syscall.Conn); ok {
		return sc.SyscallConn()
	}
	return nil, errNoSocket
}

// errNoSocket is rawConnOf's error for a connection without a socket.
var errNoSocket = errors.New("halley: the connection has no socket")

// CloseWrite half-closes the connection, as net/http does before closing
// one whose request it did not read whole, so that the client reads the
// answer rather than a reset.
func (c *limitedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
