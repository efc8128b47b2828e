//go:build !unix

package main

import "errors"

// mkfifo fails: command pipes need a Unix system.
func mkfifo(string) error { return errors.New("FIFOs are not supported on this system") }
