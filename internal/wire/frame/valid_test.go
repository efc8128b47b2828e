package frame

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// validCases are JSON texts and near misses for Valid and Compacted.
var validCases = []string{
	"", " ", "{", "}", "[", "]", "{}", "[]", " {} ", "\t[ ]\n", "{,}", "[,]", "[1,]",
	`{"a":1,}`, `{"a"}`, `{"a":}`, `{1:2}`, `{"a":1 "b":2}`, `[1 2]`,
	"null", "nul", "nulll", "true", "truex", "false", "-", "-0", "-01", "01", "0",
	"1.", "1.5", "1e", "1e+", "1E-7", ".5", "+1", "1.5e3x",
	`"a"`, `"a`, `"\"`, `"\u12"`, `"\u12g4"`, `"\uD83D\uDE00"`, `"\x"`, "\"\x01\"", "\"\x7f\"",
	"\"\xff\xfe\"", "\"é\"", `"a" "b"`, `{"a":"b"}x`,
	`{"a": [1, 2, {"b": null}], "c" : "d"}`, `{"a":[1,2,{"b":null}],"c":"d"}`,
	`{"s":"with spaces inside"}`, "{\"a\":\r\n1}",
	strings.Repeat("[", 999) + strings.Repeat("]", 999),
	strings.Repeat("[", 1000) + strings.Repeat("]", 1000),
	strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
	strings.Repeat(`{"a":`, 1200) + "1" + strings.Repeat("}", 1200),
	strings.Repeat("[", 1500) + strings.Repeat("]", 1499),
	`"` + strings.Repeat("[", 1200) + `"`,
	`"` + strings.Repeat("[", 1200) + `" x`,
}

func TestValid(t *testing.T) {
	for _, s := range append(validCases, stringsOf(msgPayloads)...) {
		checkValid(t, []byte(s))
	}
}

func stringsOf(bs [][]byte) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = string(b)
	}
	return out
}

// checkValid checks Valid, Compacted and ValueEnd against encoding/json.
func checkValid(t *testing.T, b []byte) {
	t.Helper()
	want := json.Valid(b)
	if got := Valid(b); got != want {
		t.Fatalf("Valid(%.80q) = %v, json.Valid says %v", b, got, want)
	}
	i := skipSpace(b, 0)
	end, compact, ok := ValueEnd(b, i)
	if ok && skipSpace(b, end) == len(b) != want && bytes.Count(b, []byte{'['})+bytes.Count(b, []byte{'{'}) < maxValueDepth {
		t.Fatalf("ValueEnd(%.80q) = %d, %v: the whole text, json.Valid says %v", b, end, ok, want)
	}
	if !want {
		return
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		t.Fatalf("json.Compact(%.80q): %v", b, err)
	}
	isCompact := bytes.Equal(buf.Bytes(), b)
	if got := Compacted(b); got != isCompact {
		t.Fatalf("Compacted(%.80q) = %v, want %v", b, got, isCompact)
	}
	// ValueEnd sees no white space around the value, only inside it.
	if inner := bytes.TrimSpace(b); ok && compact != bytes.Equal(buf.Bytes(), inner) {
		t.Fatalf("ValueEnd(%.80q): compact %v, want %v", b, compact, !compact)
	}
}

func TestValid_Allocs(t *testing.T) {
	for _, s := range []string{`{"seq":1,"pad":"xx"}`, "plain text", `{"a":`} {
		b := []byte(s)
		if n := testing.AllocsPerRun(100, func() { Valid(b) }); n != 0 {
			t.Errorf("Valid(%q): %v allocations", s, n)
		}
	}
}

func FuzzValid(f *testing.F) {
	for _, s := range validCases {
		f.Add([]byte(s))
	}
	for _, p := range msgPayloads {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkValid(t, b) })
}

func BenchmarkValid(b *testing.B) {
	data := []byte(`{"seq":123456,"t":1767225600123456789,"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}`)
	b.Run("frame", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if !Valid(data) || !Compacted(data) {
				b.Fatal("not valid")
			}
		}
	})
	b.Run("json", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if !json.Valid(data) {
				b.Fatal("not valid")
			}
		}
	})
}
