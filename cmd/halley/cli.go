package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
)

// command is a subcommand of halley.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

// commands lists the subcommands; adding one is adding a line. It is a
// function, not a variable, because help refers back to it.
func commands() []command {
	return []command{
		{"serve", "run the server (the default)", runServe},
		{"pub", "publish a message through the HTTP API", runPub},
		{"sub", "read channels and print their messages as JSON lines", runSub},
		{"write", "write to a bus as a client does, in a session", runWrite},
		{"listen", "listen on keys of a notifier and print the notifications", runListen},
		{"bench", "measure a server on this machine: fan-out, latency, CPU, memory", runBench},
		{"bench-sink", "the sink of halley bench --floor: reads and drops its connections' bytes", runBenchSink},
		{"token", "mint a client token (JWT) for trying out --token-* settings", runToken},
		{"version", "print the version and the commit it was built from", runVersion},
		{"help", "show this help", runHelp},
	}
}

// run is the whole program: it dispatches args to a subcommand and returns
// the exit code (0 ok, 1 failure, 2 bad usage). Bare "halley", or flags
// without a subcommand, serves.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "-h", "-help", "--help":
			// The commands, then the flags of the default one.
			usage(stdout)
			fmt.Fprintln(stdout)
			return runServe(ctx, []string{"-h"}, stdout, stdout)
		case "-version", "--version":
			return runVersion(ctx, args[1:], stdout, stderr)
		}
	}
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return runServe(ctx, args, stdout, stderr)
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "halley: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func runHelp(_ context.Context, _ []string, stdout, _ io.Writer) int {
	usage(stdout)
	return 0
}

// usage writes the list of subcommands.
func usage(w io.Writer) {
	fmt.Fprint(w, "usage: halley [command] [flags]\n\ncommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, "\nRun \"halley serve -h\" for the server's flags, \"halley COMMAND -h\" for a\ncommand's. Every flag can also be set by an environment variable,\nHALLEY_<FLAG> (--api-key: HALLEY_API_KEY); a flag given wins.\n")
}

// lockedWriter serializes writes from the server's goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
