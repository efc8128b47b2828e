//go:build unix

package bench

import "syscall"

// fdLimit returns the soft limit on open files, 0 when unknown. (Go
// raises it to the hard limit when a program starts.)
func fdLimit() uint64 {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0
	}
	return l.Cur
}
