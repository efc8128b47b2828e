package httpapi

import (
	"bytes"
	"encoding/binary"
)

// The head of a request that a taken-over connection serves itself (see
// takeover.go): only the plainest form of a publish, byte for byte what
// an HTTP client sends. Anything else, well formed or not, is left to
// net/http, which answers it as it would have (or refuses it).

// leanHead is what the takeover loop keeps of a request's head.
type leanHead struct {
	// length is the body's Content-Length (0 without one).
	length int64
	// lengthAt and lengthEnd bound the Content-Length's value in the
	// head parsed (both 0 without one): see headCache.
	lengthAt, lengthEnd int
	// close is set by "Connection: close".
	close bool
	// The values of the header fields the API reads; origin and
	// fetchSite may repeat (up to maxRepeats values each).
	host, contentType, authorization []byte
	origin, fetchSite                [][]byte
}

// maxRepeats bounds the values of one header field that a lean head
// keeps; a head with more is left to net/http.
const maxRepeats = 4

// headEnd returns the length of the head at the start of b (through the
// empty line that ends it), or 0 when b does not hold all of it yet.
// from is where the previous call on the same b, shorter, stopped
// looking; next is where this one stopped, for the next call: together
// they make the search linear however the head arrives.
func headEnd(b []byte, from int) (n, next int) {
	i := from
	for {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return 0, i
		}
		i += j + 1
		// i starts a line: an empty one ends the head.
		switch {
		case i < len(b) && b[i] == '\n':
			return i + 1, i + 1
		case i+1 < len(b) && b[i] == '\r' && b[i+1] == '\n':
			return i + 2, i + 2
		case i == len(b) || b[i] == '\r' && i+1 == len(b):
			// The next line has not begun, or only its CR has come:
			// look at it again once more has come.
			return 0, i - 1
		}
	}
}

// publishLine is the only request line a taken-over connection serves.
const publishLine = "POST " + publishPath + " HTTP/1.1\r\n"

// parseHead parses a head that headEnd found complete, b[:n] where n is
// what headEnd returned, and reports false when the request is not a
// plain publish for the takeover loop to serve: another request line, a
// header field it does not take (Transfer-Encoding, Expect, Upgrade, a
// Connection other than close or keep-alive), a missing or repeated Host,
// a repeated or malformed Content-Length, or a line that is not a plain
// "Name: value" with CRLF (net/http then decides). h's slices point into
// b.
func parseHead(b []byte, h *leanHead) bool {
	*h = leanHead{origin: h.origin[:0], fetchSite: h.fetchSite[:0]}
	if !bytes.HasPrefix(b, []byte(publishLine)) {
		return false
	}
	seenLength := false
	for rest := b[len(publishLine):]; ; {
		eol := bytes.IndexByte(rest, '\n')
		if eol < 1 || rest[eol-1] != '\r' {
			return false // a bare LF: net/http's to take or not
		}
		line := rest[:eol-1]
		rest = rest[eol+1:]
		if len(line) == 0 {
			return len(rest) == 0 && h.host != nil
		}
		colon := bytes.IndexByte(line, ':')
		if colon < 1 {
			return false
		}
		name, value := line[:colon], trimOWS(line[colon+1:])
		f := field(name) // a name it knows is a token
		if f == fieldOther && !isToken(name) || !isFieldValue(value) {
			return false
		}
		switch f {
		case fieldContentLength:
			n, ok := parseLength(value)
			if !ok || seenLength {
				return false
			}
			h.length, seenLength = n, true
			// value is a part of b, not cut: its capacity tells where.
			h.lengthAt = cap(b) - cap(value)
			h.lengthEnd = h.lengthAt + len(value)
		case fieldHost:
			if h.host != nil {
				return false
			}
			h.host = value
		case fieldContentType:
			if h.contentType != nil {
				return false
			}
			h.contentType = value
		case fieldAuthorization:
			if h.authorization != nil {
				return false
			}
			h.authorization = value
		case fieldOrigin:
			if len(h.origin) == maxRepeats {
				return false
			}
			h.origin = append(h.origin, value)
		case fieldFetchSite:
			if len(h.fetchSite) == maxRepeats {
				return false
			}
			h.fetchSite = append(h.fetchSite, value)
		case fieldConnection:
			switch {
			case fieldIs(value, "close"):
				h.close = true
			case fieldIs(value, "keep-alive"):
			default:
				return false
			}
		case fieldRefused:
			return false
		}
	}
}

// The header fields parseHead tells apart (field's results).
const (
	fieldOther = iota
	fieldContentLength
	fieldHost
	fieldContentType
	fieldAuthorization
	fieldOrigin
	fieldFetchSite
	fieldConnection
	// fieldRefused is a field the lean loop leaves to net/http:
	// Transfer-Encoding, Expect, Upgrade or Trailer.
	fieldRefused
)

// field returns which of the fields parseHead tells apart name is,
// ignoring ASCII case: its length picks the one or two names to compare.
func field(name []byte) int {
	switch len(name) {
	case 4:
		if fieldIs(name, "Host") {
			return fieldHost
		}
	case 6:
		switch {
		case fieldIs(name, "Origin"):
			return fieldOrigin
		case fieldIs(name, "Expect"):
			return fieldRefused
		}
	case 7:
		if fieldIs(name, "Upgrade") || fieldIs(name, "Trailer") {
			return fieldRefused
		}
	case 10:
		if fieldIs(name, "Connection") {
			return fieldConnection
		}
	case 12:
		if fieldIs(name, "Content-Type") {
			return fieldContentType
		}
	case 13:
		if fieldIs(name, "Authorization") {
			return fieldAuthorization
		}
	case 14:
		switch {
		case fieldIs(name, "Content-Length"):
			return fieldContentLength
		case fieldIs(name, "Sec-Fetch-Site"):
			return fieldFetchSite
		}
	case 17:
		if fieldIs(name, "Transfer-Encoding") {
			return fieldRefused
		}
	}
	return fieldOther
}

// fieldIs reports whether b is s, ignoring ASCII case.
func fieldIs(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		if lowerASCII(b[i]) != lowerASCII(s[i]) {
			return false
		}
	}
	return true
}

// lowerASCII returns c in lower case when it is an ASCII letter.
func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// trimOWS trims the spaces and tabs around a field value.
func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// parseLength parses a Content-Length: decimal digits only, at most 15
// of them (a petabyte; a larger body is refused long before).
func parseLength(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 15 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// isToken reports whether b is a header field name (RFC 9110 token).
func isToken[T string | []byte](b T) bool {
	for i := range len(b) {
		if !tokenChar[b[i]] {
			return false
		}
	}
	return true
}

// isFieldValue reports whether b holds only visible characters, spaces,
// tabs and bytes of 0x80 and over, as net/http requires of a value. It
// looks at eight bytes at a time, and byte by byte only at a word that
// holds a byte below 0x20 or 0x7f (a tab, or a fault).
func isFieldValue(b []byte) bool {
	const (
		lo = 0x0101010101010101
		hi = 0x8080808080808080
	)
	for len(b) >= 8 {
		x := binary.LittleEndian.Uint64(b)
		// A byte's high bit is set in m for a byte below 0x20 or a DEL
		// (a zero byte of d), never for one of 0x80 and over (&^x), but
		// a borrow may flag a byte after a flagged one: such a word is
		// looked at byte by byte, which is exact.
		d := x ^ (lo * 0x7f)
		if m := ((x-lo*0x20)&^x | (d-lo)&^d) & hi; m != 0 && !plainValue(b[:8]) {
			return false
		}
		b = b[8:]
	}
	return plainValue(b)
}

// plainValue is isFieldValue byte by byte.
func plainValue(b []byte) bool {
	for _, c := range b {
		if c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// tokenChar marks the characters of a token (none of 0x80 and over: a
// byte indexes it without a bound check).
var tokenChar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()
