//go:build !linux

package redistest

import "syscall"

// childAttr: elsewhere, the cleanups alone stop the servers.
func childAttr() *syscall.SysProcAttr { return nil }
