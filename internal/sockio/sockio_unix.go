//go:build unix && !linux

package sockio

import "syscall"

// supported: other unix systems read and write their sockets here too,
// with plain system calls.
const supported = true

func write(fd int, b []byte) (int, syscall.Errno) { return errno(syscall.Write(fd, b)) }

func read(fd int, b []byte) (int, syscall.Errno) { return errno(syscall.Read(fd, b)) }

func errno(n int, err error) (int, syscall.Errno) {
	if err == nil {
		return n, 0
	}
	if e, ok := err.(syscall.Errno); ok {
		return 0, e
	}
	return 0, syscall.EIO
}
