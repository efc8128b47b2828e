package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/hooks"
)

// config is what the serve command runs with: defaults, then the config
// file, then the HALLEY_<FLAG> environment variables, then the flags given
// on the command line.
type config struct {
	Addr               string
	APIKey             string
	MaxVirtualChannels int
	PollTimeout        time.Duration
	SessionTimeout     time.Duration
	MaxSessions        int
	CommandPipe        string
	Demo               bool
	// DebugAddr, when set, serves net/http/pprof there (loopback only;
	// flag or environment only).
	DebugAddr string
	// WriteDelay is halley.Config.WriteDelay.
	WriteDelay time.Duration
	// IOURing is the opposite of halley.Config.NoIOURing.
	IOURing bool

	// What exists at start-up (config file only).
	Channels  []channelDecl
	Buses     []busDecl
	Notifiers []notifierDecl
	// HookTimeout bounds each request of the buses' filters and the
	// notifiers' prepare hooks; HookHeaders are added to them.
	HookTimeout time.Duration
	HookHeaders map[string]string

	// Who may do what, and the limits (security.go).
	securityConfig
	// The broker (brokercfg.go).
	brokerConfig
	// Logs and metrics (ops.go).
	opsConfig

	// demoTick is the demo's publishing period; tests shorten it.
	demoTick time.Duration
}

// defaultConfig returns the configuration without file, env or flags.
func defaultConfig() config {
	return config{
		Addr:           "127.0.0.1:8080",
		PollTimeout:    20 * time.Second,
		SessionTimeout: time.Hour,
		Demo:           true,
		IOURing:        true,
		HookTimeout:    hooks.DefaultTimeout,
		MaxSessions:    halley.DefaultMaxSessions,
		securityConfig: defaultSecurity(),
		opsConfig:      defaultOps(),
		demoTick:       2 * time.Second,
	}
}

// channelDecl is a channel the config file declares.
type channelDecl struct {
	Name   string `json:"name"`
	Kind   string `json:"kind"`
	Size   int    `json:"size"`
	Public bool   `json:"public"`
	// Presence: see halley.ChannelOptions.Presence.
	Presence bool `json:"presence"`
}

// busDecl is a bus the config file declares.
type busDecl struct {
	Name      string `json:"name"`
	Scope     string `json:"scope"`
	Size      int    `json:"size"`
	FilterURL string `json:"filter_url"`
	Public    bool   `json:"public"`
	Presence  bool   `json:"presence"`
}

// notifierDecl is a notifier the config file declares.
type notifierDecl struct {
	Name         string `json:"name"`
	PrepareURL   string `json:"prepare_url"`
	PrepareBatch bool   `json:"prepare_batch"`
	Public       bool   `json:"public"`
}

// fileConfig is the JSON shape of the config file.
type fileConfig struct {
	Addr               string   `json:"addr"`
	APIKey             string   `json:"api_key"`
	MaxVirtualChannels int      `json:"max_virtual_channels"`
	PollTimeout        duration `json:"poll_timeout"`
	SessionTimeout     duration `json:"session_timeout"`
	MaxSessions        int      `json:"max_sessions"`
	CommandPipe        string   `json:"command_pipe"`
	Demo               bool     `json:"demo"`

	Channels    []channelDecl     `json:"channels"`
	Buses       []busDecl         `json:"buses"`
	Notifiers   []notifierDecl    `json:"notifiers"`
	HookTimeout duration          `json:"hook_timeout"`
	HookHeaders map[string]string `json:"hook_headers"`

	securityConfig
	brokerConfig
	opsConfig
}

// duration is a time.Duration written as a Go duration string ("20s").
type duration time.Duration

// UnmarshalJSON reads a duration string such as "20s" or "1h30m".
func (d *duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration string such as \"20s\", got %s", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = duration(v)
	return nil
}

// parseConfig applies a JSON config document to base: keys present
// override, absent keys keep base's value, unknown keys are an error.
func parseConfig(r io.Reader, base config) (config, error) {
	fc := fileConfig{
		Addr:               base.Addr,
		APIKey:             base.APIKey,
		MaxVirtualChannels: base.MaxVirtualChannels,
		PollTimeout:        duration(base.PollTimeout),
		SessionTimeout:     duration(base.SessionTimeout),
		MaxSessions:        base.MaxSessions,
		CommandPipe:        base.CommandPipe,
		Demo:               base.Demo,
		Channels:           base.Channels,
		Buses:              base.Buses,
		Notifiers:          base.Notifiers,
		HookTimeout:        duration(base.HookTimeout),
		HookHeaders:        base.HookHeaders,
		securityConfig:     base.securityConfig,
		brokerConfig:       base.brokerConfig,
		opsConfig:          base.opsConfig,
	}
	doc, err := io.ReadAll(r)
	if err != nil {
		return base, err
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&fc); err != nil {
		return base, explainJSON(doc, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return base, errors.New("data after the JSON object")
	}
	cfg := base
	cfg.Addr = fc.Addr
	cfg.APIKey = fc.APIKey
	cfg.MaxVirtualChannels = fc.MaxVirtualChannels
	cfg.PollTimeout = time.Duration(fc.PollTimeout)
	cfg.SessionTimeout = time.Duration(fc.SessionTimeout)
	cfg.MaxSessions = fc.MaxSessions
	cfg.CommandPipe = fc.CommandPipe
	cfg.Demo = fc.Demo
	cfg.Channels = fc.Channels
	cfg.Buses = fc.Buses
	cfg.Notifiers = fc.Notifiers
	cfg.HookTimeout = time.Duration(fc.HookTimeout)
	cfg.HookHeaders = fc.HookHeaders
	cfg.securityConfig = fc.securityConfig
	cfg.brokerConfig = fc.brokerConfig
	cfg.opsConfig = fc.opsConfig
	if err := cfg.checkDecls(); err != nil {
		return base, err
	}
	return cfg, nil
}

// checkDecls reports the first declaration the server could not create,
// naming it by its place in the file.
func (c config) checkDecls() error {
	taken := make(map[string]string) // channel and bus names: one namespace
	for i, d := range c.Channels {
		at := fmt.Sprintf("channels[%d]", i)
		if err := checkName(at, d.Name, taken); err != nil {
			return err
		}
		at = fmt.Sprintf("%s (%q)", at, d.Name)
		kind, err := halley.ParseKind(d.Kind)
		if err != nil {
			return fmt.Errorf("%s: unknown kind %q (want broadcast or newest)", at, d.Kind)
		}
		switch kind {
		case halley.KindSession:
			return fmt.Errorf("%s: a session channel belongs to a session: it cannot be declared (want broadcast or newest)", at)
		case halley.KindLazy:
			return fmt.Errorf("%s: a lazy channel needs a producer written in Go: it cannot be declared (want broadcast or newest)", at)
		}
		if d.Size < 0 {
			return fmt.Errorf("%s: size must be 0 (the default, 1000) or more, got %d", at, d.Size)
		}
	}
	for i, d := range c.Buses {
		at := fmt.Sprintf("buses[%d]", i)
		if err := checkName(at, d.Name, taken); err != nil {
			return err
		}
		at = fmt.Sprintf("%s (%q)", at, d.Name)
		if _, err := halley.ParseBusScope(d.Scope); err != nil {
			return fmt.Errorf("%s: unknown scope %q (want broadcast or session)", at, d.Scope)
		}
		if d.Size < 0 {
			return fmt.Errorf("%s: size must be 0 (the default, 1000) or more, got %d", at, d.Size)
		}
		if d.FilterURL != "" {
			if err := hooks.CheckURL(d.FilterURL); err != nil {
				return fmt.Errorf("%s: filter_url: %w", at, err)
			}
		}
	}
	notifiers := make(map[string]string)
	for i, d := range c.Notifiers {
		at := fmt.Sprintf("notifiers[%d]", i)
		if err := checkName(at, d.Name, notifiers); err != nil {
			return err
		}
		if d.PrepareURL != "" {
			if err := hooks.CheckURL(d.PrepareURL); err != nil {
				return fmt.Errorf("%s (%q): prepare_url: %w", at, d.Name, err)
			}
		} else if d.PrepareBatch {
			return fmt.Errorf("%s (%q): prepare_batch needs a prepare_url", at, d.Name)
		}
	}
	if c.HookTimeout <= 0 {
		return fmt.Errorf("hook_timeout must be positive, got %v", c.HookTimeout)
	}
	for k, v := range c.HookHeaders {
		if !validHeaderName(k) {
			return fmt.Errorf("hook_headers: %q is not a header name", k)
		}
		if strings.ContainsAny(v, "\r\n\x00") {
			return fmt.Errorf("hook_headers: the value of %q has a line break or NUL", k)
		}
	}
	return nil
}

// checkName checks the name of the declaration at, and records it in
// taken, which maps the names seen to where.
func checkName(at, name string, taken map[string]string) error {
	if name == "" {
		return fmt.Errorf("%s: name is required", at)
	}
	if len(name) > halley.MaxNameLen || !utf8.ValidString(name) || strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return fmt.Errorf("%s: invalid name %q (1 to %d bytes of UTF-8, no control characters)", at, name, halley.MaxNameLen)
	}
	if first, ok := taken[name]; ok {
		return fmt.Errorf("%s: the name %q is already declared by %s", at, name, first)
	}
	taken[name] = at
	return nil
}

// validHeaderName reports whether k is an HTTP header name (an RFC 9110
// token).
func validHeaderName(k string) bool {
	if k == "" {
		return false
	}
	for _, r := range k {
		if r > 0x7e || r <= ' ' || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r) {
			return false
		}
	}
	return true
}

// loadConfigFile applies the config file at path to base.
func loadConfigFile(path string, base config) (config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return base, err
	}
	cfg, err := parseConfig(bytes.NewReader(b), base)
	if err != nil {
		return base, fmt.Errorf("config file %s: %w", path, err)
	}
	return cfg, nil
}

// check reports the first value the server cannot run with.
func (c config) check() error {
	switch {
	case c.Addr == "":
		return errors.New("addr is empty")
	case c.MaxVirtualChannels < 0:
		return fmt.Errorf("max virtual channels must be 0 (no cap) or more, got %d", c.MaxVirtualChannels)
	case c.MaxSessions == 0 || c.MaxSessions < -1:
		return fmt.Errorf("max sessions must be positive (or -1: no cap), got %d", c.MaxSessions)
	case c.PollTimeout <= 0:
		return fmt.Errorf("poll timeout must be positive, got %v", c.PollTimeout)
	case c.SessionTimeout <= 0:
		return fmt.Errorf("session timeout must be positive, got %v", c.SessionTimeout)
	}
	if err := checkAPIKey(c.APIKey); err != nil {
		return err
	}
	if err := c.securityConfig.check(); err != nil {
		return err
	}
	if err := c.brokerConfig.check(); err != nil {
		return err
	}
	if err := c.opsConfig.check(); err != nil {
		return err
	}
	declared := len(c.Channels) + len(c.Buses)
	if c.Demo {
		for _, name := range c.declaredNames() {
			if name == demoChannel {
				return fmt.Errorf("the config file declares %q, which the demo creates: turn the demo off (--demo=false)", demoChannel)
			}
		}
		declared++
	}
	if c.MaxVirtualChannels > 0 && declared > c.MaxVirtualChannels {
		return fmt.Errorf("%d channels and buses exist at start-up, over the cap of %d max virtual channels", declared, c.MaxVirtualChannels)
	}
	return nil
}

// declaredNames returns the names of the declared channels and buses.
func (c config) declaredNames() []string {
	names := make([]string, 0, len(c.Channels)+len(c.Buses))
	for _, d := range c.Channels {
		names = append(names, d.Name)
	}
	for _, d := range c.Buses {
		names = append(names, d.Name)
	}
	return names
}

// errFlags marks a command-line error the flag package already reported.
var errFlags = errors.New("bad command line")

// parseServeFlags builds the serve configuration from args, the config
// file they name and lookupEnv. Flag errors are written to stderr and
// returned as errFlags; -h gives flag.ErrHelp.
//
// The order is: defaults, the file, the environment (HALLEY_<FLAG> for
// every flag the command line does not give), then the flags given on the
// command line. The flags are parsed twice: once against the defaults, to
// find the file (--config or $HALLEY_CONFIG) and any error, and -h; then
// onto the defaults, file and environment, where each flag's default is
// the value so far, so only the flags given change it.
func parseServeFlags(args []string, stderr io.Writer, lookupEnv func(string) (string, bool)) (config, error) {
	def := defaultConfig()
	first, file := def, ""
	fs := serveFlags(&first, &file)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: halley [serve] [flags]\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := parseInterleaved(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return def, err
		}
		return def, errFlags
	}
	if fs.NArg() > 0 {
		return def, fmt.Errorf("unexpected argument %q (serve takes flags only)", fs.Arg(0))
	}
	given := setFlags(fs)
	if !given["config"] {
		if v, ok := lookupEnv(envName("config")); ok && v != "" {
			file = v
		}
	}

	cfg := def
	if file != "" {
		var err error
		if cfg, err = loadConfigFile(file, cfg); err != nil {
			return def, err
		}
	}
	again := serveFlags(&cfg, &file)
	again.SetOutput(io.Discard)
	given["config"] = true // read above
	if err := applyEnv(again, given, lookupEnv); err != nil {
		return def, err
	}
	if err := parseInterleaved(again, args); err != nil { // parsed once already
		return def, errFlags
	}
	if err := cfg.check(); err != nil {
		return def, err
	}
	return cfg, nil
}

// serveFlags declares the serve flags, each writing into c with c's value
// as its default, and --config writing into file.
func serveFlags(c *config, file *string) *flag.FlagSet {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.StringVar(&c.Addr, "addr", c.Addr, "`address` to listen on (host:port; port 0 picks a free one)")
	fs.StringVar(&c.APIKey, "api-key", c.APIKey, "`key` the HTTP API requires as \"Authorization: Bearer <key>\" (default $HALLEY_API_KEY; none: loopback clients only)")
	fs.IntVar(&c.MaxVirtualChannels, "max-virtual-channels", c.MaxVirtualChannels, "cap on live channels (0: no cap)")
	fs.DurationVar(&c.PollTimeout, "poll-timeout", c.PollTimeout, "how long a long poll waits before answering empty")
	fs.DurationVar(&c.SessionTimeout, "session-timeout", c.SessionTimeout, "how long an idle session lives")
	fs.IntVar(&c.MaxSessions, "max-sessions", c.MaxSessions, "cap on live sessions (-1: no cap); past it new clients get 429")
	fs.StringVar(&c.CommandPipe, "command-pipe", c.CommandPipe, "`path` of a FIFO to read commands such as comet:deactivate from (created if missing)")
	fs.StringVar(file, "config", *file, "JSON config `file`; flags given on the command line override it")
	fs.BoolVar(&c.Demo, "demo", c.Demo, "serve the demo page at / and publish ticks on the \"demo\" channel")
	fs.DurationVar(&c.WriteDelay, "write-delay", c.WriteDelay, "rest of a busy stream (0: the library's default, 20ms; negative: none): a stream whose write carried several messages waits this long before writing again, gathering what comes into one write; a stream that is not behind writes at once")
	fs.BoolVar(&c.IOURing, "io-uring", c.IOURing, "on Linux, send the writes of the streams a writer takes with one system call (io_uring) where the kernel allows it; --io-uring=false makes each write its own send")
	fs.StringVar(&c.DebugAddr, "debug-addr", c.DebugAddr, "loopback `address` to serve Go's profiler (net/http/pprof) on, for measuring the server")
	c.securityConfig.flags(fs)
	c.brokerConfig.flags(fs)
	c.opsConfig.flags(fs)
	return fs
}

// explainJSON rewrites an error of decoding the config document doc so
// that it names the key at fault (and, for a syntax error, the line).
func explainJSON(doc []byte, err error) error {
	if se, ok := errors.AsType[*json.SyntaxError](err); ok {
		line := 1 + bytes.Count(doc[:min(int(se.Offset), len(doc))], []byte("\n"))
		return fmt.Errorf("line %d: %v", line, err)
	}
	// Errors do not always say whose value they are about (a duration's
	// own decoder, an unknown key inside a declaration): find the key by
	// decoding the keys one at a time.
	var keys map[string]json.RawMessage
	if json.Unmarshal(doc, &keys) != nil {
		return describeJSON(err)
	}
	for k, v := range keys {
		one, _ := json.Marshal(map[string]json.RawMessage{k: v})
		dec := json.NewDecoder(bytes.NewReader(one))
		dec.DisallowUnknownFields()
		var fc fileConfig
		kerr := dec.Decode(&fc)
		switch {
		case kerr == nil:
		case kerr.Error() == fmt.Sprintf("json: unknown field %q", k):
			return fmt.Errorf("unknown key %q", k)
		default:
			return fmt.Errorf("key %q: %w", k, describeJSON(kerr))
		}
	}
	return describeJSON(err)
}

// describeJSON says an error of encoding/json in the config file's words.
func describeJSON(err error) error {
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		where := ""
		if i := strings.LastIndexByte(te.Field, '.'); i >= 0 {
			where = fmt.Sprintf("%q: ", te.Field[i+1:])
		}
		return fmt.Errorf("%swant %s, got %s", where, jsonKind(te.Type.Kind().String()), te.Value)
	}
	if rest, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return fmt.Errorf("unknown key %s", rest)
	}
	return err
}

// jsonKind names a Go kind as a JSON value.
func jsonKind(kind string) string {
	switch {
	case strings.HasPrefix(kind, "int"), strings.HasPrefix(kind, "uint"), strings.HasPrefix(kind, "float"):
		return "a number"
	case kind == "bool":
		return "true or false"
	case kind == "string":
		return "a string"
	case kind == "slice":
		return "an array"
	case kind == "struct", kind == "map":
		return "an object"
	}
	return kind
}
