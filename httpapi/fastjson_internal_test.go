package httpapi

import (
	"bytes"
	"encoding/json"
	"testing"
)

// strictPublication is decodePublication without its fast path: what
// the API accepted before it, and must still accept, byte for byte. isJSON
// tells that the data was not a JSON string.
func strictPublication(b []byte) (channel string, data []byte, reason string, isJSON bool) {
	if len(b) == 0 {
		return "", nil, "bad_request", false
	}
	var req publishRequest
	if err := unmarshalStrict(b, &req); err != nil {
		return "", nil, "bad_json", false
	}
	if req.Channel == "" || req.Data == nil {
		return "", nil, "bad_request", false
	}
	data, err := strictPayload(req.Data)
	if err != nil {
		return "", nil, "bad_json", false
	}
	return req.Channel, data, "", bytes.TrimSpace(req.Data)[0] != '"'
}

// strictPayload is payload by encoding/json alone.
func strictPayload(raw json.RawMessage) ([]byte, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		return []byte(s), nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// FuzzDecodePublication checks that the hand-written scanner decodes
// every body as encoding/json does: the same channel and message, or
// the same refusal; and that the message is said to be JSON (which the
// hub then does not check) exactly when it is a JSON value's text.
func FuzzDecodePublication(f *testing.F) {
	for _, s := range []string{
		`{"channel":"news","data":"hello"}`,
		`{"channel":"news","data":{"seq":1,"t":2,"pad":"xx"}}`,
		` { "data" : [1, "two", {"a":null}] , "channel" : "a b" } `,
		`{"channel":"news","data":"line\nnext \"q\" \u00e9"}`,
		`{"channel":"n\u0065ws","data":1}`,
		`{"Channel":"news","data":1}`,
		`{"channel":"news","data":1,"data":2}`,
		`{"channel":"news","data":1,"extra":2}`,
		`{"channel":"news","data":nul}`,
		`{"channel":"news","data":[1,}`,
		`{"channel":"news","data":"\xff"}`,
		`{"channel":"\xffnews","data":1}`,
		`{"channel":"news","data":1}x`,
		`{"channel":"news","data":1}{}`,
		`{"channel":"news"}`,
		`{"channel":null,"data":1}`,
		`{"channel":"news","data":null}`,
		`{"channel":"","data":1}`,
		`{}`,
		`[]`,
		`{"channel":"news","data":"a"`,
		`{"channel":"news","data":01}`,
		`{"channel":"news","data":1.5e3}`,
		`{"channel":"news","data":"tab	inside"}`,
		`{"channel":"news","data":{"a":"}"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		b = bytes.TrimSpace(b)
		if len(b) == 0 {
			return // the empty body is {} on both paths, checked by the API tests
		}
		p, bad := decodePublication(b)
		wantCh, wantData, wantReason, wantJSON := strictPublication(b)
		reason := ""
		if bad != nil {
			reason = bad.reason
		}
		if reason != wantReason || p.channel != wantCh || !bytes.Equal(p.data, wantData) || p.json != wantJSON {
			t.Errorf("%q: got (%q, %q, %q, json %v), encoding/json gives (%q, %q, %q, json %v)",
				b, p.channel, p.data, reason, p.json, wantCh, wantData, wantReason, wantJSON)
		}
		if p.json && (!json.Valid(p.data) || bytes.ContainsAny(p.data, "\r\n")) {
			t.Errorf("%q: data %q said to be JSON on one line", b, p.data)
		}
		if p.aliased && (cap(p.data) != len(p.data) || !bytes.Contains(b, p.data)) {
			t.Errorf("%q: data %q (capacity %d) said to be a part of the body", b, p.data, cap(p.data))
		}
	})
}

// BenchmarkDecodePublication measures the decoding of a usual publish
// body (that of halley bench): a channel and a JSON object of 100 bytes.
func BenchmarkDecodePublication(b *testing.B) {
	body := []byte(`{"channel":"bench-1234","data":{"seq":123456,"t":1767225600123456789,"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, bad := decodePublication(body); bad != nil {
			b.Fatal(bad.message)
		}
	}
}
