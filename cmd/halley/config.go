package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"
)

// config is what the serve command runs with: defaults, then the config
// file, then HALLEY_API_KEY, then the flags given on the command line.
type config struct {
	Addr               string
	APIKey             string
	MaxVirtualChannels int
	PollTimeout        time.Duration
	SessionTimeout     time.Duration
	CommandPipe        string
	Demo               bool

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
		demoTick:       2 * time.Second,
	}
}

// fileConfig is the JSON shape of the config file.
type fileConfig struct {
	Addr               string   `json:"addr"`
	APIKey             string   `json:"api_key"`
	MaxVirtualChannels int      `json:"max_virtual_channels"`
	PollTimeout        duration `json:"poll_timeout"`
	SessionTimeout     duration `json:"session_timeout"`
	CommandPipe        string   `json:"command_pipe"`
	Demo               bool     `json:"demo"`
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
		CommandPipe:        base.CommandPipe,
		Demo:               base.Demo,
	}
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&fc); err != nil {
		return base, err
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
	cfg.CommandPipe = fc.CommandPipe
	cfg.Demo = fc.Demo
	return cfg, nil
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
	case c.PollTimeout <= 0:
		return fmt.Errorf("poll timeout must be positive, got %v", c.PollTimeout)
	case c.SessionTimeout <= 0:
		return fmt.Errorf("session timeout must be positive, got %v", c.SessionTimeout)
	}
	return nil
}

// errFlags marks a command-line error the flag package already reported.
var errFlags = errors.New("bad command line")

// parseServeFlags builds the serve configuration from args, the config
// file they name and lookupEnv. Flag errors are written to stderr and
// returned as errFlags; -h gives flag.ErrHelp.
func parseServeFlags(args []string, stderr io.Writer, lookupEnv func(string) (string, bool)) (config, error) {
	def := defaultConfig()
	var fl config
	var file string
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: halley [serve] [flags]\n\nflags:\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&fl.Addr, "addr", def.Addr, "`address` to listen on (host:port; port 0 picks a free one)")
	fs.StringVar(&fl.APIKey, "api-key", "", "`key` the HTTP API requires as \"Authorization: Bearer <key>\" (default $HALLEY_API_KEY; none: loopback clients only)")
	fs.IntVar(&fl.MaxVirtualChannels, "max-virtual-channels", def.MaxVirtualChannels, "cap on live channels (0: no cap)")
	fs.DurationVar(&fl.PollTimeout, "poll-timeout", def.PollTimeout, "how long a long poll waits before answering empty")
	fs.DurationVar(&fl.SessionTimeout, "session-timeout", def.SessionTimeout, "how long an idle session lives")
	fs.StringVar(&fl.CommandPipe, "command-pipe", "", "`path` of a FIFO to read commands such as comet:deactivate from (created if missing)")
	fs.StringVar(&file, "config", "", "JSON config `file`; flags given on the command line override it")
	fs.BoolVar(&fl.Demo, "demo", def.Demo, "serve the demo page at / and publish ticks on the \"demo\" channel")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return def, err
		}
		return def, errFlags
	}
	if fs.NArg() > 0 {
		return def, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}

	cfg := def
	if file != "" {
		var err error
		if cfg, err = loadConfigFile(file, cfg); err != nil {
			return def, err
		}
	}
	if key, ok := lookupEnv("HALLEY_API_KEY"); ok && key != "" {
		cfg.APIKey = key
	}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "addr":
			cfg.Addr = fl.Addr
		case "api-key":
			cfg.APIKey = fl.APIKey
		case "max-virtual-channels":
			cfg.MaxVirtualChannels = fl.MaxVirtualChannels
		case "poll-timeout":
			cfg.PollTimeout = fl.PollTimeout
		case "session-timeout":
			cfg.SessionTimeout = fl.SessionTimeout
		case "command-pipe":
			cfg.CommandPipe = fl.CommandPipe
		case "demo":
			cfg.Demo = fl.Demo
		}
	})
	if err := cfg.check(); err != nil {
		return def, err
	}
	return cfg, nil
}
