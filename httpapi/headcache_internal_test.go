package httpapi

import (
	"fmt"
	"testing"
)

// sameParse fails t unless got and want are the same parse of a head.
func sameParse(t *testing.T, head []byte, got, want *leanHead) {
	t.Helper()
	g := fmt.Sprintf("%d %v %d %d %q %q %q %q %q", got.length, got.close, got.lengthAt, got.lengthEnd,
		got.host, got.contentType, got.authorization, got.origin, got.fetchSite)
	w := fmt.Sprintf("%d %v %d %d %q %q %q %q %q", want.length, want.close, want.lengthAt, want.lengthEnd,
		want.host, want.contentType, want.authorization, want.origin, want.fetchSite)
	if g != w {
		t.Fatalf("%q: cached parse %s, parseHead gives %s", head, g, w)
	}
}

// TestHeadCache: a head that differs from the last one only in its
// Content-Length's digits is taken from the cache; anything else is
// parsed again; either way the result is parseHead's.
func TestHeadCache(t *testing.T) {
	const (
		start = "POST /api/publish HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Type: application/json\r\nContent-Length: "
		end   = "\r\nOrigin: http://a\r\nAccept-Encoding: gzip\r\n\r\n"
	)
	first := []byte(start + "150" + end)
	for _, tc := range []struct {
		name   string
		next   string
		cached bool
	}{
		{"the same head", start + "150" + end, true},
		{"another length", start + "7" + end, true},
		{"a longer length", start + "123456789012" + end, true},
		{"no digits", start + end, false},
		{"a line slipped in the value", start + "1\r\nOrigin: http://b" + end, false},
		{"a space in the value", start + "1 2" + end, false},
		{"another Host", "POST /api/publish HTTP/1.1\r\nHost: 127.0.0.1:8081\r\nContent-Type: application/json\r\nContent-Length: 150" + end, false},
		{"one line more", start + "150" + "\r\nOrigin: http://c" + end, false},
		{"not a publish", "GET /api/publish HTTP/1.1\r\nHost: a\r\n\r\n", false},
	} {
		var hc headCache
		var h, want leanHead
		if !hc.parse(first, &h) {
			t.Fatal("the first head is refused")
		}
		next := []byte(tc.next)
		ok := hc.parse(next, &h)
		if wantOK := parseHead(next, &want); ok != wantOK {
			t.Fatalf("%s: cached parse %v, parseHead %v", tc.name, ok, wantOK)
		} else if ok {
			sameParse(t, next, &h, &want)
		}
		// Taken from the cache: a value planted in the cached parse
		// (the heads have no Authorization) comes out; parsed again, not.
		var marked headCache
		marked.parse(first, &h)
		marked.h.authorization = []byte("planted")
		marked.parse(next, &h)
		if cached := string(h.authorization) == "planted"; cached != tc.cached {
			t.Errorf("%s: taken from the cache %v, want %v", tc.name, cached, tc.cached)
		}
		// After a refused head, the next is parsed in full, and right.
		if !hc.parse(first, &h) || !parseHead(first, &want) {
			t.Fatal("the first head is refused after another")
		}
		sameParse(t, first, &h, &want)
	}
}

// FuzzHeadCache: whatever head came before, the cache's parse of the
// next is parseHead's.
func FuzzHeadCache(f *testing.F) {
	h := "POST /api/publish HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\nOrigin: x\r\n\r\n"
	f.Add([]byte(h), []byte(h))
	f.Add([]byte(h), []byte("POST /api/publish HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nOrigin: x\r\n\r\n"))
	f.Add([]byte(h), []byte("POST /api/publish HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nHost: b\r\nOrigin: x\r\n\r\n"))
	f.Add([]byte("POST /api/publish HTTP/1.1\r\nHost: a\r\n\r\n"), []byte("POST /api/publish HTTP/1.1\r\nHost: a\r\n\r\n"))
	f.Fuzz(func(t *testing.T, first, next []byte) {
		var hc headCache
		var h, want leanHead
		for _, b := range [][]byte{first, next} {
			n, _ := headEnd(b, 0)
			if n == 0 {
				return
			}
			b = b[:n]
			ok := hc.parse(b, &h)
			if wantOK := parseHead(b, &want); ok != wantOK {
				t.Fatalf("%q after %q: cached parse %v, parseHead %v", b, first, ok, wantOK)
			} else if ok {
				sameParse(t, b, &h, &want)
			}
		}
	})
}
