package main

import "syscall"

// childAttr makes a node started by a test die with the test process, even
// when the test binary panics before its cleanups (a test timeout).
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
