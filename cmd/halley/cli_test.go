package main

import (
	"flag"
	"os"
	"strings"
	"testing"
	"time"
)

func TestRun_Dispatch(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{name: "unknown subcommand", args: []string{"frobnicate"}, code: 2, stderr: `unknown command "frobnicate"`},
		{name: "help", args: []string{"help"}, code: 0, stdout: "serve"},
		{name: "serve -h", args: []string{"serve", "-h"}, code: 0, stderr: "-poll-timeout"},
		{name: "bare -h", args: []string{"-h"}, code: 0, stdout: "-command-pipe"},
		{name: "--help lists the commands", args: []string{"--help"}, code: 0, stdout: "  listen   listen on keys"},
		{name: "--version", args: []string{"--version"}, code: 0, stdout: "halley "},
		{name: "version", args: []string{"version"}, code: 0, stdout: "halley "},
		{name: "flag after an argument", args: []string{"serve", "now", "--demo=false"}, code: 2, stderr: `unexpected argument "now" (serve takes flags only)`},
		{name: "bad log level", args: []string{"--log-level", "loud"}, code: 2, stderr: `log level "loud"`},
		{name: "bad log format", args: []string{"--log-format", "xml"}, code: 2, stderr: `log format "xml"`},
		{name: "unknown flag", args: []string{"--nope"}, code: 2, stderr: "flag provided but not defined"},
		{name: "bad duration", args: []string{"serve", "--poll-timeout", "soon"}, code: 2, stderr: "invalid value"},
		{name: "zero duration", args: []string{"--session-timeout", "0s"}, code: 2, stderr: "session timeout must be positive"},
		{name: "negative cap", args: []string{"--max-virtual-channels", "-1"}, code: 2, stderr: "max virtual channels"},
		{name: "extra argument", args: []string{"serve", "now"}, code: 2, stderr: `unexpected argument "now"`},
		{name: "missing config file", args: []string{"--config", "/nonexistent/halley.json"}, code: 2, stderr: "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr syncBuffer
			code := run(t.Context(), tt.args, &stdout, &stderr)
			if code != tt.code {
				t.Errorf("exit code = %d, want %d (stderr %q)", code, tt.code, stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.stdout) {
				t.Errorf("stdout = %q, want it to contain %q", stdout.String(), tt.stdout)
			}
			if !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("stderr = %q, want it to contain %q", stderr.String(), tt.stderr)
			}
		})
	}
}

func TestRun_UnknownSubcommandUsage(t *testing.T) {
	var stdout, stderr syncBuffer
	if code := run(t.Context(), []string{"frobnicate"}, &stdout, &stderr); code != 2 {
		t.Fatalf("exit code = %d, want 2", code)
	}
	if !strings.Contains(stderr.String(), "usage: halley") || stdout.String() != "" {
		t.Errorf("want usage on stderr only; stdout %q stderr %q", stdout.String(), stderr.String())
	}
}

func TestParseServeFlags_Env(t *testing.T) {
	dir := t.TempDir()
	file := dir + "/halley.json"
	if err := os.WriteFile(file, []byte(`{"poll_timeout":"7s","max_sessions":5,"addr":"127.0.0.1:9"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"HALLEY_CONFIG":          file,
		"HALLEY_POLL_TIMEOUT":    "9s", // env over the file
		"HALLEY_MAX_SESSIONS":    "6",  // a flag over env
		"HALLEY_ALLOWED_ORIGINS": "https://a.example,https://b.example",
		"HALLEY_DEMO":            "false",
		"HALLEY_LOG_FORMAT":      "json",
		"HALLEY_NOT_A_FLAG":      "ignored",
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	var stderr syncBuffer
	cfg, err := parseServeFlags([]string{"--max-sessions", "7"}, &stderr, lookup)
	if err != nil {
		t.Fatalf("parse: %v (%s)", err, stderr.String())
	}
	if cfg.PollTimeout != 9*time.Second || cfg.MaxSessions != 7 || cfg.Addr != "127.0.0.1:9" || cfg.Demo ||
		cfg.LogFormat != "json" || len(cfg.AllowedOrigins) != 2 {
		t.Fatalf("config %+v", cfg)
	}
	env["HALLEY_SESSION_RATE"] = "fast"
	if _, err := parseServeFlags(nil, &stderr, lookup); err == nil || !strings.Contains(err.Error(), "$HALLEY_SESSION_RATE") {
		t.Fatalf("bad env value: %v, want an error naming $HALLEY_SESSION_RATE", err)
	}
}

func TestParseConfig_ErrorsNameTheKey(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{`{"poll_timeout": 5}`, `key "poll_timeout": want a duration string`},
		{`{"poll_timeout": "5q"}`, `key "poll_timeout": time: unknown unit`},
		{`{"max_sessions": "x"}`, `key "max_sessions": want a number, got string`},
		{`{"channels": [{"name": "a", "size": "x"}]}`, `key "channels": "size": want a number, got string`},
		{`{"poll_timout": "5s"}`, `unknown key "poll_timout"`},
		{"{\n\"addr\": \"x\",\n \"demo\" 5}", `line 3: invalid character`},
	} {
		_, err := parseConfig(strings.NewReader(tc.doc), defaultConfig())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.doc, err, tc.want)
		}
	}
	file := t.TempDir() + "/bad.json"
	if err := os.WriteFile(file, []byte(`{"demo":1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadConfigFile(file, defaultConfig()); err == nil || !strings.Contains(err.Error(), file+`: key "demo"`) {
		t.Errorf("error %v, want the file and the key", err)
	}
}

func TestParseInterleaved(t *testing.T) {
	for _, tc := range []struct {
		args []string
		pos  string
		v    string
	}{
		{[]string{"a", "b", "--v", "x"}, "a b", "x"},
		{[]string{"--v", "x", "a", "b"}, "a b", "x"},
		{[]string{"a", "--v=x", "b"}, "a b", "x"},
		{[]string{"a", "--", "--v", "x"}, "a --v x", ""},
		{[]string{"-", "a"}, "- a", ""},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		v := fs.String("v", "", "")
		if err := parseInterleaved(fs, tc.args); err != nil {
			t.Fatalf("%q: %v", tc.args, err)
		}
		if got := strings.Join(fs.Args(), " "); got != tc.pos || *v != tc.v {
			t.Errorf("%q: args %q, v %q; want %q, %q", tc.args, got, *v, tc.pos, tc.v)
		}
	}
}
