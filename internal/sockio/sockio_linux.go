package sockio

import (
	"syscall"
	"unsafe"
)

// supported: Linux sockets are read and written here.
const supported = true

// write is send(2) (sendto without an address), without the runtime's
// bookkeeping (see the package's doc): the socket never blocks. A send
// goes straight to the socket, past the file layer that write(2) goes
// through (a tenth of the kernel's part of a small loopback write), and
// MSG_NOSIGNAL spares the signal of a write to a connection the peer
// reset. A descriptor that is not a socket is written with write(2).
func write(fd int, b []byte) (int, syscall.Errno) {
	r, _, e := syscall.RawSyscall6(syscall.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)), syscall.MSG_NOSIGNAL, 0, 0)
	if e == syscall.ENOTSOCK {
		r, _, e = syscall.RawSyscall(syscall.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)))
	}
	if e != 0 {
		return 0, e
	}
	return int(r), 0
}

// read is recv(2) (recvfrom without an address), the same way; read(2)
// for a descriptor that is not a socket.
func read(fd int, b []byte) (int, syscall.Errno) {
	r, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)), 0, 0, 0)
	if e == syscall.ENOTSOCK {
		r, _, e = syscall.RawSyscall(syscall.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)))
	}
	if e != 0 {
		return 0, e
	}
	return int(r), 0
}
