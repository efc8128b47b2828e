package redistest

import "syscall"

// childAttr makes a server die with the test process, even when the test
// binary is killed or panics before its cleanups (a test timeout).
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
