package main

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// The binary some tests build (halleyBinary) goes with them.
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		if buildOnce.dir != "" {
			_ = os.RemoveAll(buildOnce.dir)
		}
		os.Exit(code)
	}))
}
