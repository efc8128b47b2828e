package frame

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"unicode/utf8"
)

// field returns the payload field AppendData chose for data.
func field(t *testing.T, data []byte) string {
	t.Helper()
	var fields map[string]json.RawMessage
	b := append(append([]byte{'{'}, AppendData(nil, data)...), '}')
	if err := json.Unmarshal(b, &fields); err != nil {
		t.Fatalf("AppendData(%q) = %s: %v", data, b, err)
	}
	if len(fields) != 1 {
		t.Fatalf("AppendData(%q) = %s: want one field", data, b)
	}
	for k := range fields {
		return k
	}
	panic("unreachable")
}

// escapedLen is the length of data's escaped form, from AppendString.
func escapedLen(data []byte) int { return len(AppendString(nil, string(data))) - 2 }

func TestAppendData(t *testing.T) {
	tests := []struct {
		name  string
		data  string
		field string
	}{
		{name: "JSON", data: `{"title":"hello"}`, field: "json"},
		{name: "JSONString", data: `"a\u0000b"`, field: "json"},
		{name: "MultiLineJSON", data: "{\n\"a\":1}", field: "data"},
		{name: "Empty", data: "", field: "data"},
		{name: "Text", data: "plain text", field: "data"},
		{name: "TextAndLF", data: "plain text\nline 2, é", field: "data"},
		{name: "OneLF", data: "\n", field: "data"},               // 2 bytes, base64 4
		{name: "LFs", data: "\n\n\n", field: "data64"},           // 6, base64 4
		{name: "Tie", data: `a"b`, field: "data"},                // 4, base64 4
		{name: "OneNUL", data: "\x00", field: "data64"},          // 6, base64 4
		{name: "DEL", data: "\x7f", field: "data64"},             // 6, base64 4
		{name: "LineSeparator", data: "\u2028", field: "data64"}, // 6, base64 4
		{name: "Controls", data: "controls \x00\x01\x1f\x7f", field: "data64"},
		{name: "LongTextOneControl", data: "a long line of text with one control\x01", field: "data"},
		{name: "ControlsOnly", data: string([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}), field: "data64"},
		{name: "UTF8", data: "é中😀", field: "data"},
		{name: "ReplacementChar", data: "\ufffd", field: "data"},
		{name: "InvalidUTF8", data: "abc\xff", field: "data64"},
		{name: "Binary", data: "\xff\x00\x01", field: "data64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := []byte(tt.data)
			if got := field(t, data); got != tt.field {
				t.Fatalf("AppendData(%q) chose %q; want %q", data, got, tt.field)
			}
			m := AppendMsg(nil, "c", 1, data)
			f, err := Decode(m)
			if err != nil || !bytes.Equal(f.Data(), data) {
				t.Fatalf("Decode(%s) = %q, %v; want %q", m, f.Data(), err, data)
			}
			if p, ok := ParseMsg(m); !ok || !bytes.Equal(p.Payload, data) {
				t.Fatalf("ParseMsg(%s) = %q, %v; want %q", m, p.Payload, ok, data)
			}
		})
	}
}

// checkChoice checks AppendData's rule on data: a JSON text on one line
// goes as is; other UTF-8 text goes as "data" exactly when its escaped form
// is no longer than its base64 form.
func checkChoice(t *testing.T, data []byte) {
	t.Helper()
	got := field(t, data)
	if len(data) > 0 && !bytes.ContainsAny(data, "\r\n") && json.Valid(data) {
		if got != "json" {
			t.Fatalf("AppendData(%q) chose %q; want json", data, got)
		}
		return
	}
	want := "data64"
	if utf8.Valid(data) && escapedLen(data) <= base64.StdEncoding.EncodedLen(len(data)) {
		want = "data"
	}
	if got != want {
		t.Fatalf("AppendData(%q) chose %q; want %q (escaped %d bytes, base64 %d)", data, got, want, escapedLen(data), base64.StdEncoding.EncodedLen(len(data)))
	}
}

func TestAppendData_Choice(t *testing.T) {
	for _, p := range msgPayloads {
		checkChoice(t, p)
	}
	for c := range 256 {
		checkChoice(t, []byte{byte(c)})
		checkChoice(t, []byte{'a', 'b', byte(c)})
		checkChoice(t, append(bytes.Repeat([]byte("x"), 20), byte(c)))
	}
}

// TestTextFits checks textFits against the length AppendString writes, at
// the limit and on either side, every stopper at every place in a word of
// eight bytes.
func TestTextFits(t *testing.T) {
	var inputs [][]byte
	inputs = append(inputs, msgPayloads...)
	stoppers := []string{"\x00", "\x1f", "\t", "\n", "\r", `"`, `\`, "\x7f", "\x80", "\xff", "é", "中", "😀", "\u2028", "\u2029", "\ufffd", "\xed\xa0\x80", "\xf4\x90\x80\x80"}
	for _, s := range stoppers {
		for pos := range 17 {
			inputs = append(inputs, []byte(strings.Repeat("a", pos)+s+strings.Repeat("b", 16-pos)))
		}
	}
	for c := range 256 {
		inputs = append(inputs, []byte{byte(c)}, []byte(strings.Repeat("~", 7)+string(rune(c))+"~"))
	}
	for _, d := range inputs {
		checkTextFits(t, d)
	}
}

func checkTextFits(t *testing.T, d []byte) {
	t.Helper()
	if !utf8.Valid(d) {
		for _, limit := range []int{0, len(d), math.MaxInt} {
			if textFits(d, limit) {
				t.Fatalf("textFits(%q, %d) = true for invalid UTF-8", d, limit)
			}
		}
		return
	}
	n := escapedLen(d)
	for _, limit := range []int{n - 1, n, n + 1, math.MaxInt} {
		if got, want := textFits(d, limit), n <= limit; got != want {
			t.Fatalf("textFits(%q, %d) = %v; want %v (escaped length %d)", d, limit, got, want, n)
		}
	}
}

// TestDecodeMsg_ControlBytes: text of control bytes goes as data64 and the
// fast parser gives its exact bytes back.
func TestDecodeMsg_ControlBytes(t *testing.T) {
	var p []byte
	for c := range 0x20 {
		p = append(p, byte(c), 'x')
	}
	p = append(p, 0x7f, '"', '\\')
	p = append(p, "\u2028\u2029 é 😀"...)
	for _, payload := range [][]byte{p, bytes.Repeat([]byte{0}, 1000), []byte("\x00")} {
		m := AppendMsg(nil, "news", 42, payload)
		if !bytes.Contains(m, []byte(`"data64":"`)) {
			t.Fatalf("AppendMsg(%q) = %s; want a data64 payload", payload, m)
		}
		if len(m) > len(`{"type":"msg","channel":"news","offset":42,"data64":""}`)+base64.StdEncoding.EncodedLen(len(payload)) {
			t.Fatalf("AppendMsg(%q) is %d bytes: more than its base64 form needs", payload, len(m))
		}
		ch, off, got, ok := DecodeMsg(m)
		if !ok || ch != "news" || off != 42 || !bytes.Equal(got, payload) {
			t.Fatalf("DecodeMsg(%s) = %q, %d, %q, %v; want news, 42, %q", m, ch, off, got, ok, payload)
		}
		if f, err := Decode(m); err != nil || !bytes.Equal(f.Data(), payload) {
			t.Fatalf("Decode(%s) = %q, %v; want %q", m, f.Data(), err, payload)
		}
	}
}

func FuzzAppendData(f *testing.F) {
	for _, p := range msgPayloads {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkTextFits(t, data)
		checkChoice(t, data)
		m := AppendMsg(nil, "c", 7, data)
		got, ok := ParseMsg(m)
		if !ok {
			t.Fatalf("ParseMsg(%s): not ok", m)
		}
		fr, err := Decode(m)
		if err != nil || !bytes.Equal(fr.Data(), got.Payload) {
			t.Fatalf("Decode(%s) = %q, %v; ParseMsg gave %q", m, fr.Data(), err, got.Payload)
		}
		// The exact bytes, but for the white space around a JSON text.
		want := data
		if field(t, data) == "json" {
			want = bytes.Trim(data, " \t")
		}
		if !bytes.Equal(got.Payload, want) {
			t.Fatalf("ParseMsg(%s) = %q; want %q", m, got.Payload, want)
		}
	})
}

func BenchmarkAppendData(b *testing.B) {
	for _, bc := range []struct {
		name string
		data []byte
	}{
		{"json", []byte(`{"seq":123456,"t":1767225600123456789,"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}`)},
		{"text", []byte("plain text, with \"quotes\" and a tab\tand an é: a text payload of about a hundred bytes.\n")},
		{"text4k", bytes.Repeat([]byte("lorem ipsum dolor sit amet, consectetur adipiscing elit\n"), 72)},
		{"cjk", bytes.Repeat([]byte("中文文本"), 25)},
		{"controls", bytes.Repeat([]byte{0, 1, 2, 'x'}, 25)},
		{"bin", bytes.Repeat([]byte{0xff, 1, 2}, 33)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.data)))
			dst := make([]byte, 0, 64<<10)
			for b.Loop() {
				dst = AppendData(dst[:0], bc.data)
			}
		})
	}
}

// TestNameForms checks that the frames written through a Name are those
// written from the id, whatever its bytes, and that a payload said to be
// JSON goes as the json field as it is.
func TestNameForms(t *testing.T) {
	for _, id := range []string{"news", "a b/c?d=e&f", "quote\"back\\slash", "\xff\u2028é", ""} {
		n := NewName(id)
		for _, data := range [][]byte{[]byte(`{"a":1}`), []byte("plain text"), []byte("two\nlines"), {0, 1, 2}, nil} {
			if got, want := AppendMsgOf(nil, n, 7, data, false), AppendMsg(nil, id, 7, data); !bytes.Equal(got, want) {
				t.Errorf("AppendMsgOf(%q, %q) = %s, AppendMsg writes %s", id, data, got, want)
			}
		}
		if got, want := AppendMsgOf(nil, n, 7, []byte(`{"a":1}`), true), AppendMsg(nil, id, 7, []byte(`{"a":1}`)); !bytes.Equal(got, want) {
			t.Errorf("AppendMsgOf(%q, JSON) = %s, AppendMsg writes %s", id, got, want)
		}
		if got, want := AppendEntryOf(nil, n, 7, "ep"), AppendEntry(nil, id, 7, "ep"); !bytes.Equal(got, want) {
			t.Errorf("AppendEntryOf(%q) = %s, AppendEntry writes %s", id, got, want)
		}
	}
}
