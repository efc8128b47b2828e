package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/halleyhq/halley/client"
)

// tokenEnv holds the default of the client commands' --token.
const tokenEnv = "HALLEY_TOKEN"

// clientFlags declares the flags of the commands that speak the client
// protocol: --server, --transport and --token.
func clientFlags(fs *flag.FlagSet) (server, transport, token *string) {
	server = fs.String("server", defaultServer, "base `URL` of the server")
	transport = fs.String("transport", string(client.WebSocket), "`transport`: ws, sse or poll")
	token = fs.String("token", "", "client `token` (such as a JWT: see halley token), sent as \"Authorization: Bearer\" (default $"+tokenEnv+")")
	return server, transport, token
}

// tokenOption returns the Options.Token of the --token flag's value, or of
// $HALLEY_TOKEN when it is empty; nil when both are.
func tokenOption(flagValue string) func(context.Context) (string, error) {
	if flagValue == "" {
		flagValue = os.Getenv(tokenEnv)
	}
	if flagValue == "" {
		return nil
	}
	return client.StaticToken(flagValue)
}

// parseClientFlags parses args and the transport. It returns the
// transport, or the exit code when the command must stop (0 for -h).
func parseClientFlags(name string, fs *flag.FlagSet, args []string, transport *string, stderr io.Writer) (client.Transport, int, bool) {
	if err := parseCommand(fs, args, os.LookupEnv); err != nil {
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
