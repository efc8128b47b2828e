package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/halleyhq/halley/client"
)

// listenTimeout bounds the listen requests made before reading.
const listenTimeout = 30 * time.Second

func runListen(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("listen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: halley listen [flags] NOTIFIER KEY...

Listens on the keys of NOTIFIER, as a client does, in a session of its own,
and prints one JSON object per line:

  {"notifier":"docs","key":"42","data":{"title":"v2"}}   a notification (data:
                                                        as JSON when it is
                                                        JSON, else a string)
  {"notifier":"docs","gap":"channel_full","offset":57}  notifications up to
                                                        offset 57 of the
                                                        session's notification
                                                        channel were lost
  {"notifier":"docs","gap":"session_closed","offset":3} the session was lost
                                                        with its notifications;
                                                        listening goes on in a
                                                        new one

Reconnects by itself, resuming where it stopped, and runs until it is
interrupted (exit 0). A refused listen (unknown_notifier,
invalid_options, forbidden for a key the --token does not allow,
invalid_token…) prints "halley listen: <reason>: <message>" and exits 1.

flags:
`)
		fs.PrintDefaults()
	}
	server, transport, token := clientFlags(fs)
	tr, code, ok := parseClientFlags("listen", fs, args, transport, stderr)
	if !ok {
		return code
	}
	if fs.NArg() < 2 {
		fmt.Fprintf(stderr, "halley listen: want NOTIFIER and at least one KEY, got %d arguments\n", fs.NArg())
		fs.Usage()
		return 2
	}
	notifier, keys := fs.Arg(0), fs.Args()[1:]
	if notifier == "" {
		fmt.Fprintln(stderr, "halley listen: empty notifier name")
		return 2
	}
	for _, k := range keys {
		if k == "" {
			fmt.Fprintln(stderr, "halley listen: empty key")
			return 2
		}
	}

	c := client.New(*server, client.Options{
		Transport: tr,
		Token:     tokenOption(*token),
		Logger:    slog.New(slog.NewTextHandler(&lockedWriter{w: stderr}, nil)),
	})
	// Listening before Run connects goes by POST /listen: the first one
	// makes the session, and Run then reads its notification channel from
	// the start, so that nothing sent meanwhile is missed.
	lctx, cancel := context.WithTimeout(ctx, listenTimeout)
	for _, k := range keys {
		if err := c.Listen(lctx, notifier, k); err != nil {
			cancel()
			if ctx.Err() != nil {
				return 0
			}
			var re *client.RefusedError
			if errors.As(err, &re) {
				fmt.Fprintf(stderr, "halley listen: %s: %s\n", re.Reason, re.Message)
				if re.Reason == "unknown_notifier" {
					fmt.Fprintf(stderr, "halley listen: create the notifier first: curl -X POST %s/api/notifiers -H 'Content-Type: application/json' -d '{\"name\":%q}' (or declare it in the config file)\n", strings.TrimSuffix(*server, "/"), notifier)
				}
			} else {
				fmt.Fprintf(stderr, "halley listen: %s\n", describe(err))
			}
			return 1
		}
	}
	cancel()

	ctx, cancel = context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	code = 0
	emit := func(ev client.Event) {
		if code != 0 {
			return
		}
		line, ok := listenLine(notifier, ev)
		if !ok {
			return
		}
		if err := enc.Encode(line); err != nil {
			fmt.Fprintf(stderr, "halley listen: %v\n", err)
			code = 1
			cancel()
		}
	}
	return pump("listen", c, done, emit, &code, stderr)
}

// listenLine returns the output line of ev, false for events not printed.
// The client reads nothing but the session's notification channel, so
// every gap is one of notifications.
func listenLine(notifier string, ev client.Event) (any, bool) {
	switch ev.Type {
	case client.EventNotify:
		return struct {
			Notifier string          `json:"notifier"`
			Key      string          `json:"key"`
			Data     json.RawMessage `json:"data"`
		}{ev.Notifier, ev.Key, payloadJSON(ev.Data)}, true
	case client.EventGap:
		return struct {
			Notifier string `json:"notifier"`
			Gap      string `json:"gap"`
			Offset   uint64 `json:"offset"`
		}{notifier, ev.Reason, ev.Offset}, true
	}
	return nil, false
}
