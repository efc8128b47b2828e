package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/halleyhq/halley/client"
)

// defaultServer is the server pub and sub talk to without --server.
const defaultServer = "http://127.0.0.1:8080"

// pubTimeout bounds a publication.
const pubTimeout = 30 * time.Second

func runPub(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pub", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: halley pub [flags] CHANNEL DATA

Publishes DATA on CHANNEL through the server's HTTP API and prints
{"offset":N,"delivered":K}. DATA that is valid JSON is published as JSON
(compacted); any other DATA as text. A CHANNEL that does not exist is
created first, as a broadcast channel (said on stderr), unless
--create=false.

flags:
`)
		fs.PrintDefaults()
	}
	server := fs.String("server", defaultServer, "base `URL` of the server")
	key := fs.String("api-key", "", "`key` for the HTTP API (default $HALLEY_API_KEY)")
	create := fs.Bool("create", true, "create the channel (broadcast) when it does not exist")
	if err := parseCommand(fs, args, os.LookupEnv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() != 2 {
		fmt.Fprintf(stderr, "halley pub: want CHANNEL and DATA, got %d arguments\n", fs.NArg())
		fs.Usage()
		return 2
	}
	if *key == "" {
		*key = os.Getenv("HALLEY_API_KEY")
	}

	hc := &http.Client{Transport: &http.Transport{Proxy: http.ProxyFromEnvironment}}
	defer hc.CloseIdleConnections()
	api := &client.API{URL: *server, Key: *key, HTTPClient: hc}
	ctx, cancel := context.WithTimeout(ctx, pubTimeout)
	defer cancel()
	channel, data := fs.Arg(0), []byte(fs.Arg(1))
	off, delivered, err := api.Publish(ctx, channel, data)
	if ae, ok := errors.AsType[*client.APIError](err); ok && ae.Reason == "unknown_channel" && *create {
		if _, cerr := api.CreateChannel(ctx, channel, "broadcast", 0); cerr != nil {
			if ce, ok := errors.AsType[*client.APIError](cerr); !ok || ce.Reason != "name_taken" {
				fmt.Fprintf(stderr, "halley pub: create %q: %s\n", channel, describe(cerr))
				return 1
			}
		} else {
			fmt.Fprintf(stderr, "halley pub: created channel %q (broadcast)\n", channel)
		}
		off, delivered, err = api.Publish(ctx, channel, data)
	}
	if err != nil {
		fmt.Fprintf(stderr, "halley pub: %s\n", describe(err))
		return 1
	}
	fmt.Fprintf(stdout, "{\"offset\":%d,\"delivered\":%d}\n", off, delivered)
	return 0
}

// describe says what went wrong, the server's reason first.
func describe(err error) string {
	var ae *client.APIError
	if errors.As(err, &ae) && ae.Reason != "" {
		return fmt.Sprintf("%s (%d): %s", ae.Reason, ae.Status, ae.Message)
	}
	return err.Error()
}
