//go:build unix

package halley

import (
	"net"
	"syscall"
)

// rawSock writes a connection's socket without waiting for it.
type rawSock struct{ rc syscall.RawConn }

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
	return &rawSock{rc}
}

// try writes what the socket takes of b now, and returns how much.
func (s *rawSock) try(b []byte) (int, error) {
	var n int
	var err error
	werr := s.rc.Write(func(fd uintptr) bool {
		for {
			n, err = syscall.Write(int(fd), b)
			if err != syscall.EINTR {
				return true // done, even when the socket is full
			}
		}
	})
	switch {
	case werr != nil:
		return 0, werr
	case err == syscall.EAGAIN:
		return 0, nil
	case err != nil:
		return 0, &net.OpError{Op: "write", Net: "tcp", Err: err}
	}
	return n, nil
}
