package httpapi

import "bytes"

// A client sends the same head with every publish but for the value of
// its Content-Length (the same Host, key, Content-Type, User-Agent…). A
// headCache keeps the last head its connection parsed, and takes a head
// that differs from it only there from that parse, after two comparisons
// of bytes and the parse of the new length, instead of parsing every
// line again. Whatever else differs is parsed in full.

// headCache is the last head parseHead took on a connection.
type headCache struct {
	ok bool     // b and h hold a head
	b  []byte   // a copy of it
	h  leanHead // its parse; its slices point into b
}

// maxCachedHead bounds the heads a headCache keeps (a usual one is
// 150-300 bytes); a larger one is parsed where it is, every time.
const maxCachedHead = 1024

// parse is parseHead(b, h) (h's slices may point into the cache instead
// of b, until the next call).
func (hc *headCache) parse(b []byte, h *leanHead) bool {
	if hc.ok {
		if n, ok := hc.lengthOf(b); ok {
			hc.copyTo(h)
			h.length = n
			h.lengthEnd = len(b) - (len(hc.b) - hc.h.lengthEnd)
			return true
		}
	}
	if len(b) > maxCachedHead {
		hc.ok = false
		return parseHead(b, h)
	}
	// The copy is parsed, so that the parse's slices point into it.
	hc.b = append(hc.b[:0], b...)
	if hc.ok = parseHead(hc.b, &hc.h); !hc.ok {
		return false
	}
	hc.copyTo(h)
	return true
}

// lengthOf returns the Content-Length of b when b is the cached head but
// for the digits of that value.
func (hc *headCache) lengthOf(b []byte) (int64, bool) {
	at, end := hc.h.lengthAt, hc.h.lengthEnd
	if end == 0 {
		return 0, bytes.Equal(b, hc.b) // no Content-Length
	}
	tail := hc.b[end:]
	if len(b) < at+len(tail) || !bytes.Equal(b[:at], hc.b[:at]) || !bytes.Equal(b[len(b)-len(tail):], tail) {
		return 0, false
	}
	// Digits only (parseLength refuses anything else), so the head has
	// the same lines as the cached one.
	return parseLength(b[at : len(b)-len(tail)])
}

// copyTo sets h to the cached parse, h keeping its own origin and
// fetchSite arrays.
func (hc *headCache) copyTo(h *leanHead) {
	c := &hc.h
	*h = leanHead{
		length: c.length, close: c.close,
		lengthAt: c.lengthAt, lengthEnd: c.lengthEnd,
		host: c.host, contentType: c.contentType, authorization: c.authorization,
		origin:    append(h.origin[:0], c.origin...),
		fetchSite: append(h.fetchSite[:0], c.fetchSite...),
	}
}
