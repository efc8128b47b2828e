// Package sockio reads and writes the non-blocking sockets of the hot
// paths (a pooled stream's write, a taken-over publisher's requests and
// answers) with one system call each, and without the runtime's system
// call bookkeeping where the platform allows it (Linux).
//
// A socket of Go's net package never blocks: a read or a write that cannot
// go on returns EAGAIN at once, and the caller waits in the runtime's
// poller (syscall.RawConn's Read and Write, under the connection's
// deadlines). Such a call needs none of what the runtime does around a
// system call that may block (handing the processor over to another
// thread if it lasts), and on Linux it goes without: a plain system call
// also wakes the runtime's monitor thread from its deep sleep, which then
// polls every 20 µs for a millisecond or more: a fifth of the CPU of a
// server answering some 15 000 HTTP publishes a second (measured with
// perf, README's performance section).
//
// A connection qualifies when it is a syscall.Conn: its reads and writes
// are then its socket's. A wrapper that changes the bytes (TLS) must not
// be one.
package sockio

import (
	"io"
	"net"
	"syscall"
)

// Of returns c's socket, or nil for a connection that has none (not a
// syscall.Conn, or a platform where this package does not apply).
func Of(c net.Conn) syscall.RawConn {
	if !supported {
		return nil
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

// FD returns the descriptor of rc's socket, or -1. It stays valid while
// the connection is open; the caller makes sure it does not close under a
// use (see TryWrite).
func FD(rc syscall.RawConn) int {
	fd := -1
	if err := rc.Control(func(f uintptr) { fd = int(f) }); err != nil {
		return -1
	}
	return fd
}

// TryWrite writes what the socket fd takes of b now, and returns how
// much: 0 and no error when it takes nothing (it is full). The caller
// makes sure fd stays open, and is not reused, for the call: only the
// connection's owner closes it, never during a write.
func TryWrite(fd int, b []byte) (int, error) {
	for {
		n, errno := write(fd, b)
		switch errno {
		case 0:
			return n, nil
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return 0, nil
		}
		return 0, &net.OpError{Op: "write", Net: "tcp", Err: errno}
	}
}

// Conn reads and writes one connection's socket, waiting in the
// runtime's poller, under the connection's deadlines, when it must. Its
// reads are for one goroutine at a time, and so are its writes; it
// allocates nothing per call.
type Conn struct {
	rc syscall.RawConn
	// The read's buffer and outcome, for readFn.
	p      []byte
	n      int
	rerrno syscall.Errno
	readFn func(uintptr) bool
	// The write's bytes, progress and outcome, for writeFn and nowFn.
	b       []byte
	done    int
	werrno  syscall.Errno
	writeFn func(uintptr) bool
	nowFn   func(uintptr) bool
}

// NewConn returns the Conn of c's socket, or nil when c has none (see
// Of).
func NewConn(c net.Conn) *Conn {
	rc := Of(c)
	if rc == nil {
		return nil
	}
	s := &Conn{rc: rc}
	s.readFn, s.writeFn, s.nowFn = s.readOnce, s.writeAll, s.writeOnce
	return s
}

// Read reads into p, waiting while there is nothing to read (a deadline's
// error satisfies net.Error's Timeout). It returns io.EOF when the peer
// closed its side.
func (s *Conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	s.p, s.n, s.rerrno = p, 0, 0
	err := s.rc.Read(s.readFn)
	n, errno := s.n, s.rerrno
	s.p = nil
	switch {
	case err != nil:
		return 0, err
	case errno != 0:
		return 0, &net.OpError{Op: "read", Net: "tcp", Err: errno}
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

func (s *Conn) readOnce(fd uintptr) bool {
	for {
		s.n, s.rerrno = read(int(fd), s.p)
		switch s.rerrno {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false // wait for the socket
		}
		return true
	}
}

// Write writes all of b, waiting while the socket is full. It returns how
// much it wrote, and an error when that is not all.
func (s *Conn) Write(b []byte) (int, error) {
	done, err := s.write(b, s.writeFn)
	if err == nil && done < len(b) {
		err = io.ErrShortWrite
	}
	return done, err
}

// write runs the write f over b and returns how much it wrote and its
// error (none for a full socket).
func (s *Conn) write(b []byte, f func(uintptr) bool) (int, error) {
	s.b, s.done, s.werrno = b, 0, 0
	err := s.rc.Write(f)
	done, errno := s.done, s.werrno
	s.b = nil
	switch {
	case err != nil:
		return done, err
	case errno == syscall.EAGAIN:
		return done, nil
	case errno != 0:
		return done, &net.OpError{Op: "write", Net: "tcp", Err: errno}
	}
	return done, nil
}

func (s *Conn) writeAll(fd uintptr) bool {
	for s.done < len(s.b) {
		n, e := write(int(fd), s.b[s.done:])
		switch e {
		case 0:
			s.done += n
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false // wait for room
		default:
			s.werrno = e
			return true
		}
	}
	return true
}

// WriteNow writes what the socket takes of b now, without waiting, and
// returns how much (0 and no error when it is full). Unlike TryWrite it
// holds the connection's descriptor for the call, so a Close cannot free
// it underneath.
func (s *Conn) WriteNow(b []byte) (int, error) { return s.write(b, s.nowFn) }

func (s *Conn) writeOnce(fd uintptr) bool {
	for {
		n, e := write(int(fd), s.b)
		switch e {
		case 0:
			s.done = n
			return true
		case syscall.EINTR:
			continue
		}
		s.werrno = e // EAGAIN: the socket is full
		return true
	}
}
