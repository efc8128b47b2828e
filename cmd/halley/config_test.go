package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseConfig(t *testing.T) {
	base := defaultConfig()
	tests := []struct {
		name    string
		json    string
		want    func(c *config) // edits base into the expected config
		wantErr string
	}{
		{name: "empty object keeps defaults", json: `{}`, want: func(*config) {}},
		{name: "every key", json: `{"addr":":9000","api_key":"k","max_virtual_channels":10,"poll_timeout":"1m30s","session_timeout":"2h","command_pipe":"/run/halley.cmd","demo":false}`,
			want: func(c *config) {
				c.Addr, c.APIKey, c.MaxVirtualChannels = ":9000", "k", 10
				c.PollTimeout, c.SessionTimeout = 90*time.Second, 2*time.Hour
				c.CommandPipe, c.Demo = "/run/halley.cmd", false
			}},
		{name: "sub-second duration", json: `{"poll_timeout":"250ms"}`, want: func(c *config) { c.PollTimeout = 250 * time.Millisecond }},
		{name: "unknown key", json: `{"adr":":9000"}`, wantErr: `unknown field "adr"`},
		{name: "bad duration", json: `{"poll_timeout":"soon"}`, wantErr: `invalid duration "soon"`},
		{name: "duration as number", json: `{"session_timeout":20}`, wantErr: "want a duration string"},
		{name: "wrong type", json: `{"demo":"yes"}`, wantErr: "cannot unmarshal"},
		{name: "not an object", json: `[]`, wantErr: "cannot unmarshal"},
		{name: "trailing data", json: `{} {}`, wantErr: "data after"},
		{name: "empty", json: ``, wantErr: "EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseConfig(strings.NewReader(tt.json), base)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseConfig: %v", err)
			}
			want := base
			tt.want(&want)
			if got != want {
				t.Errorf("config = %+v, want %+v", got, want)
			}
		})
	}
}

func TestParseServeFlags_Override(t *testing.T) {
	file := filepath.Join(t.TempDir(), "halley.json")
	writeFile(t, file, `{"addr":"127.0.0.1:9000","api_key":"from-file","poll_timeout":"5s","session_timeout":"10m","demo":false}`)

	tests := []struct {
		name string
		args []string
		env  string // HALLEY_API_KEY
		want func(c *config)
	}{
		{name: "file only", args: []string{"--config", file},
			want: func(c *config) {}},
		{name: "flags win", args: []string{"--poll-timeout", "3s", "--config", file, "--demo", "--api-key", "from-flag"},
			want: func(c *config) { c.PollTimeout, c.Demo, c.APIKey = 3*time.Second, true, "from-flag" }},
		{name: "env beats file", args: []string{"--config", file}, env: "from-env",
			want: func(c *config) { c.APIKey = "from-env" }},
		{name: "flag beats env", args: []string{"--config", file, "--api-key=from-flag"}, env: "from-env",
			want: func(c *config) { c.APIKey = "from-flag" }},
		{name: "flag equal to the default still wins", args: []string{"--config", file, "--addr", "127.0.0.1:8080"},
			want: func(c *config) { c.Addr = "127.0.0.1:8080" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := func(k string) (string, bool) {
				if k == "HALLEY_API_KEY" && tt.env != "" {
					return tt.env, true
				}
				return "", false
			}
			var stderr syncBuffer
			got, err := parseServeFlags(tt.args, &stderr, env)
			if err != nil {
				t.Fatalf("parseServeFlags: %v (stderr %q)", err, stderr.String())
			}
			want := defaultConfig()
			want.Addr, want.APIKey, want.PollTimeout, want.SessionTimeout, want.Demo = "127.0.0.1:9000", "from-file", 5*time.Second, 10*time.Minute, false
			tt.want(&want)
			if got != want {
				t.Errorf("config = %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestRun_BadConfigFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "halley.json")
	writeFile(t, file, `{"addr":"127.0.0.1:0","colour":"blue"}`)
	var stdout, stderr syncBuffer
	if code := run(t.Context(), []string{"--config", file}, &stdout, &stderr); code != 2 {
		t.Fatalf("exit code = %d, want 2", code)
	}
	if !strings.Contains(stderr.String(), `unknown field "colour"`) || !strings.Contains(stderr.String(), file) {
		t.Errorf("stderr = %q, want the file and the unknown key", stderr.String())
	}
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
