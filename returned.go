package halley

import (
	"net"
	"sync"
	"time"
)

// ReturnedConns returns the listener of the connections that the hub, or
// a handler beside it, took over from net/http and hands back: those of
// answered long polls, and those of the HTTP API's taken-over publishers
// (httpapi.Options.TakeOver). Serve it with the server that serves the
// hub's handler (go srv.Serve(hub.ReturnedConns())): from the first call
// on, waiting long polls over HTTP/1.1 are parked (each costs a few KB
// instead of ~30 KB) and their connections come back through it. Its
// Close (srv.Shutdown closes it) closes the connections returned after.
// Without a call, long polls wait in their handler, as net/http has them.
//
// A connection given back is new to the server, not idle: srv.Shutdown
// waits for it to send its next request (up to 5 s), unless its client
// closes it first. The hub's Shutdown answers parked polls and closes
// their connections, so call it before srv.Shutdown.
func (h *Hub) ReturnedConns() net.Listener {
	h.returnedOnce.Do(func() {
		l := &returnedListener{ch: make(chan net.Conn), done: make(chan struct{})}
		h.returned.Store(l)
	})
	return h.returned.Load()
}

// ReturnsConns reports whether ReturnedConns was called: whether a
// connection taken over from net/http can be given back (GiveBack).
func (h *Hub) ReturnsConns() bool { return h.returned.Load() != nil }

// GiveBack hands c, a connection a handler took over from net/http
// (http.ResponseController.Hijack), back to the server that serves
// ReturnedConns, which serves it as a new connection. buffered holds
// bytes already read from c, such as the start of the client's next
// request: the server reads them first. GiveBack reports false, and
// closes c, when nobody takes it: ReturnedConns was never called, its
// listener is closed, or no Accept came within a second.
func (h *Hub) GiveBack(c net.Conn, buffered []byte) bool {
	l := h.returned.Load()
	if l == nil {
		_ = c.Close()
		return false
	}
	if len(buffered) > 0 {
		c = &prefixConn{Conn: c, pre: buffered}
	}
	return l.give(c)
}

// returnedListener hands connections back to net/http.
type returnedListener struct {
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

// Accept implements net.Listener.
func (l *returnedListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close implements net.Listener.
func (l *returnedListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

// Addr implements net.Listener.
func (l *returnedListener) Addr() net.Addr { return returnedAddr{} }

type returnedAddr struct{}

func (returnedAddr) Network() string { return "halley" }
func (returnedAddr) String() string  { return "returned connections" }

// returnWait is how long a connection waits for net/http to take it
// back (Serve accepts at once while it runs) before it is closed.
const returnWait = time.Second

// give hands c back to net/http, or closes it when nobody takes it, and
// reports whether it was taken.
func (l *returnedListener) give(c net.Conn) bool {
	t := time.NewTimer(returnWait)
	defer t.Stop()
	select {
	case l.ch <- c:
		return true
	case <-l.done:
	case <-t.C:
	}
	_ = c.Close()
	return false
}

// prefixConn is a connection given back with bytes already read from
// it, which its reads return first.
type prefixConn struct {
	net.Conn
	pre []byte
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.pre) > 0 {
		n := copy(p, c.pre)
		if c.pre = c.pre[n:]; len(c.pre) == 0 {
			c.pre = nil
		}
		return n, nil
	}
	return c.Conn.Read(p)
}

// CloseWrite shuts the writing side down, when the connection can
// (net/http does so before closing after an error answer, for the client
// to read it whole).
func (c *prefixConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return c.Conn.Close()
}
