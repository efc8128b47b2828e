//go:build unix

package main

import "syscall"

// mkfifo creates a FIFO only its owner can use.
func mkfifo(path string) error { return syscall.Mkfifo(path, 0o600) }
