package main

import (
	"strings"
	"testing"
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
		{name: "bare -h", args: []string{"-h"}, code: 0, stderr: "-command-pipe"},
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
