package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/halleyhq/halley/client"
)

// writeTimeout bounds a write, the connection included.
const writeTimeout = 30 * time.Second

func runWrite(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("write", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: halley write [flags] BUS DATA

Writes DATA to BUS as a client does, in a session of its own, so that the
bus's filter sees the writer, and prints {"offset":N}, the offset the
message got. DATA is written as is: readers get it as JSON when it is
valid JSON, else as text. With --transport ws the write goes on a
WebSocket (write frame); with sse or poll, by POST /write. A refusal
prints "halley write: <reason>: <message>" (reasons: rejected, with the
filter's reason as message, not_a_bus, unknown_channel,
message_too_large, forbidden for a bus the --token does not allow
writing to, invalid_token…) and exits 1.

flags:
`)
		fs.PrintDefaults()
	}
	server, transport, token := clientFlags(fs)
	tr, code, ok := parseClientFlags("write", fs, args, transport, stderr)
	if !ok {
		return code
	}
	if fs.NArg() != 2 {
		fmt.Fprintf(stderr, "halley write: want BUS and DATA, got %d arguments\n", fs.NArg())
		fs.Usage()
		return 2
	}
	bus, data := fs.Arg(0), []byte(fs.Arg(1))
	if bus == "" {
		fmt.Fprintln(stderr, "halley write: empty bus name")
		return 2
	}

	watch := &dialWatch{rt: &http.Transport{Proxy: http.ProxyFromEnvironment}, failed: make(chan struct{})}
	hc := &http.Client{Transport: watch}
	defer hc.CloseIdleConnections()
	c := client.New(*server, client.Options{
		Transport:  tr,
		HTTPClient: hc,
		Token:      tokenOption(*token),
		Logger:     slog.New(slog.NewTextHandler(&lockedWriter{w: stderr}, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	ctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	if tr == client.WebSocket {
		stop := connect(ctx, c, bus, watch.failed)
		defer stop()
	}
	off, err := c.Write(ctx, bus, data)
	if err != nil {
		var re *client.RefusedError
		if errors.As(err, &re) {
			fmt.Fprintf(stderr, "halley write: %s: %s\n", re.Reason, re.Message)
			if re.Reason == "unknown_channel" {
				fmt.Fprintf(stderr, "halley write: create the bus first: curl -X POST %s/api/buses -H 'Content-Type: application/json' -d '{\"name\":%q}' (or declare it in the config file)\n", strings.TrimSuffix(*server, "/"), bus)
			}
		} else {
			fmt.Fprintf(stderr, "halley write: %s\n", describe(err))
		}
		return 1
	}
	fmt.Fprintf(stdout, "{\"offset\":%d}\n", off)
	return 0
}

// connect runs c, subscribed to bus, until the returned stop is called,
// and returns once the WebSocket is connected (the first event came), or
// cannot be for now (failed is closed), or Run gave up, or ctx is done:
// Write then goes on the WebSocket if there is one, else over HTTP. The
// bus's messages are drained meanwhile, so that the connection reads the
// answer to the write whatever the bus carries.
func connect(ctx context.Context, c *client.Client, bus string, failed <-chan struct{}) (stop func()) {
	c.Subscribe(bus, client.From{})
	ctx, cancel := context.WithCancel(ctx)
	connected := make(chan struct{})
	ran := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(ran)
		_ = c.Run(ctx) // its failures show as the write's
	})
	wg.Go(func() {
		first := true
		for {
			select {
			case <-c.Events():
				if first {
					close(connected)
					first = false
				}
			case <-ctx.Done():
				return
			}
		}
	})
	select {
	case <-connected:
	case <-failed:
	case <-ran:
	case <-ctx.Done():
	}
	return func() {
		cancel()
		wg.Wait()
	}
}

// dialWatch is an HTTP transport that closes failed at its first request
// that fails or is refused (the WebSocket handshake answers 101).
type dialWatch struct {
	rt     *http.Transport
	once   sync.Once
	failed chan struct{}
}

func (d *dialWatch) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := d.rt.RoundTrip(req)
	if err != nil || res.StatusCode >= 300 {
		d.once.Do(func() { close(d.failed) })
	}
	return res, err
}

// CloseIdleConnections lets http.Client.CloseIdleConnections reach the
// wrapped transport.
func (d *dialWatch) CloseIdleConnections() { d.rt.CloseIdleConnections() }
