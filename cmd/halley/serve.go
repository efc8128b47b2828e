package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/hooks"
	"github.com/halleyhq/halley/httpapi"
	"github.com/halleyhq/halley/metrics"
)

// shutdownTimeout bounds the graceful shutdown.
const shutdownTimeout = 10 * time.Second

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseServeFlags(args, stderr, os.LookupEnv)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errFlags):
		return 2
	case err != nil:
		fmt.Fprintf(stderr, "halley: %v\n", err)
		return 2
	}
	return serve(ctx, cfg, stdout, stderr)
}

// serve runs the server until ctx is done, then shuts down gracefully.
// Plain status lines ("halley: …") go to stdout, structured logs to
// stderr.
func serve(ctx context.Context, cfg config, stdout, stderr io.Writer) int {
	out := &lockedWriter{w: stdout}
	logf := func(format string, args ...any) {
		fmt.Fprintf(out, "halley: "+format+"\n", args...)
	}
	log := cfg.opsConfig.logger(&lockedWriter{w: stderr})

	var pipe *os.File
	if cfg.CommandPipe != "" {
		var err error
		if pipe, err = openCommandPipe(cfg.CommandPipe); err != nil {
			fmt.Fprintf(stderr, "halley: %v\n", err)
			return 2
		}
		defer pipe.Close()
	}

	hc := halley.Config{
		MaxChannels:    cfg.MaxVirtualChannels,
		PollTimeout:    cfg.PollTimeout,
		SessionTimeout: cfg.SessionTimeout,
		MaxSessions:    cfg.MaxSessions,
		WriteDelay:     cfg.WriteDelay,
		NoIOURing:      !cfg.IOURing,
		Logger:         log,
	}
	authz, err := cfg.securityConfig.apply(ctx, &hc)
	if err != nil {
		fmt.Fprintf(stderr, "halley: %v\n", err)
		return 1
	}
	if authz != nil {
		defer authz.Close()
	}
	// The hooks' connections are the server's own, closed at exit.
	hookTransport := http.DefaultTransport.(*http.Transport).Clone()
	defer hookTransport.CloseIdleConnections()
	hookOpts := hooks.Options{
		Client: &http.Client{Timeout: cfg.HookTimeout, Transport: hookTransport},
		Header: make(http.Header, len(cfg.HookHeaders)),
		Logger: log,
	}
	for k, v := range cfg.HookHeaders {
		hookOpts.Header.Set(k, v)
	}
	// In a cluster, buses and notifiers created through the API on another
	// node are made again here with their hooks.
	hc.Restore = httpapi.Restore(hookOpts)
	// The hub closes its broker at Shutdown; until it has one, this does.
	if hc.Broker, err = cfg.brokerConfig.open(ctx, log); err != nil {
		fmt.Fprintf(stderr, "halley: %v\n", err)
		return 1
	}
	hub, err := halley.New(hc)
	if err != nil {
		if hc.Broker != nil {
			_ = hc.Broker.Close(context.Background())
		}
		fmt.Fprintf(stderr, "halley: %v\n", err)
		return 1
	}
	if err := declare(ctx, hub, cfg, hookOpts); err != nil {
		fmt.Fprintf(stderr, "halley: %v\n", err)
		shutdownHub(hub, log)
		return 1
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		fmt.Fprintf(stderr, "halley: %v\n", err)
		shutdownHub(hub, log)
		return 1
	}
	// Connections per address, idle and half-sent ones too (the hub
	// counts requests).
	ln = newLimitListener(ln, cfg.MaxConnsPerIP, hc.TrustedProxies)

	var dbg *http.Server
	var dln net.Listener
	if cfg.DebugAddr != "" {
		if dbg, dln, err = debugServer(cfg.DebugAddr, log); err != nil {
			fmt.Fprintf(stderr, "halley: --debug-addr: %v\n", err)
			_ = ln.Close()
			shutdownHub(hub, log)
			return 2
		}
	}

	// Goroutines the server owns: stopped and waited for at shutdown.
	bg, stopBg := context.WithCancel(context.Background())
	defer stopBg()
	var wg sync.WaitGroup

	mux := http.NewServeMux()
	dm := newDemo(cfg.Demo)
	transports := dm.wrap(hub.Handler())
	for _, path := range transportPaths {
		mux.Handle(path, transports)
	}
	reg, col := metrics.Registry(hub)
	api := httpapi.New(hub, httpapi.Options{APIKey: cfg.APIKey, Logger: log, Hooks: hookOpts, BodyTimeout: time.Duration(cfg.BodyTimeout), Observer: col.API(),
		// The access log must see every request.
		TakeOver: !cfg.AccessLog})
	mux.Handle("/api/", api)
	mux.HandleFunc("GET /healthz", serveHealth)
	mountAdmin(mux)
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) { serveReady(w, r, hub) })
	var msrv *http.Server
	var mln net.Listener
	if cfg.MetricsAddr == "" {
		mux.Handle("GET /metrics", httpapi.Protect(cfg.APIKey, metrics.Handler(reg)))
	} else {
		if mln, err = net.Listen("tcp", cfg.MetricsAddr); err != nil {
			fmt.Fprintf(stderr, "halley: --metrics-addr: %v\n", err)
			_ = ln.Close()
			if dln != nil {
				_ = dln.Close()
			}
			shutdownHub(hub, log)
			return 1
		}
		mmux := http.NewServeMux()
		mmux.Handle("GET /metrics", metrics.Handler(reg))
		msrv = &http.Server{Handler: mmux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
		wg.Go(func() { _ = msrv.Serve(mln) })
		wg.Go(func() {
			<-bg.Done()
			_ = msrv.Close()
		})
	}
	if dm != nil {
		if err := dm.start(ctx, hub, log); err != nil {
			fmt.Fprintf(stderr, "halley: %v\n", err)
			_ = ln.Close()
			if dln != nil {
				_ = dln.Close()
			}
			shutdownHub(hub, log)
			return 1
		}
		wg.Go(func() { dm.run(bg, cfg.demoTick) })
		mux.Handle("GET /{$}", demoPage())
		mux.Handle("GET /demo/app.js", demoScript("app.js"))
		mux.Handle("GET /demo/client.js", demoScript("client.js"))
	}
	if pipe != nil {
		wg.Go(func() { readCommands(pipe, hub, logf) })
	}
	if dbg != nil {
		wg.Go(func() { _ = dbg.Serve(dln) })
		wg.Go(func() {
			<-bg.Done()
			_ = dbg.Close()
		})
	}

	var handler http.Handler = closeUnserved(mux, api)
	if cfg.AccessLog {
		handler = accessLog(log, handler)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		// No WriteTimeout: long polls hold their answer for the poll
		// timeout, which commands can change at run time.
		IdleTimeout: 30 * time.Second,
		// The largest request a client needs is a long Last-Event-ID
		// (256 cursor entries); net/http's default is 1 MiB.
		MaxHeaderBytes: 256 << 10,
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	// The connections of answered long polls come back to the server
	// (Hub.ReturnedConns): a waiting poll holds none of its resources.
	returned := make(chan error, 1)
	rl := hub.ReturnedConns()
	go func() { returned <- srv.Serve(rl) }()

	// The first line is always this one: scripts and tests read the
	// address from it.
	logf("listening on http://%s", ln.Addr())
	if dbg != nil {
		logf("profiler at http://%s/debug/pprof/", dln.Addr())
	}
	if mln != nil {
		logf("metrics at http://%s/metrics", mln.Addr())
	}
	if cfg.APIKey == "" {
		logf("no API key: the HTTP API answers loopback clients only")
	}
	if authz != nil {
		logf("client tokens required: anonymous clients read public channels only")
	}
	if hc.Broker != nil {
		logf("broker: Redis (%s), shared with every node on it", cfg.brokerConfig.describe())
	}
	if cfg.Demo {
		logf("demo page at http://%s/ (channel %q)", ln.Addr(), demoChannel)
	}
	logf("admin dashboard at http://%s/admin", ln.Addr())

	code := 0
	select {
	case <-ctx.Done():
	case err := <-served:
		logf("serve: %v", err)
		served <- err // for the wait below
		code = 1
	}

	logf("shutting down")
	stopBg()
	if pipe != nil {
		_ = pipe.Close() // unblocks the reader
	}
	wg.Wait()

	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	// The hub first: it answers the waiting long polls, so that the
	// server's connections go idle and srv.Shutdown need not wait for
	// the poll timeout.
	if err := hub.Shutdown(sctx); err != nil {
		logf("shutdown: %v", err)
		code = 1
	}
	if err := srv.Shutdown(sctx); err != nil {
		logf("shutdown: %v", err)
		code = 1
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) && code == 0 {
		logf("serve: %v", err)
		code = 1
	}
	<-returned
	logf("stopped")
	return code
}

// transportPaths are the paths of the hub's client transports
// (Hub.Handler): the Ocsigen comet protocol, and the Halley protocol's
// long-poll, SSE, WebSocket, bus writes and notifier listening.
var transportPaths = []string{"/comet", "/poll", "/sse", "/ws", "/write", "/listen", "/unlisten", "/presence"}

// declare creates the channels, buses and notifiers of the config file,
// with their hooks.
func declare(ctx context.Context, hub *halley.Hub, cfg config, hookOpts hooks.Options) error {
	for _, d := range cfg.Channels {
		kind, err := halley.ParseKind(d.Kind)
		if err != nil {
			return fmt.Errorf("channel %q: %w", d.Name, err)
		}
		if _, err := hub.NewChannel(ctx, halley.ChannelOptions{Name: d.Name, Kind: kind, Size: d.Size, Public: d.Public, Presence: d.Presence, Declare: true}); err != nil {
			return fmt.Errorf("channel %q: %w", d.Name, err)
		}
	}
	for _, d := range cfg.Buses {
		scope, err := halley.ParseBusScope(d.Scope)
		if err != nil {
			return fmt.Errorf("bus %q: %w", d.Name, err)
		}
		opts := halley.BusOptions{Name: d.Name, Scope: scope, Size: d.Size, Public: d.Public, Presence: d.Presence, Declare: true}
		if d.FilterURL != "" {
			opts.Filter = hooks.Filter(d.Name, d.FilterURL, hookOpts)
		}
		if _, err := hub.NewBus(ctx, opts); err != nil {
			return fmt.Errorf("bus %q: %w", d.Name, err)
		}
	}
	for _, d := range cfg.Notifiers {
		opts := halley.NotifierOptions[string, json.RawMessage, json.RawMessage]{Name: d.Name, Public: d.Public, Declare: true}
		switch {
		case d.PrepareURL != "" && d.PrepareBatch:
			opts.PrepareBatch = hooks.PrepareBatch(d.Name, d.PrepareURL, hookOpts)
			opts.Concurrency = hooks.Concurrency
		case d.PrepareURL != "":
			opts.Prepare = hooks.Prepare(d.Name, d.PrepareURL, hookOpts)
			opts.Concurrency = hooks.Concurrency
		}
		if _, err := halley.NewNotifier(hub, opts); err != nil {
			return fmt.Errorf("notifier %q: %w", d.Name, err)
		}
	}
	return nil
}

// shutdownHub stops a hub on a failed start-up.
func shutdownHub(hub *halley.Hub, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := hub.Shutdown(ctx); err != nil {
		log.Error("halley: shutdown", "err", err)
	}
}

// closeUnserved makes the answers mux gives to what it does not serve (404,
// 405) close the connection, as the hub's and the API's errors do: the
// request's body was not read, and net/http would wait for it first.
//
// The API's paths go to api at once: it answers every path under /api/,
// with the same rule for its own errors, and cleans paths as mux does.
func closeUnserved(mux *http.ServeMux, api http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/") {
			api.ServeHTTP(w, r)
			return
		}
		if _, pattern := mux.Handler(r); pattern == "" {
			w.Header().Set("Connection", "close")
			_ = http.NewResponseController(w).SetReadDeadline(time.Now())
		}
		mux.ServeHTTP(w, r)
	})
}

// serveHealth answers /healthz: the process is alive and serving HTTP,
// whatever the hub's state (that is /readyz).
func serveHealth(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = io.WriteString(w, `{"alive":true,"reason":"serving"}`+"\n")
}

// readyTimeout bounds a readiness check (the broker's probe).
const readyTimeout = 2 * time.Second

// serveReady answers /readyz: 200 {"ready":true,"reason":"ready"} when the hub takes
// traffic, else 503 {"ready":false,"reason":…,"message":…}.
func serveReady(w http.ResponseWriter, r *http.Request, hub *halley.Hub) {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	err := hub.Ready(ctx)
	if err == nil {
		_, _ = io.WriteString(w, `{"ready":true,"reason":"ready"}`+"\n")
		return
	}
	w.WriteHeader(http.StatusServiceUnavailable)
	_ = json.NewEncoder(w).Encode(struct {
		Ready   bool   `json:"ready"`
		Reason  string `json:"reason"`
		Message string `json:"message"`
	}{false, halley.Reason(err), err.Error()})
}
