package ocsigen_test

import (
	"bytes"
	"testing"

	"github.com/halleyhq/halley/internal/wire/ocsigen"
)

func TestAppendEscaped(t *testing.T) {
	tests := []struct {
		name  string
		value string
		want  string
	}{
		{name: "Empty", value: "", want: ""},
		{name: "Unreserved", value: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789~_.!*-", want: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789~_.!*-"},
		{name: "Space", value: "a b", want: "a%20b"},
		{name: "Colon", value: "a:b", want: "a%3Ab"},
		{name: "LF", value: "a\nb", want: "a%0Ab"},
		{name: "CR", value: "\r", want: "%0D"},
		{name: "Plus", value: "a+b", want: "a%2Bb"},
		{name: "Slash", value: "a/b", want: "a%2Fb"},
		{name: "Percent", value: "100%", want: "100%25"},
		{name: "QuoteAndParens", value: "'()", want: "%27%28%29"},
		{name: "FormChars", value: "&=?;#", want: "%26%3D%3F%3B%23"},
		{name: "UTF8", value: "é", want: "%C3%A9"},
		{name: "NUL", value: "\x00", want: "%00"},
		{name: "FF", value: "\xff", want: "%FF"},
		{name: "UpperHexOnly", value: "\xab\xcd\xef", want: "%AB%CD%EF"},
		{name: "Ended", value: ocsigen.Ended, want: ocsigen.Ended},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ocsigen.AppendEscaped(nil, []byte(tt.value))
			if string(got) != tt.want {
				t.Errorf("AppendEscaped(%q) = %q, want %q", tt.value, got, tt.want)
			}
			if n := ocsigen.EscapedLen([]byte(tt.value)); n != len(tt.want) {
				t.Errorf("EscapedLen(%q) = %d, want %d", tt.value, n, len(tt.want))
			}
			prefixed := ocsigen.AppendEscaped([]byte("p="), []byte(tt.value))
			if string(prefixed) != "p="+tt.want {
				t.Errorf("AppendEscaped(\"p=\", %q) = %q, want %q", tt.value, prefixed, "p="+tt.want)
			}
		})
	}
}

func TestAppendEscaped_EveryByte(t *testing.T) {
	for c := range 256 {
		got := ocsigen.AppendEscaped(nil, []byte{byte(c)})
		keep := 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || bytes.IndexByte([]byte("~_.!*-"), byte(c)) >= 0
		if keep {
			if len(got) != 1 || got[0] != byte(c) {
				t.Errorf("byte %#02x: got %q, want it unescaped", c, got)
			}
			continue
		}
		const hex = "0123456789ABCDEF"
		want := []byte{'%', hex[c>>4], hex[c&15]}
		if !bytes.Equal(got, want) {
			t.Errorf("byte %#02x: got %q, want %q", c, got, want)
		}
	}
}

func TestAppendEscaped_NoAlloc(t *testing.T) {
	value := []byte("hello world: café\n")
	dst := make([]byte, 0, ocsigen.EscapedLen(value)+64)
	allocs := testing.AllocsPerRun(100, func() {
		dst = ocsigen.AppendEscaped(dst[:0], value)
		dst = ocsigen.AppendLine(dst[:0], "stateless:chat", value)
		dst = ocsigen.AppendEnded(dst[:0], "stateless:gone")
	})
	if allocs != 0 {
		t.Errorf("allocs = %v, want 0", allocs)
	}
}

func TestAppendLine(t *testing.T) {
	tests := []struct {
		name  string
		id    string
		value string
		want  string
	}{
		{name: "Plain", id: "news", value: "hello world", want: "news:hello%20world"},
		{name: "IDWithColon", id: "stateless:chat", value: "a:b", want: "stateless:chat:a%3Ab"},
		{name: "EmptyValue", id: "x", value: "", want: "x:"},
		{name: "IDRaw", id: "a+b/c", value: "+", want: "a+b/c:%2B"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ocsigen.AppendLine(nil, tt.id, []byte(tt.value)); string(got) != tt.want {
				t.Errorf("AppendLine(%q, %q) = %q, want %q", tt.id, tt.value, got, tt.want)
			}
		})
	}
}

func TestAppendEnded(t *testing.T) {
	got := ocsigen.AppendEnded([]byte("a:b\n"), "stateless:gone")
	if want := "a:b\nstateless:gone:ENDED_CHANNEL"; string(got) != want {
		t.Errorf("AppendEnded = %q, want %q", got, want)
	}
}
