package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/halleyhq/halley/client"
	"github.com/halleyhq/halley/internal/bench"
)

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: halley bench [flags] --subscribers N --messages M
       halley bench [flags] --cases [--only NAME,…] [--scale F]

Measures a server on this machine: creates broadcast channels through the
HTTP API, connects N subscribers (subscriber j reads channel j % channels),
publishes M messages (message i to channel i % channels, by publisher
i % publishers) and checks that each subscriber gets its channel's
messages once, each publisher's in order. With --messages 0 it only
connects, for the connection time and rate and, with --server-pid, the
server's memory per idle connection and CPU time per connection (run it
with and without --token to see what checking tokens costs).
--server-pid also reports the server's CPU time (from /proc, in ticks of
10 ms: USER_HZ is taken to be 100). On Linux every run also reports the
share of the machine's time its host stole meanwhile (steal in
/proc/stat): on a shared virtual machine, runs with more are dearer.

Several servers (nodes sharing one broker, such as Redis): repeat
--server (or separate URLs with commas), and --server-pid in the same
order; subscriber j connects to server j % servers, each channel's
messages are published through the servers in turn, and the JSON line
has each server's figures under "servers" beside the totals.

--cases runs the standard cases one after the other (`+strings.Join(bench.CaseNames(), ", ")+`;
--only picks some, --scale multiplies their subscribers, channels and
messages) and prints a table on stdout, or with --json one JSON line per
case.

--floor measures this machine instead of a server: --subscribers
loopback connections to a sink process (halley bench-sink, which reads
them as the bench reads --raw subscribers), one write of
an SSE event per connection per message (--messages, at --rate), from
GOMAXPROCS goroutines, and this process's CPU per write: what a delivery
that gathers nothing costs at the least.
--floor-publish measures the floor of an HTTP publish instead: this
process serves --messages requests of the bench's shape from --publishers
publishers of the sink process (each one request at a time), with a
fixed answer and one write of the event to one of --subscribers
connections, as plainly as Go allows; its CPU per publish is what the
publish-2k case costs a server at the least (--subscribers 2000
--messages 20000; --rate is not used).

Prints a progress line every second and a summary on stderr, and one line
of JSON with every figure on stdout. Exit status: 0 when nothing was lost,
duplicated or out of order, 1 otherwise or on failure, 2 for a bad command
line (or a server that is not on a loopback address).

flags:
`)
		fs.PrintDefaults()
	}
	var cfg bench.Config
	var servers urlList
	var pids pidList
	fs.Var(&servers, "server", "base `URL` of the server, a loopback address only; repeat it or separate URLs with commas for several servers (default "+defaultServer+")")
	fs.StringVar(&cfg.APIKey, "api-key", "", "`key` for the HTTP API (default $HALLEY_API_KEY)")
	fs.StringVar(&cfg.Token, "token", "", "client `token` every subscriber presents, allowing channels bench-* (default $"+tokenEnv+")")
	fs.IntVar(&cfg.Subscribers, "subscribers", 0, "number of subscribers, each on its own connection (required)")
	fs.IntVar(&cfg.Messages, "messages", 0, "number of messages to publish; 0 measures idle connections only")
	fs.IntVar(&cfg.Channels, "channels", bench.DefaultChannels, "number of channels")
	fs.Float64Var(&cfg.Rate, "rate", 0, "publications per second (default as fast as the server takes them)")
	fs.IntVar(&cfg.Publishers, "publishers", bench.DefaultPublishers, "concurrent publishers, each one request at a time on a kept-alive connection")
	fs.IntVar(&cfg.Batch, "batch", 1, "messages per publish request (a batch publish, at most 1000)")
	floorPublish := fs.Bool("floor-publish", false, "measure the floor of an HTTP publish instead of a server: --messages requests from --publishers publishers of a sink process, each answered and its event written to one of --subscribers connections, and this process's CPU per publish")
	floor := fs.Bool("floor", false, "measure the floor instead of a server: one write of an event per connection per message, to --subscribers loopback connections of a sink process, and this process's CPU per write")
	fs.BoolVar(&cfg.Stream, "stream", false, "publish over publish streams (POST /api/publish/stream), one message at a time, instead of a request per message")
	transport := fs.String("transport", string(bench.DefaultTransport), "`transport` of the subscribers: ws, sse or poll")
	fs.BoolVar(&cfg.Raw, "raw", false, "subscribers read SSE as plain lines (one GET, then each data line holding a payload is a message): the same code against Halley and a --peer")
	fs.StringVar(&cfg.Peer, "peer", "", "measure another `server` instead of Halley, with raw SSE subscribers and one HTTP publish per message: "+bench.PeerCentrifugo+" (uni_sse enabled, --peer-secret its client.token.hmac_secret_key, --api-key its http_api.key)")
	fs.StringVar(&cfg.PeerSecret, "peer-secret", "", "with --peer, the `secret` that signs the subscribers' connection tokens")
	fs.Var(&pids, "server-pid", "`pid` of the server, to read its CPU time and memory from /proc; one per --server, in the same order")
	fs.IntVar(&cfg.Size, "size", bench.DefaultSize, "payload size in `bytes`")
	fs.DurationVar(&cfg.Timeout, "timeout", bench.DefaultTimeout, "bound on the whole run")
	quiet := fs.Bool("json", false, "print only the JSON line: no progress or summary on stderr")
	cases := fs.Bool("cases", false, "run the standard cases and print a table of their figures")
	var only list
	fs.Var(&only, "only", "with --cases, the comma-separated `names` of the cases to run (default all)")
	scale := fs.Float64("scale", 1, "with --cases, `factor` on each case's subscribers, channels and messages")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() != 0 {
		fmt.Fprintf(stderr, "halley bench: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	seen := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { seen[f.Name] = true })
	switch {
	case *cases:
		for _, name := range []string{"subscribers", "messages", "channels", "rate"} {
			if seen[name] {
				fmt.Fprintf(stderr, "halley bench: --%s and --cases: each case has its own\n", name)
				return 2
			}
		}
		if *scale <= 0 {
			fmt.Fprintln(stderr, "halley bench: --scale must be positive")
			return 2
		}
	case seen["only"] || seen["scale"]:
		fmt.Fprintln(stderr, "halley bench: --only and --scale go with --cases")
		return 2
	case !seen["subscribers"]:
		fmt.Fprintln(stderr, "halley bench: --subscribers is required")
		return 2
	}
	cfg.Servers, cfg.ServerPIDs = servers, pids
	if len(cfg.Servers) == 0 {
		cfg.Servers = []string{defaultServer}
	}
	tr, err := client.ParseTransport(*transport)
	if err != nil {
		fmt.Fprintf(stderr, "halley bench: %v\n", err)
		return 2
	}
	cfg.Transport = tr
	if cfg.Timeout <= 0 {
		fmt.Fprintln(stderr, "halley bench: --timeout must be positive")
		return 2
	}
	if cfg.APIKey == "" {
		cfg.APIKey = os.Getenv("HALLEY_API_KEY")
	}
	if cfg.Token == "" {
		cfg.Token = os.Getenv(tokenEnv)
	}

	progress := stderr
	if *quiet {
		progress = io.Discard
	}
	if *cases {
		return runBenchCases(ctx, cfg, only, *scale, *quiet, stdout, stderr)
	}
	if *floor || *floorPublish {
		switch {
		case *floor && *floorPublish:
			fmt.Fprintln(stderr, "halley bench: --floor and --floor-publish are two measurements: give one")
			return 2
		case *floorPublish && cfg.Publishers < 1:
			fmt.Fprintln(stderr, "halley bench: --floor-publish needs --publishers of 1 or more")
			return 2
		case !*floorPublish:
			cfg.Publishers = 0
		}
		return runFloor(ctx, cfg, stdout, stderr)
	}
	res, err := bench.Run(ctx, cfg, &lockedWriter{w: progress})
	if err != nil {
		fmt.Fprintf(stderr, "halley bench: %s\n", strings.TrimPrefix(describe(err), "bench: "))
		if errors.Is(err, bench.ErrConfig) {
			return 2
		}
		return 1
	}
	if !*quiet {
		res.WriteSummary(stderr)
	}
	line, err := json.Marshal(&res)
	if err != nil {
		fmt.Fprintf(stderr, "halley bench: %v\n", err)
		return 1
	}
	if _, err := fmt.Fprintf(stdout, "%s\n", line); err != nil {
		fmt.Fprintf(stderr, "halley bench: %v\n", err)
		return 1
	}
	if !res.OK() {
		return 1
	}
	return 0
}

// runFloor runs halley bench --floor: the sink is this program, run as
// "halley bench-sink".
func runFloor(ctx context.Context, cfg bench.Config, stdout, stderr io.Writer) int {
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "halley bench: %v\n", err)
		return 1
	}
	res, err := bench.Floor(ctx, bench.FloorConfig{Connections: cfg.Subscribers, Messages: cfg.Messages,
		Rate: cfg.Rate, Size: cfg.Size, Publishers: cfg.Publishers, Sink: []string{self, "bench-sink"}})
	if err != nil {
		fmt.Fprintf(stderr, "halley bench: %v\n", err)
		if errors.Is(err, bench.ErrConfig) {
			return 2
		}
		return 1
	}
	if res.Publishes > 0 {
		fmt.Fprintf(stderr, "bench: floor: %d publishes to %d connections, %.2f µs of CPU per publish (its read, answer and event)\n",
			res.Publishes, res.Connections, res.CPUUSPerPublish)
	} else {
		fmt.Fprintf(stderr, "bench: floor: %d writes to %d connections, %.0f writes/s, %.2f µs of CPU per write\n",
			res.Writes, res.Connections, res.WritesPerS, res.CPUUSPerWrite)
	}
	b, _ := json.Marshal(res)
	fmt.Fprintf(stdout, "%s\n", b)
	return 0
}

// runBenchSink is the floor's sink process (halley bench --floor runs it).
func runBenchSink(_ context.Context, _ []string, stdout, stderr io.Writer) int {
	if err := bench.ServeSink(os.Stdin, stdout); err != nil {
		fmt.Fprintf(stderr, "halley bench-sink: %v\n", err)
		return 1
	}
	return 0
}
