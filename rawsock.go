package halley

import (
	"net"

	"github.com/halleyhq/halley/internal/sockio"
)

// rawSock writes a connection's socket without waiting for it: one
// write system call on its descriptor, without Go's poller around it
// (which locks the descriptor and looks at its state at each write, a
// tenth of a delivery's cost) and, on Linux, without the runtime's system
// call bookkeeping (package sockio). One goroutine at a time uses it (the
// stream's writer of the moment), and the connection closes only at the
// stream's end, on its owner, when no writer has the stream (sse.go,
// ws.go): the descriptor cannot close, and be reused, under a write. The
// connection itself stays referenced (its finalizer would close the
// descriptor).
type rawSock struct {
	fd int
}

// sockOf returns conn's socket, or nil for a connection without one (TLS,
// a wrapper that does not pass it on, a platform without sockio): its
// streams are written by a goroutine each.
func sockOf(conn net.Conn) *rawSock {
	rc := sockio.Of(conn)
	if rc == nil {
		return nil
	}
	fd := sockio.FD(rc)
	if fd < 0 {
		return nil
	}
	return &rawSock{fd: fd}
}

// try writes what the socket takes of b now, and returns how much.
func (s *rawSock) try(b []byte) (int, error) { return sockio.TryWrite(s.fd, b) }
