package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/halleyhq/halley/client"
)

// clientFlags declares the flags of the commands that speak the client
// protocol: --server and --transport.
func clientFlags(fs *flag.FlagSet) (server, transport *string) {
	server = fs.String("server", defaultServer, "base `URL` of the server")
	transport = fs.String("transport", string(client.WebSocket), "`transport`: ws, sse or poll")
	return server, transport
}

// parseClientFlags parses args and the transport. It returns the
// transport, or the exit code when the command must stop (0 for -h).
func parseClientFlags(name string, fs *flag.FlagSet, args []string, transport *string, stderr io.Writer) (client.Transport, int, bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return "", 0, false
		}
		return "", 2, false
	}
	tr, err := client.ParseTransport(*transport)
	if err != nil {
		fmt.Fprintf(stderr, "halley %s: %v\n", name, err)
		return "", 2, false
	}
	return tr, 0, true
}

// pump hands each event of c to emit until Run (whose result comes on
// done) returns, then what Run handed over before it stopped. It returns
// the exit code: 1 when Run failed, else *code, which emit may set.
func pump(name string, c *client.Client, done <-chan error, emit func(client.Event), code *int, stderr io.Writer) int {
	for {
		select {
		case ev := <-c.Events():
			emit(ev)
		case err := <-done:
			for n := len(c.Events()); n > 0; n-- {
				emit(<-c.Events())
			}
			if err != nil {
				fmt.Fprintf(stderr, "halley %s: %s\n", name, describe(err))
				return 1
			}
			return *code
		}
	}
}
