//go:build !unix

package sockio

import "syscall"

// supported: elsewhere Of reports no socket, and the callers use the
// connection's own Read and Write.
const supported = false

func write(int, []byte) (int, syscall.Errno) { return 0, syscall.EINVAL }

func read(int, []byte) (int, syscall.Errno) { return 0, syscall.EINVAL }
