//go:build unix

package halley

import (
	"net"
	"syscall"
)

// rawSock writes a connection's socket without waiting for it: one
// write system call on its descriptor, without Go's poller around it
// (which locks the descriptor and looks at its state at each write, a
// tenth of a delivery's cost). One goroutine at a time uses it (the
// stream's writer of the moment), and the connection closes only at the
// stream's end, on its owner, when no writer has the stream (sse.go,
// ws.go): the descriptor cannot close, and be reused, under a write. The
// connection itself stays referenced (its finalizer would close the
// descriptor).
type rawSock struct {
	fd int
}

// sockOf returns conn's socket, or nil for a connection without one (TLS).
func sockOf(conn net.Conn) *rawSock {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return newRawSock(rc)
}

func newRawSock(rc syscall.RawConn) *rawSock {
	s := &rawSock{fd: -1}
	if err := rc.Control(func(fd uintptr) { s.fd = int(fd) }); err != nil || s.fd < 0 {
		return nil
	}
	return s
}

// try writes what the socket takes of b now, and returns how much.
func (s *rawSock) try(b []byte) (int, error) {
	for {
		n, err := syscall.Write(s.fd, b)
		switch err {
		case nil:
			return n, nil
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return 0, nil
		}
		return 0, &net.OpError{Op: "write", Net: "tcp", Err: err}
	}
}
