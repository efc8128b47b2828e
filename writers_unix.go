//go:build unix

package halley

import (
	"net"
	"syscall"
)

// rawSock writes a connection's socket without waiting for it. One
// goroutine at a time uses it (the stream's writer of the moment).
type rawSock struct {
	rc  syscall.RawConn
	fn  func(fd uintptr) bool // s.write, bound once
	b   []byte
	n   int
	err error
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
	s := &rawSock{rc: rc}
	s.fn = s.write
	return s
}

func (s *rawSock) write(fd uintptr) bool {
	for {
		s.n, s.err = syscall.Write(int(fd), s.b)
		if s.err != syscall.EINTR {
			return true // done, even when the socket is full
		}
	}
}

// try writes what the socket takes of b now, and returns how much.
func (s *rawSock) try(b []byte) (int, error) {
	s.b = b
	werr := s.rc.Write(s.fn)
	n, err := s.n, s.err
	s.b, s.err = nil, nil
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
