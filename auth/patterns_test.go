package auth_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/auth"
)

func TestPatterns_Match(t *testing.T) {
	tests := []struct {
		name     string
		patterns auth.Patterns
		match    []string
		noMatch  []string
	}{
		{name: "none", patterns: nil, noMatch: []string{"", "news", "*"}},
		{name: "exact", patterns: auth.Patterns{"news"}, match: []string{"news"}, noMatch: []string{"", "new", "news2", "News", "xnews"}},
		{name: "prefix", patterns: auth.Patterns{"user:alice*"}, match: []string{"user:alice", "user:alice/inbox", "user:alice*"}, noMatch: []string{"user:alic", "user:bob", "xuser:alice", ""}},
		{name: "star alone", patterns: auth.Patterns{"*"}, match: []string{"", "news", "*", "a:b:c"}},
		{name: "inner star is literal", patterns: auth.Patterns{"a*b"}, match: []string{"a*b"}, noMatch: []string{"ab", "axb", "a*bc"}},
		{name: "star star", patterns: auth.Patterns{"a**"}, match: []string{"a*", "a*x"}, noMatch: []string{"a", "ax"}},
		{name: "leading star is literal", patterns: auth.Patterns{"*x"}, match: []string{"*x"}, noMatch: []string{"x", "ax"}},
		{name: "several", patterns: auth.Patterns{"news", "chat:*", "user:bob"}, match: []string{"news", "chat:", "chat:room", "user:bob"}, noMatch: []string{"chat", "user:bobby", "newsy"}},
		{name: "multibyte", patterns: auth.Patterns{"é*"}, match: []string{"é", "éte"}, noMatch: []string{"e", "\xc3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, name := range tt.match {
				if !tt.patterns.Match(name) {
					t.Errorf("%q.Match(%q) = false, want true", tt.patterns, name)
				}
			}
			for _, name := range tt.noMatch {
				if tt.patterns.Match(name) {
					t.Errorf("%q.Match(%q) = true, want false", tt.patterns, name)
				}
			}
		})
	}
}

func TestPatterns_Match_NoAlloc(t *testing.T) {
	p := auth.Patterns{"news", "chat:*", "user:alice*", "a*b", "*"}
	name := strings.Repeat("x", halley.MaxNameLen)
	if n := testing.AllocsPerRun(100, func() { p.Match(name); p.Match("user:alice/x") }); n != 0 {
		t.Errorf("Match allocates %v times per call, want 0", n)
	}
	r := auth.Rights{Channels: p, Write: p, Listen: auth.Patterns{"docs:team-*", "x:y"}}
	if n := testing.AllocsPerRun(100, func() { r.CanListen("docs", "team-1"); r.CanSubscribe(name) }); n != 0 {
		t.Errorf("CanListen allocates %v times per call, want 0", n)
	}
}

func TestRights(t *testing.T) {
	r, err := auth.ParseRights([]string{"news", "user:alice*"}, []string{"chat"}, []string{"docs:42", "wiki:team-*", "kv:a:b*"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		what string
		got  bool
		want bool
	}{
		{"subscribe news", r.CanSubscribe("news"), true},
		{"subscribe user:alice/inbox", r.CanSubscribe("user:alice/inbox"), true},
		{"subscribe chat", r.CanSubscribe("chat"), false},
		{"write chat", r.CanWrite("chat"), true},
		{"write news", r.CanWrite("news"), false},
		{"listen docs 42", r.CanListen("docs", "42"), true},
		{"listen docs 43", r.CanListen("docs", "43"), false},
		{"listen docs 420", r.CanListen("docs", "420"), false},
		{"listen wiki team-1", r.CanListen("wiki", "team-1"), true},
		{"listen wiki team", r.CanListen("wiki", "team"), false},
		{"listen wik team-1", r.CanListen("wik", "team-1"), false},
		{"listen wiki2 team-1", r.CanListen("wiki2", "team-1"), false},
		{"listen kv a:b:c (key may hold ':')", r.CanListen("kv", "a:b:c"), true},
		{"listen kv:a b (split at the first ':')", r.CanListen("kv:a", "b"), false},
		{"listen docs:42 as notifier", r.CanListen("docs:42", ""), false},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.what, tc.got, tc.want)
		}
	}

	all := auth.Rights{Listen: auth.Patterns{"*"}}
	if !all.CanListen("any", "key") || !all.CanListen("", "") {
		t.Error(`listen "*" does not allow every notifier and key`)
	}
	if all.CanSubscribe("news") || all.CanWrite("news") {
		t.Error(`listen "*" gives channel or write rights`)
	}
	// Built by hand, a listen pattern without ':' matches nothing.
	bad := auth.Rights{Listen: auth.Patterns{"docs", "docs*"}}
	if bad.CanListen("docs", "") || bad.CanListen("docs", "docs") {
		t.Error("a listen pattern without ':' matched")
	}
	var zero auth.Rights
	if zero.CanSubscribe("") || zero.CanWrite("x") || zero.CanListen("a", "b") {
		t.Error("the zero Rights allows something")
	}
}

func TestParseRights(t *testing.T) {
	long := strings.Repeat("x", halley.MaxNameLen)
	tests := []struct {
		name                    string
		channels, write, listen []string
		wantErr                 string // "" when valid
	}{
		{name: "all nil"},
		{name: "typical", channels: []string{"news", "user:alice*", "*"}, write: []string{"chat"}, listen: []string{"docs:*", "docs:42", "*"}},
		{name: "longest name and star", channels: []string{long + "*"}, listen: []string{long + ":" + long + "*"}},
		{name: "inner star", channels: []string{"a*b"}, listen: []string{"docs:a*b"}},
		{name: "empty", channels: []string{"news", ""}, wantErr: "channels[1]: empty pattern"},
		{name: "too long", write: []string{long + "xx"}, wantErr: "write[0]: pattern longer than 257 bytes"},
		{name: "bad UTF-8", channels: []string{"a\xff"}, wantErr: "channels[0]: pattern not valid UTF-8"},
		{name: "control character", channels: []string{"ok", "a\nb"}, wantErr: "channels[1]: control character"},
		{name: "DEL", write: []string{"a\x7f"}, wantErr: "write[0]: control character"},
		{name: "too many", channels: make([]string, auth.MaxPatterns+1), wantErr: "channels: 257 patterns, at most 256"},
		{name: "listen without colon", listen: []string{"docs:1", "docs"}, wantErr: "listen[1]: listen pattern without ':'"},
		{name: "listen star prefix", listen: []string{"docs*"}, wantErr: "listen[0]: listen pattern without ':'"},
		{name: "listen no notifier", listen: []string{":42"}, wantErr: "listen[0]: listen pattern without a notifier name"},
		{name: "listen star notifier", listen: []string{"*:42"}, wantErr: "listen[0]: '*' in the notifier part (an exact name"},
		{name: "listen empty key", listen: []string{"docs:"}, wantErr: "listen[0]: key: empty pattern"},
		{name: "listen long notifier", listen: []string{long + "x:1"}, wantErr: "listen[0]: notifier name: pattern longer than 256 bytes"},
		{name: "listen long key", listen: []string{"d:" + long + "xx"}, wantErr: "listen[0]: key: pattern longer than 257 bytes"},
		{name: "listen too long", listen: []string{long + ":" + long + "xx"}, wantErr: "listen[0]: pattern longer than 514 bytes"},
		{name: "listen control", listen: []string{"docs:\t"}, wantErr: "listen[0]: control character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := auth.ParseRights(tt.channels, tt.write, tt.listen)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ParseRights: %v", err)
				}
				if len(r.Channels) != len(tt.channels) || len(r.Write) != len(tt.write) || len(r.Listen) != len(tt.listen) {
					t.Errorf("ParseRights = %q, want the lists given", r)
				}
				return
			}
			if !errors.Is(err, auth.ErrInvalidPattern) {
				t.Fatalf("ParseRights error = %v, want ErrInvalidPattern", err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseRights error = %q, want it to contain %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), long) {
				t.Errorf("ParseRights error quotes the pattern: %q", err)
			}
		})
	}
}

func TestParseRights_Copies(t *testing.T) {
	channels := []string{"news"}
	r, err := auth.ParseRights(channels, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	channels[0] = "*"
	if r.CanSubscribe("chat") || !r.CanSubscribe("news") {
		t.Error("Rights changed with the slice given to ParseRights")
	}
}
