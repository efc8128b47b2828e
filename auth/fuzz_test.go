package auth_test

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/auth"
)

// refMatch is a naive matcher to compare Match with: it walks the pattern
// byte by byte, and a '*' that is its last byte matches whatever is left.
func refMatch(pat, name string) bool {
	for i := 0; i < len(pat); i++ {
		if pat[i] == '*' && i == len(pat)-1 {
			return true
		}
		if i >= len(name) || pat[i] != name[i] {
			return false
		}
	}
	return len(pat) == len(name)
}

func refListen(pat, notifier, key string) bool {
	if pat == "*" {
		return true
	}
	for i := 0; i < len(pat); i++ {
		if pat[i] == ':' {
			return pat[:i] == notifier && refMatch(pat[i+1:], key)
		}
	}
	return false
}

// refValid is a naive statement of what ParseRights accepts.
func refValid(pat string, listen bool) bool {
	if pat == "" || !utf8.ValidString(pat) {
		return false
	}
	for _, r := range pat {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	if !listen {
		return len(pat) <= halley.MaxNameLen+1
	}
	if pat == "*" {
		return true
	}
	i := strings.IndexByte(pat, ':')
	if i < 0 {
		return false
	}
	n, k := pat[:i], pat[i+1:]
	return n != "" && len(n) <= halley.MaxNameLen && !strings.Contains(n, "*") && k != "" && len(k) <= halley.MaxNameLen+1
}

// split turns a fuzzed string into a list: nil for "", else its lines.
func split(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func FuzzPatternsMatch(f *testing.F) {
	f.Add("news", "user:alice*", "*", "news")
	f.Add("a*b", "a**", "*x", "a*")
	f.Add("", "x", "é*", "éa")
	f.Add("chat:*", "user:bob", "user:", "user:bob")
	f.Fuzz(func(t *testing.T, a, b, c, name string) {
		p := auth.Patterns{a, b, c}
		want := refMatch(a, name) || refMatch(b, name) || refMatch(c, name)
		if got := p.Match(name); got != want {
			t.Fatalf("%q.Match(%q) = %v, the reference says %v", p, name, got, want)
		}
		for _, pat := range p {
			if got := (auth.Patterns{pat}).Match(name); got != refMatch(pat, name) {
				t.Fatalf("%q.Match(%q) = %v, the reference says %v", pat, name, got, !got)
			}
		}
	})
}

func FuzzParseRights(f *testing.F) {
	f.Add("news\nuser:alice*", "chat", "docs:*\ndocs:42", "news", "docs", "42")
	f.Add("*", "", "*", "x", "any", "key")
	f.Add("a*b\n", "\x00", "docs\n:x\n*:1", "a*b", "docs", "")
	f.Add("é*", "w*", "kv:a:b*", "éa", "kv", "a:bc")
	f.Fuzz(func(t *testing.T, channels, write, listen, name, notifier, key string) {
		c, w, l := split(channels), split(write), split(listen)
		r, err := auth.ParseRights(c, w, l)
		valid := len(c) <= auth.MaxPatterns && len(w) <= auth.MaxPatterns && len(l) <= auth.MaxPatterns
		for _, list := range []struct {
			pats   []string
			listen bool
		}{{c, false}, {w, false}, {l, true}} {
			for _, pat := range list.pats {
				valid = valid && refValid(pat, list.listen)
			}
		}
		if err != nil {
			if !errors.Is(err, auth.ErrInvalidPattern) {
				t.Fatalf("error %v does not wrap ErrInvalidPattern", err)
			}
			if valid {
				t.Fatalf("ParseRights(%q, %q, %q) refused valid lists: %v", c, w, l, err)
			}
			return
		}
		if !valid {
			t.Fatalf("ParseRights(%q, %q, %q) accepted an invalid list", c, w, l)
		}
		anyMatch := func(pats []string, match func(string) bool) bool {
			for _, p := range pats {
				if match(p) {
					return true
				}
			}
			return false
		}
		if got, want := r.CanSubscribe(name), anyMatch(c, func(p string) bool { return refMatch(p, name) }); got != want {
			t.Fatalf("CanSubscribe(%q) = %v with %q, the reference says %v", name, got, c, want)
		}
		if got, want := r.CanWrite(name), anyMatch(w, func(p string) bool { return refMatch(p, name) }); got != want {
			t.Fatalf("CanWrite(%q) = %v with %q, the reference says %v", name, got, w, want)
		}
		if got, want := r.CanListen(notifier, key), anyMatch(l, func(p string) bool { return refListen(p, notifier, key) }); got != want {
			t.Fatalf("CanListen(%q, %q) = %v with %q, the reference says %v", notifier, key, got, l, want)
		}
		// Every accepted pattern matches what it names.
		for _, p := range c {
			if !r.CanSubscribe(strings.TrimSuffix(p, "*")) {
				t.Fatalf("channel pattern %q does not match its own name", p)
			}
		}
		for _, p := range l {
			if n, k, ok := strings.Cut(p, ":"); ok && !r.CanListen(n, strings.TrimSuffix(k, "*")) {
				t.Fatalf("listen pattern %q does not match its own key", p)
			}
		}
	})
}
