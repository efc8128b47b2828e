package main

import (
	"net/http"
	"strings"
	"testing"
)

func TestPub(t *testing.T) {
	s := startRun(t, "--addr", "127.0.0.1:0", "--demo=false")
	if res := s.do(http.MethodPost, "/api/channels", "application/json", `{"name":"news"}`); res.status != http.StatusCreated {
		t.Fatalf("create: %d %s", res.status, res.body)
	}
	for _, tc := range []struct{ data, out string }{
		{"hello world", `{"offset":1,"delivered":0}`},
		{`{"score": 3}`, `{"offset":2,"delivered":0}`},
	} {
		var stdout, stderr syncBuffer
		if code := run(t.Context(), []string{"pub", "--server", s.url, "news", tc.data}, &stdout, &stderr); code != 0 {
			t.Fatalf("pub %q: exit %d, stderr %q", tc.data, code, stderr.String())
		}
		if got := stdout.String(); got != tc.out+"\n" {
			t.Errorf("pub %q printed %q, want %q", tc.data, got, tc.out)
		}
	}
	// The messages are stored as published: text as text, JSON compacted.
	res := s.do(http.MethodGet, "/api/channels/news", "", "")
	if !strings.Contains(res.body, `"offset":2`) {
		t.Errorf("channel after two pubs: %s", res.body)
	}
}

func TestPub_Errors(t *testing.T) {
	s := startRun(t, "--addr", "127.0.0.1:0", "--demo=false", "--api-key", "s3cret")
	if res := s.doKey("s3cret", http.MethodPost, "/api/channels", `{"name":"news"}`); res.status != http.StatusCreated {
		t.Fatalf("create: %d %s", res.status, res.body)
	}
	tests := []struct {
		name   string
		env    string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{name: "key flag", args: []string{"--api-key", "s3cret", "news", "x"}, code: 0, stdout: `{"offset":1,`},
		{name: "key from env", env: "s3cret", args: []string{"news", "x"}, code: 0, stdout: `{"offset":2,`},
		{name: "no key", args: []string{"news", "x"}, code: 1, stderr: "halley pub: unauthorized (401)"},
		{name: "unknown channel", args: []string{"--api-key", "s3cret", "--create=false", "nope", "x"}, code: 1, stderr: "halley pub: unknown_channel (404)"},
		{name: "created", args: []string{"--api-key", "s3cret", "fresh", "x"}, code: 0, stdout: `{"offset":1,`, stderr: `halley pub: created channel "fresh" (broadcast)`},
		{name: "no argument", args: []string{}, code: 2, stderr: "want CHANNEL and DATA"},
		{name: "one argument", args: []string{"news"}, code: 2, stderr: "usage: halley pub"},
		{name: "three arguments", args: []string{"news", "a", "b"}, code: 2, stderr: "got 3 arguments"},
		{name: "unknown flag", args: []string{"--nope", "news", "x"}, code: 2, stderr: "flag provided but not defined"},
		{name: "help", args: []string{"-h"}, code: 0, stderr: "usage: halley pub"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("HALLEY_API_KEY", tt.env)
			var stdout, stderr syncBuffer
			args := append([]string{"pub", "--server", s.url}, tt.args...)
			if code := run(t.Context(), args, &stdout, &stderr); code != tt.code {
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

func TestPub_ServerDown(t *testing.T) {
	var stdout, stderr syncBuffer
	// Port 1 on loopback: nothing listens there.
	if code := run(t.Context(), []string{"pub", "--server", "http://127.0.0.1:1", "news", "x"}, &stdout, &stderr); code != 1 {
		t.Errorf("exit code = %d, want 1 (stderr %q)", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "halley pub: ") || stdout.String() != "" {
		t.Errorf("stdout %q, stderr %q: want the error on stderr only", stdout.String(), stderr.String())
	}
}

// doKey is s.do with an API key.
func (s *testServer) doKey(key, method, path, body string) response {
	s.t.Helper()
	old := s.key
	s.key = key
	defer func() { s.key = old }()
	return s.do(method, path, "application/json", body)
}
