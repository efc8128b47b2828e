package halley

import (
	"net/http"
	"net/netip"
	"testing"
	"time"
)

// An address counted in the shared entry (the table was full) is given
// back there, even once it has an entry of its own.
func TestLimiter_SharedEntryGivenBackWhereTaken(t *testing.T) {
	l := newLimiter(Config{MaxConnsPerIP: 1, SessionRate: 1, SessionBurst: 1})
	l.maxTracked = 1
	a, b := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	sa, ok := l.acquire(a)
	if !ok {
		t.Fatal("a refused")
	}
	sb, ok := l.acquire(b) // the table is full: the shared entry
	if !ok || sb != l.shared {
		t.Fatalf("b: %v %v, want the shared entry", sb, ok)
	}
	l.release(sa)
	l.sweep(time.Now().Add(time.Hour)) // a's entry goes
	sb2, ok := l.acquire(b)            // b now gets an entry of its own
	if !ok || sb2 == l.shared {
		t.Fatalf("b again: %v %v, want an entry of its own", sb2, ok)
	}
	l.release(sb)
	if l.shared.conns != 0 || sb2.conns != 1 {
		t.Fatalf("shared %d, b's own %d: want 0 and 1", l.shared.conns, sb2.conns)
	}
	if _, ok := l.acquire(b); ok {
		t.Fatal("b got a second slot past MaxConnsPerIP 1")
	}
}

func TestClientAddr_TrustedProxies(t *testing.T) {
	h := &Hub{cfg: Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}}
	for _, tc := range []struct{ remote, xff, want string }{
		{"192.0.2.1:5", "203.0.113.9", "192.0.2.1"},              // not a proxy: its header is not believed
		{"10.0.0.1:5", "203.0.113.9", "203.0.113.9"},             // a proxy: the client it names
		{"10.0.0.1:5", "198.51.100.7, 10.0.0.2", "198.51.100.7"}, // two proxies
		{"10.0.0.1:5", "garbage, 203.0.113.9", "203.0.113.9"},    // the nearest untrusted hop wins
		{"10.0.0.1:5", "", "10.0.0.1"},
	} {
		r := newTestRequest(tc.remote, tc.xff)
		if got := h.clientAddr(r); got.String() != tc.want {
			t.Errorf("peer %s, X-Forwarded-For %q: %s, want %s", tc.remote, tc.xff, got, tc.want)
		}
	}
}

func newTestRequest(remote, xff string) *http.Request {
	r := &http.Request{RemoteAddr: remote, Header: http.Header{}}
	if xff != "" {
		r.Header.Set("X-Forwarded-For", xff)
	}
	return r
}
