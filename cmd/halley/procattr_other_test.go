//go:build !linux

package main

import "syscall"

// childAttr: elsewhere, the cleanups alone stop the nodes.
func childAttr() *syscall.SysProcAttr { return nil }
