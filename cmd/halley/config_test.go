package main

import (
	"os"
	"path/filepath"
	"reflect"
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
		{name: "unknown key", json: `{"adr":":9000"}`, wantErr: `unknown key "adr"`},
		{name: "bad duration", json: `{"poll_timeout":"soon"}`, wantErr: `invalid duration "soon"`},
		{name: "duration as number", json: `{"session_timeout":20}`, wantErr: "want a duration string"},
		{name: "wrong type", json: `{"demo":"yes"}`, wantErr: `key "demo": want true or false, got string`},
		{name: "not an object", json: `[]`, wantErr: "want an object, got array"},
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
			if !reflect.DeepEqual(got, want) {
				t.Errorf("config = %+v, want %+v", got, want)
			}
		})
	}
}

func TestParseConfig_Declarations(t *testing.T) {
	base := defaultConfig()
	tests := []struct {
		name    string
		json    string
		want    func(c *config)
		wantErr string
	}{
		{name: "every section",
			json: `{
				"channels": [{"name": "news", "kind": "newest", "size": 1}, {"name": "feed"}],
				"buses": [{"name": "chat", "scope": "session", "size": 50, "filter_url": "https://backend.example/filter"}, {"name": "cursors"}],
				"notifiers": [{"name": "docs", "prepare_url": "http://127.0.0.1:9000/prepare"}, {"name": "plain"}],
				"hook_timeout": "2s",
				"hook_headers": {"Authorization": "Bearer s3cret"}
			}`,
			want: func(c *config) {
				c.Channels = []channelDecl{{Name: "news", Kind: "newest", Size: 1}, {Name: "feed"}}
				c.Buses = []busDecl{{Name: "chat", Scope: "session", Size: 50, FilterURL: "https://backend.example/filter"}, {Name: "cursors"}}
				c.Notifiers = []notifierDecl{{Name: "docs", PrepareURL: "http://127.0.0.1:9000/prepare"}, {Name: "plain"}}
				c.HookTimeout = 2 * time.Second
				c.HookHeaders = map[string]string{"Authorization": "Bearer s3cret"}
			}},
		{name: "empty sections", json: `{"channels": [], "buses": [], "notifiers": []}`,
			want: func(c *config) {
				c.Channels, c.Buses, c.Notifiers = []channelDecl{}, []busDecl{}, []notifierDecl{}
			}},
		{name: "broadcast kind and scope spelled out", json: `{"channels": [{"name": "a", "kind": "broadcast"}], "buses": [{"name": "b", "scope": "broadcast"}]}`,
			want: func(c *config) {
				c.Channels = []channelDecl{{Name: "a", Kind: "broadcast"}}
				c.Buses = []busDecl{{Name: "b", Scope: "broadcast"}}
			}},
		{name: "same name for a notifier and a channel", json: `{"channels": [{"name": "docs"}], "notifiers": [{"name": "docs"}]}`,
			want: func(c *config) {
				c.Channels = []channelDecl{{Name: "docs"}}
				c.Notifiers = []notifierDecl{{Name: "docs"}}
			}},

		{name: "unknown channel key", json: `{"channels": [{"name": "news", "scope": "session"}]}`, wantErr: `key "channels": unknown key "scope"`},
		{name: "unknown bus key", json: `{"buses": [{"name": "chat", "filter": "http://x/"}]}`, wantErr: `key "buses": unknown key "filter"`},
		{name: "unknown notifier key", json: `{"notifiers": [{"name": "docs", "url": "http://x/"}]}`, wantErr: `key "notifiers": unknown key "url"`},
		{name: "channels not a list", json: `{"channels": {"name": "news"}}`, wantErr: `key "channels": want an array, got object`},
		{name: "channel without name", json: `{"channels": [{"name": "a"}, {"kind": "newest"}]}`, wantErr: "channels[1]: name is required"},
		{name: "bus without name", json: `{"buses": [{"scope": "session"}]}`, wantErr: "buses[0]: name is required"},
		{name: "notifier without name", json: `{"notifiers": [{}]}`, wantErr: "notifiers[0]: name is required"},
		{name: "bad channel name", json: `{"channels": [{"name": "a\u0007b"}]}`, wantErr: `channels[0]: invalid name "a\ab"`},
		{name: "long bus name", json: `{"buses": [{"name": "` + strings.Repeat("x", 257) + `"}]}`, wantErr: "buses[0]: invalid name"},
		{name: "bad kind", json: `{"channels": [{"name": "news", "kind": "brodcast"}]}`, wantErr: `channels[0] ("news"): unknown kind "brodcast" (want broadcast or newest)`},
		{name: "session kind", json: `{"channels": [{"name": "news", "kind": "session"}]}`, wantErr: `channels[0] ("news"): a session channel belongs to a session`},
		{name: "lazy kind", json: `{"channels": [{"name": "clock", "kind": "lazy"}]}`, wantErr: `channels[0] ("clock"): a lazy channel needs a producer`},
		{name: "negative channel size", json: `{"channels": [{"name": "news", "size": -1}]}`, wantErr: `channels[0] ("news"): size must be 0`},
		{name: "bad scope", json: `{"buses": [{"name": "chat", "scope": "site"}]}`, wantErr: `buses[0] ("chat"): unknown scope "site" (want broadcast or session)`},
		{name: "negative bus size", json: `{"buses": [{"name": "chat", "size": -5}]}`, wantErr: `buses[0] ("chat"): size must be 0`},
		{name: "relative filter url", json: `{"buses": [{"name": "chat", "filter_url": "/filter"}]}`, wantErr: `buses[0] ("chat"): filter_url: bad hook URL "/filter"`},
		{name: "filter url scheme", json: `{"buses": [{"name": "chat", "filter_url": "unix:///run/f.sock"}]}`, wantErr: "want an absolute http or https URL"},
		{name: "bad prepare url", json: `{"notifiers": [{"name": "docs", "prepare_url": "http://[::1"}]}`, wantErr: `notifiers[0] ("docs"): prepare_url: bad hook URL`},
		{name: "duplicate channel", json: `{"channels": [{"name": "news"}, {"name": "news"}]}`, wantErr: `channels[1]: the name "news" is already declared by channels[0]`},
		{name: "bus named like a channel", json: `{"channels": [{"name": "chat"}], "buses": [{"name": "chat"}]}`, wantErr: `buses[0]: the name "chat" is already declared by channels[0]`},
		{name: "duplicate notifier", json: `{"notifiers": [{"name": "docs"}, {"name": "docs"}]}`, wantErr: `notifiers[1]: the name "docs" is already declared by notifiers[0]`},
		{name: "zero hook timeout", json: `{"hook_timeout": "0s"}`, wantErr: "hook_timeout must be positive"},
		{name: "bad header name", json: `{"hook_headers": {"X Secret": "1"}}`, wantErr: `hook_headers: "X Secret" is not a header name`},
		{name: "bad header value", json: `{"hook_headers": {"X-Secret": "a\r\nX-Evil: 1"}}`, wantErr: `the value of "X-Secret" has a line break`},
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
			if !reflect.DeepEqual(got, want) {
				t.Errorf("config = %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestConfig_CheckDeclarations(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(c *config)
		wantErr string
	}{
		{name: "demo declared with the demo on", edit: func(c *config) { c.Channels = []channelDecl{{Name: "demo"}} },
			wantErr: `declares "demo", which the demo creates`},
		{name: "demo bus with the demo on", edit: func(c *config) { c.Buses = []busDecl{{Name: "demo"}} },
			wantErr: `declares "demo"`},
		{name: "demo declared with the demo off", edit: func(c *config) { c.Demo, c.Channels = false, []channelDecl{{Name: "demo"}} }},
		{name: "over the cap", edit: func(c *config) {
			c.MaxVirtualChannels, c.Channels, c.Buses = 2, []channelDecl{{Name: "a"}}, []busDecl{{Name: "b"}}
		}, wantErr: "3 channels and buses exist at start-up, over the cap of 2"},
		{name: "at the cap", edit: func(c *config) {
			c.MaxVirtualChannels, c.Demo, c.Channels, c.Buses = 2, false, []channelDecl{{Name: "a"}}, []busDecl{{Name: "b"}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := defaultConfig()
			tt.edit(&c)
			err := c.check()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("check: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestRun_BadDeclaration(t *testing.T) {
	file := filepath.Join(t.TempDir(), "halley.json")
	writeFile(t, file, `{"addr":"127.0.0.1:0","buses":[{"name":"chat","scope":"everyone"}]}`)
	var stdout, stderr syncBuffer
	if code := run(t.Context(), []string{"--config", file}, &stdout, &stderr); code != 2 {
		t.Fatalf("exit code = %d, want 2", code)
	}
	want := "halley: config file " + file + `: buses[0] ("chat"): unknown scope "everyone" (want broadcast or session)`
	if got := strings.TrimSpace(stderr.String()); got != want {
		t.Errorf("stderr = %q, want %q", got, want)
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
			if !reflect.DeepEqual(got, want) {
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
	if !strings.Contains(stderr.String(), `unknown key "colour"`) || !strings.Contains(stderr.String(), file) {
		t.Errorf("stderr = %q, want the file and the unknown key", stderr.String())
	}
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
