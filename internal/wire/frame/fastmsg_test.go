package frame

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// msgPayloads are payloads of every kind: JSON texts (on one line or not),
// UTF-8 texts with characters to escape, binary data.
var msgPayloads = [][]byte{
	nil,
	{},
	[]byte(`{}`),
	[]byte(`[]`),
	[]byte(`null`),
	[]byte(`true`),
	[]byte(`false`),
	[]byte(`0`),
	[]byte(`-12.5e+3`),
	[]byte(`"a string"`),
	[]byte(`"esc\"aped\\ \u00e9 \ud83d\ude00 \/"`),
	[]byte(`{"seq":123,"t":1767225600123456789,"pad":"xxxxxxxx"}`),
	[]byte(`{"a": [1, 2, {"b": null}], "c" : "d"}`),
	[]byte("{\"a\":\t1}"),
	[]byte(" {\"leading\":\"space\"}"),
	[]byte(`{"trailing":"space"} `),
	[]byte("{\"a\":\n1}"),
	[]byte(`{"a":1`),
	[]byte(`01`),
	[]byte(`1.`),
	[]byte(`plain text`),
	[]byte(`m42`),
	[]byte("quotes \" backslash \\ slash / tab \t newline \n cr \r"),
	[]byte("controls \x00\x01\x1f\x7f"),
	[]byte("unicode é 中文 😀 \u2028 \u2029"),
	[]byte("invalid UTF-8 \xff\xfe"),
	[]byte{0, 1, 2, 3, 0xff, 0xfe, 0x80},
	bytes.Repeat([]byte{0xaa, 0x55}, 100),
	[]byte(`{"deep":` + strings.Repeat("[", 50) + strings.Repeat("]", 50) + `}`),
}

var msgChannels = []string{"", "news", "a:b,c", "with \"quote\"", "tab\tand\nnewline", "é中😀", "bad \xff utf8"}

func TestDecodeMsg_RoundTrip(t *testing.T) {
	for _, ch := range msgChannels {
		for _, off := range []uint64{0, 1, 42, 1e19 - 1, 1e19, 1<<64 - 10, 1<<64 - 1} {
			for _, p := range msgPayloads {
				b := AppendMsg(nil, ch, off, p)
				want, err := Decode(b)
				if err != nil {
					t.Fatalf("Decode(%s): %v", b, err)
				}
				gch, goff, gp, ok := DecodeMsg(b)
				if !ok {
					t.Errorf("DecodeMsg(%s): not ok", b)
					continue
				}
				if gch != want.Channel || goff != *want.Offset || !bytes.Equal(gp, want.Data()) {
					t.Errorf("DecodeMsg(%s) = %q, %d, %q; Decode: %q, %d, %q", b, gch, goff, gp, want.Channel, *want.Offset, want.Data())
				}
				// The payload is the one published, but for the white
				// space around a JSON text.
				if pub := p; !bytes.Equal(gp, pub) && !(json.Valid(pub) && bytes.Equal(gp, bytes.TrimSpace(pub))) {
					t.Errorf("DecodeMsg(%s): payload %q, published %q", b, gp, p)
				}
				// Aliased says whether the payload changes with the frame.
				b2 := bytes.Clone(b)
				m, _ := ParseMsg(b2)
				clear(b2)
				if changed := !bytes.Equal(m.Payload, gp); len(gp) > 0 && changed != m.Aliased {
					t.Errorf("ParseMsg(%s): Aliased %v, but the payload changed %v with the frame", b, m.Aliased, changed)
				}
				// Appending to the payload leaves the frame alone.
				orig := bytes.Clone(b)
				_ = append(gp, "appended"...)
				if !bytes.Equal(b, orig) {
					t.Errorf("DecodeMsg(%s): appending to the payload changed the frame", orig)
				}
			}
		}
	}
}

func TestDecodeMsg_Refused(t *testing.T) {
	for _, s := range []string{
		``,
		`{}`,
		`{"type":"msg"}`,
		`{"type":"subscribed","channel":"a","kind":"broadcast","offset":1,"epoch":"e"}`,
		`{"type":"msg","channel":"a","offset":1}`,
		`{"type":"msg","channel":"a","offset":1,}`,
		`{"type":"msg","channel":"a","offset":1,"json":}`,
		`{"type":"msg","channel":"a","offset":1,"json": }`,
		`{"type":"msg","channel":"a","offset":1,"json":1,"data":"x"}`,
		`{"type":"msg","channel":"a","offset":1,"json":{"a":1}`,
		`{"type":"msg","channel":"a","offset":1,"json":[1,]}`,
		`{"type":"msg","channel":"a","offset":1,"json":{"a":1,}}`,
		`{"type":"msg","channel":"a","offset":1,"json":"\x"}`,
		`{"type":"msg","channel":"a","offset":1,"json":"\u12"}`,
		`{"type":"msg","channel":"a","offset":1,"json":tru}`,
		`{"type":"msg","channel":"a","offset":1,"json":-}`,
		`{"type":"msg","channel":"a","offset":1,"json":1.e5}`,
		`{"type":"msg","channel":"a","offset":1,"json":` + strings.Repeat("[", maxValueDepth+1) + strings.Repeat("]", maxValueDepth+1) + `}`,
		`{"type":"msg","channel":"a","offset":1,"data":"x" }`,
		`{"type":"msg","channel":"a","offset":1,"data":"x\'"}`,
		"{\"type\":\"msg\",\"channel\":\"a\",\"offset\":1,\"data\":\"x\ty\"}",
		`{"type":"msg","channel":"a","offset":1,"data":null}`,
		`{"type":"msg","channel":"a","offset":1,"data64":"AA=="x}`,
		`{"type":"msg","channel":"a","offset":1,"data64":"A"}`,
		`{"type":"msg","channel":"a","offset":1,"data64":"\u0041AAA"}`,
		`{"type":"msg","channel":"a","offset":01,"json":1}`,
		`{"type":"msg","channel":"a","offset":-1,"json":1}`,
		`{"type":"msg","channel":"a","offset":1.0,"json":1}`,
		`{"type":"msg","channel":"a","offset":18446744073709551616,"json":1}`,
		`{"type":"msg","channel":"a","offset":20000000000000000000,"json":1}`,
		`{"type":"msg","channel":"a","offset":99999999999999999999,"json":1}`,
		`{"type":"msg","channel":"a","offset":100000000000000000000,"json":1}`,
		`{"type":"msg","channel":"a","offset":"1","json":1}`,
		`{"type":"msg","channel":a,"offset":1,"json":1}`,
		`{"type":"msg","channel":"a,"offset":1,"json":1}`,
		`{"type":"msg", "channel":"a","offset":1,"json":1}`,
		`{"type":"msg","channel":"a","offset":1,"JSON":1}`,
	} {
		if ch, off, p, ok := DecodeMsg([]byte(s)); ok {
			t.Errorf("DecodeMsg(%s) = %q, %d, %q: want not ok", s, ch, off, p)
		}
	}
}

func TestDecodeMsg_Escapes(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`\"\\\/\b\f\n\r\t`, "\"\\/\b\f\n\r\t"},
		{`\u0041\u00e9\u4e2D`, "Aé中"},
		{`\ud83d\ude00`, "😀"},
		{`\ud83d`, "\ufffd"},
		{`\ud83dx`, "\ufffdx"},
		{`\ud83d\u0041`, "\ufffdA"},
		{`\ude00\ud83d\ude00`, "\ufffd😀"},
		{"\xff\xc3(", "\ufffd\ufffd("},
		{"\xed\xa0\x80", "\ufffd\ufffd\ufffd"},
	} {
		b := fmt.Appendf(nil, `{"type":"msg","channel":"%s","offset":7,"data":"%s"}`, tc.in, tc.in)
		ch, off, p, ok := DecodeMsg(b)
		if !ok || ch != tc.want || off != 7 || string(p) != tc.want {
			t.Errorf("%q: DecodeMsg = %q, %d, %q, %v; want %q", tc.in, ch, off, p, ok, tc.want)
		}
		f, err := Decode(b)
		if err != nil || f.Channel != ch || string(f.Data()) != string(p) {
			t.Errorf("%q: Decode = %q, %q, %v; DecodeMsg %q, %q", tc.in, f.Channel, f.Data(), err, ch, p)
		}
	}
}

// TestDecodeMsg_Aliasing checks what the payload shares with the frame.
func TestDecodeMsg_Aliasing(t *testing.T) {
	b := AppendMsg(nil, "c", 1, []byte(`{"a":1}`))
	_, _, p, _ := DecodeMsg(b)
	p = append(p, '!')
	if !bytes.HasSuffix(b, []byte(`{"a":1}}`)) {
		t.Errorf("appending to the payload changed the frame: %s", b)
	}
	_ = p
	if allocs := testing.AllocsPerRun(100, func() { ParseMsg(b) }); allocs != 0 {
		t.Errorf("ParseMsg of a json payload: %v allocations, want 0", allocs)
	}
}

func FuzzDecodeMsg(f *testing.F) {
	for _, ch := range msgChannels {
		for _, p := range msgPayloads {
			f.Add(AppendMsg(nil, ch, 12, p))
		}
	}
	f.Add([]byte(`{"type":"msg","channel":"\ud83d\u0041","offset":1,"data":"\ude00"}`))
	f.Add([]byte(`{"type":"msg","channel":"a","offset":1,"data64":""}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		// Any bytes as the channel and payload of a msg frame: DecodeMsg
		// takes every frame AppendMsg makes.
		m := AppendMsg(nil, string(b), uint64(len(b)), b)
		if ch, off, p, ok := DecodeMsg(m); !ok {
			t.Fatalf("DecodeMsg(%q): not ok", m)
		} else if fr, err := Decode(m); err != nil || fr.Channel != ch || *fr.Offset != off || !bytes.Equal(fr.Data(), p) {
			t.Fatalf("DecodeMsg(%q) = %q, %d, %q; Decode: %+v, data %q, %v", m, ch, off, p, fr, fr.Data(), err)
		}

		ch, off, p, ok := DecodeMsg(b)
		if !ok {
			return
		}
		fr, err := Decode(b)
		if err != nil {
			t.Fatalf("DecodeMsg(%q) ok, Decode: %v", b, err)
		}
		if fr.Type != TypeMsg || fr.Offset == nil || fr.Channel != ch || *fr.Offset != off || !fr.HasData() || !bytes.Equal(fr.Data(), p) {
			t.Fatalf("DecodeMsg(%q) = %q, %d, %q; Decode: %+v, data %q", b, ch, off, p, fr, fr.Data())
		}
	})
}

func benchMsgs() map[string][]byte {
	return map[string][]byte{
		"json": AppendMsg(nil, "bench-7f3a9c", 1_000_000_123, []byte(`{"seq":123456,"t":1767225600123456789,"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}`)),
		"text": AppendMsg(nil, "bench-7f3a9c", 1_000_000_123, []byte(`plain text, with "quotes" and a tab	and an é: a text payload of about a hundred bytes.`)),
		"bin":  AppendMsg(nil, "bench-7f3a9c", 1_000_000_123, bytes.Repeat([]byte{0xff, 1, 2}, 33)),
	}
}

func BenchmarkDecode(b *testing.B) {
	for name, m := range benchMsgs() {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(m)))
			for b.Loop() {
				f, err := Decode(m)
				if err != nil || len(f.Data()) == 0 {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecodeMsg(b *testing.B) {
	for name, m := range benchMsgs() {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(m)))
			for b.Loop() {
				if _, _, p, ok := DecodeMsg(m); !ok || len(p) == 0 {
					b.Fatal("not ok")
				}
			}
		})
	}
}

func BenchmarkParseMsg(b *testing.B) {
	for name, m := range benchMsgs() {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(m)))
			for b.Loop() {
				if msg, ok := ParseMsg(m); !ok || len(msg.Payload) == 0 {
					b.Fatal("not ok")
				}
			}
		})
	}
}
