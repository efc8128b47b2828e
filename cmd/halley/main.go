// Command halley is the Halley server: the Ocsigen-compatible comet
// transport for browsers, a JSON HTTP API for backends, an Ocsigen-style
// command pipe and a demo page.
//
// Usage:
//
//	halley [serve] [flags]
//	halley help
//
// See docs/server.md for the flags, the configuration file and the API.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
