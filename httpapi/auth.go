package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"unicode"
)

// authorize wraps next with the API's access rule: the bearer key when
// one is set, and otherwise loopback clients only, and of those only the
// requests that a web page cannot have made (see keyless).
func authorize(key string, next http.Handler) http.Handler {
	if key == "" {
		return keyless(next)
	}
	// Comparing digests keeps the comparison constant-time even when
	// the lengths differ.
	want := sha256.Sum256([]byte(key))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := bearer(fieldValue(r.Header, "Authorization"))
		sum := sha256.Sum256([]byte(got))
		if subtle.ConstantTimeCompare(sum[:], want[:]) != 1 || !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="halley"`)
			writeError(w, http.StatusUnauthorized, "unauthorized", "missing or wrong API key")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// keyless guards an API without a key. A loopback peer is not enough: a
// browser on the same host is a loopback peer too, and runs the pages of
// any site. Such a page can send a "simple" request (a POST with a
// text/plain or form body, no preflight) to the API, and through DNS
// rebinding (its own name resolving to 127.0.0.1) read the answers. So
// next runs only for requests
//
//   - from a loopback peer (else 403 api_key_required);
//   - whose Host is a loopback name, which a rebound name is not (else
//     403 host_not_loopback);
//   - that a browser does not mark as coming from another site, with
//     Sec-Fetch-Site or Origin (else 403 cross_site);
//   - whose body, if any, is application/json, which a page can send
//     only to its own origin without a preflight (else 415
//     unsupported_media_type).
//
// http.CrossOriginProtection is not enough: it lets every GET through and
// does not look at the Host.
func keyless(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case !isLoopback(r.RemoteAddr):
			writeError(w, http.StatusForbidden, "api_key_required",
				"the API has no key: it answers loopback clients only")
		case !isLoopbackHost(r.Host):
			writeError(w, http.StatusForbidden, "host_not_loopback",
				"the API has no key: it answers requests for a loopback host only (localhost, 127.0.0.1, [::1]), not "+quoteHost(r.Host))
		case crossSite(r):
			writeError(w, http.StatusForbidden, "cross_site",
				"the API has no key: it does not answer requests from web pages of other origins")
		case hasBody(r) && !isJSON(r):
			writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type",
				"the API has no key: a request body must be JSON with Content-Type: application/json")
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// bearer returns the token of an "Authorization: Bearer <token>" value.
func bearer(h string) (string, bool) {
	const scheme = "bearer "
	if len(h) <= len(scheme) || !strings.EqualFold(h[:len(scheme)], scheme) {
		return "", false
	}
	return strings.TrimSpace(h[len(scheme):]), true
}

// isLoopback reports whether a RemoteAddr ("host:port") is a loopback IP.
func isLoopback(remote string) bool {
	if withPort(remote, "127.0.0.1:") {
		return true // the usual one, without parsing
	}
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// withPort reports whether s is prefix (a host and a colon) and a port of
// 1 to 5 digits.
func withPort(s, prefix string) bool {
	port, ok := strings.CutPrefix(s, prefix)
	if !ok || port == "" || len(port) > 5 {
		return false
	}
	for i := range len(port) {
		if port[i] < '0' || port[i] > '9' {
			return false
		}
	}
	return true
}

// isLoopbackHost reports whether a request's Host names this machine
// without DNS: localhost or a name under .localhost (RFC 6761), an IPv4
// address in 127.0.0.0/8 or ::1, with or without a port.
func isLoopbackHost(host string) bool {
	if withPort(host, "127.0.0.1:") || withPort(host, "localhost:") {
		return true // the usual ones, without parsing
	}
	name := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		name = h
	} else if len(host) > 2 && host[0] == '[' && host[len(host)-1] == ']' {
		name = host[1 : len(host)-1]
	}
	const suffix = ".localhost"
	if strings.EqualFold(name, "localhost") ||
		len(name) > len(suffix) && strings.EqualFold(name[len(name)-len(suffix):], suffix) {
		return true
	}
	ip, err := netip.ParseAddr(name)
	return err == nil && (ip.Is4() && ip.IsLoopback() || ip == netip.IPv6Loopback())
}

// crossSite reports whether a browser says the request comes from a page
// of another origin: a Sec-Fetch-Site other than same-origin or none (a
// request the user made, such as typing the URL), or an Origin other than
// the request's own. (The fields are looked up by their canonical names,
// as net/http keys them: see fieldValue.)
func crossSite(r *http.Request) bool {
	for _, v := range r.Header["Sec-Fetch-Site"] {
		if v != "same-origin" && v != "none" {
			return true
		}
	}
	for _, v := range r.Header["Origin"] {
		same := strings.EqualFold(v, "http://"+r.Host) ||
			r.TLS != nil && strings.EqualFold(v, "https://"+r.Host)
		if !same {
			return true
		}
	}
	return false
}

// hasBody reports whether a request has a body: a Content-Length other
// than 0, or a body of unknown length (chunked).
func hasBody(r *http.Request) bool { return r.ContentLength != 0 }

// quoteHost quotes a Host for an error message, cut to a sane length.
func quoteHost(host string) string {
	const limit = 100
	if len(host) > limit {
		host = host[:limit]
	}
	return strconv.Quote(host)
}

// CheckAPIKey reports whether key can serve as Options.APIKey: it refuses
// a key with leading or trailing white space, which could never match
// (the API trims the bearer value it receives), and a key with a control
// character, which an HTTP header cannot carry reliably or at all. The
// empty key (no key) passes. The error does not quote the key.
func CheckAPIKey(key string) error {
	if strings.TrimSpace(key) != key {
		return errors.New("httpapi: the API key has leading or trailing white space: it could never match, since the API trims the key it receives")
	}
	for i, r := range key {
		if unicode.IsControl(r) {
			return fmt.Errorf("httpapi: the API key has a control character (%U at byte %d): an HTTP header cannot carry it", r, i)
		}
	}
	return nil
}
