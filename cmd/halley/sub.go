package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/halleyhq/halley/client"
)

func runSub(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sub", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: halley sub [flags] CHANNEL...

Reads the channels and prints one JSON object per line:

  {"channel":"news","offset":42,"data":{"title":"hello"}}   a message
  {"channel":"news","offset":43,"data":"plain text"}        (data: the payload
                                                           as JSON when it is
                                                           JSON, else a string)
  {"channel":"news","offset":57,"gap":"channel_full"}      messages up to offset
                                                           were lost; reading
                                                           goes on after it
  {"channel":"news","ended":"channel_ended"}               the channel is over

A channel that does not exist yet is waited for (said on stderr), then
read from its start.

With --token, sub presents a client token: a channel it does not allow
prints {"channel":"secret","ended":"forbidden"}, and a refused token
(invalid_token, token_expired, forbidden) exits 1. The token is not
renewed: when it expires, the server ends the stream, and sub exits 1.

Reconnects by itself, resuming where it stopped, and runs until it is
interrupted or every channel has ended (exit 0). On the way out it prints
its position on stderr as "halley sub: resume with --cursor '...'": a new
"halley sub --cursor '...'" goes on exactly after the last message printed.

flags:
`)
		fs.PrintDefaults()
	}
	server, transport, token := clientFlags(fs)
	last := fs.Int("last", 0, "start with the last `N` retained messages (default: from now)")
	cursorFlag := fs.String("cursor", "", "resume from `CURSOR` (as printed on exit); its channels are read too")
	tr, code, ok := parseClientFlags("sub", fs, args, transport, stderr)
	if !ok {
		return code
	}
	if *last < 0 {
		fmt.Fprintln(stderr, "halley sub: --last must not be negative")
		return 2
	}
	cur, err := client.ParseCursor(*cursorFlag)
	if err != nil {
		fmt.Fprintf(stderr, "halley sub: --cursor: %v\n", err)
		return 2
	}
	if fs.NArg() == 0 && len(cur) == 0 {
		fmt.Fprintln(stderr, "halley sub: no channel")
		fs.Usage()
		return 2
	}

	c := client.New(*server, client.Options{
		Transport: tr,
		Token:     tokenOption(*token),
		Logger:    slog.New(slog.NewTextHandler(&lockedWriter{w: stderr}, nil)),
	})
	live := map[string]bool{}
	for _, id := range fs.Args() {
		if id == "" {
			fmt.Fprintln(stderr, "halley sub: empty channel name")
			return 2
		}
		if _, resumed := cur[id]; !resumed {
			c.Subscribe(id, client.From{Last: *last})
			live[id] = true
		}
	}
	for id, p := range cur {
		c.Subscribe(id, client.FromPosition(p))
		live[id] = true
	}
	defer func() {
		if pos := c.Positions(); len(pos) > 0 {
			fmt.Fprintf(stderr, "halley sub: resume with --cursor '%s'\n", pos.String())
		}
	}()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	code = 0
	// A channel that does not exist yet is waited for: asked again every
	// second, from its start, since all it will carry is new to us.
	var retries []*time.Timer
	defer func() {
		for _, t := range retries {
			t.Stop()
		}
	}()
	// seen channels were there: "unknown" then means they are gone.
	waiting, seen := map[string]bool{}, map[string]bool{}
	emit := func(ev client.Event) {
		if code != 0 {
			return
		}
		if ev.Type == client.EventSubscribed || ev.Type == client.EventMsg {
			seen[ev.Channel] = true
		}
		if ev.Type == client.EventEnded && ev.Reason == "unknown_channel" && live[ev.Channel] && !seen[ev.Channel] {
			if !waiting[ev.Channel] {
				waiting[ev.Channel] = true
				fmt.Fprintf(stderr, "halley sub: channel %q does not exist yet: waiting for it\n", ev.Channel)
			}
			id := ev.Channel
			retries = append(retries, time.AfterFunc(time.Second, func() {
				var start uint64
				c.Subscribe(id, client.From{After: &start})
			}))
			return
		}
		line, ok := subLine(ev)
		if !ok {
			return
		}
		if err := enc.Encode(line); err != nil {
			fmt.Fprintf(stderr, "halley sub: %v\n", err)
			code = 1
			cancel()
			return
		}
		if ev.Type == client.EventEnded {
			delete(live, ev.Channel)
			if len(live) == 0 {
				cancel()
			}
		}
	}
	return pump("sub", c, done, emit, &code, stderr)
}

// subLine returns the output line of ev, false for events not printed.
func subLine(ev client.Event) (any, bool) {
	switch ev.Type {
	case client.EventMsg:
		return struct {
			Channel string          `json:"channel"`
			Offset  uint64          `json:"offset"`
			Data    json.RawMessage `json:"data"`
		}{ev.Channel, ev.Offset, payloadJSON(ev.Data)}, true
	case client.EventGap:
		return struct {
			Channel string `json:"channel"`
			Offset  uint64 `json:"offset"`
			Gap     string `json:"gap"`
		}{ev.Channel, ev.Offset, ev.Reason}, true
	case client.EventEnded:
		return struct {
			Channel string `json:"channel"`
			Ended   string `json:"ended"`
		}{ev.Channel, ev.Reason}, true
	}
	return nil, false
}

// payloadJSON returns data itself when it is JSON, else data as a JSON
// string (invalid UTF-8 becomes U+FFFD).
func payloadJSON(data []byte) json.RawMessage {
	if json.Valid(data) {
		return data // Encode compacts it onto one line
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(string(data)) // a string always encodes
	return bytes.TrimSuffix(b.Bytes(), []byte{'\n'})
}
