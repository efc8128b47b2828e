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
// polls every 20 µs for a millisecond or more, a tenth of the CPU of a
// server publishing a few thousand messages a second over HTTP
// (measured with perf: docs in README's performance section).
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

// WriteNow writes what rc's socket takes of b now, without waiting, and
// returns how much (0 and no error when it is full). Unlike TryWrite it
// holds the connection's descriptor for the call, so a Close cannot free
// it underneath.
func WriteNow(rc syscall.RawConn, b []byte) (int, error) {
	var n int
	var errno syscall.Errno
	err := rc.Write(func(fd uintptr) bool {
		for {
			n, errno = write(int(fd), b)
			if errno != syscall.EINTR {
				return true
			}
		}
	})
	switch {
	case err != nil:
		return 0, err
	case errno == syscall.EAGAIN:
		return 0, nil
	case errno != 0:
		return 0, &net.OpError{Op: "write", Net: "tcp", Err: errno}
	}
	return n, nil
}

// Read reads into p from rc's socket, waiting in the runtime's poller
// while there is nothing to read, under the connection's read deadline
// (a deadline's error satisfies net.Error's Timeout). It returns io.EOF
// when the peer closed its side.
func Read(rc syscall.RawConn, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	var n int
	var errno syscall.Errno
	err := rc.Read(func(fd uintptr) bool {
		for {
			n, errno = read(int(fd), p)
			switch errno {
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				return false // wait for the socket
			}
			return true
		}
	})
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

// Write writes all of b to rc's socket, waiting in the runtime's poller
// while the socket is full, under the connection's write deadline. It
// returns how much it wrote, and an error when that is not all.
func Write(rc syscall.RawConn, b []byte) (int, error) {
	var done int
	var errno syscall.Errno
	err := rc.Write(func(fd uintptr) bool {
		for done < len(b) {
			n, e := write(int(fd), b[done:])
			switch e {
			case 0:
				done += n
			case syscall.EINTR:
			case syscall.EAGAIN:
				return false // wait for room
			default:
				errno = e
				return true
			}
		}
		return true
	})
	switch {
	case err != nil:
		return done, err
	case errno != 0:
		return done, &net.OpError{Op: "write", Net: "tcp", Err: errno}
	case done < len(b):
		return done, io.ErrShortWrite
	}
	return done, nil
}
