package frame

import (
	"encoding/base64"
	"encoding/binary"
	"math/bits"
	"unicode/utf16"
	"unicode/utf8"
)

// The fixed parts of a msg frame, in the order AppendMsg writes them.
const (
	msgHead   = `{"type":"msg","channel":`
	msgOffset = `,"offset":`
	msgJSON   = `"json":`
	msgData   = `"data":`
	msgData64 = `"data64":"`
)

// maxValueDepth bounds the nesting of a "json" payload that DecodeMsg
// checks itself; a deeper one is left to Decode.
const maxValueDepth = 1000

// DecodeMsg decodes b if it is a msg frame laid out exactly as AppendMsg
// writes it: {"type":"msg","channel":…,"offset":…, then one of "json",
// "data" or "data64", then }, with no white space between the fields
// (but around a "json" value). It returns ok false for anything else
// (another frame, another layout, or invalid JSON), and the caller then
// falls back to Decode. When ok is true, Decode would succeed on b with
// the same channel and offset, and payload equal to its Frame's Data().
//
// DecodeMsg is much cheaper than Decode: it does not use reflection, and
// allocates only the channel string, and the payload when it cannot be a
// part of b. The payload aliases b for a "json" payload, and for a "data"
// payload without escape sequences; it is a new slice otherwise. A payload
// that aliases b has its capacity cut at its end, so that appending to it
// never overwrites b; but it changes when b does.
func DecodeMsg(b []byte) (channel string, offset uint64, payload []byte, ok bool) {
	m, ok := ParseMsg(b)
	if !ok {
		return "", 0, nil, false
	}
	return string(m.Channel), m.Offset, m.Payload, true
}

// Msg is a msg frame decoded by ParseMsg.
type Msg struct {
	// Channel is the channel id. It aliases the frame unless the id has
	// escape sequences: a caller that looks it up (in a map of
	// channels, say) need not allocate for it.
	Channel []byte
	Offset  uint64
	// Payload is the payload, as Frame.Data returns it. When Aliased, it
	// is a part of the frame, its capacity cut at its end; else it is a
	// new slice.
	Payload []byte
	Aliased bool
}

// ParseMsg is DecodeMsg without the copy of the channel id; it tells
// whether the payload aliases b.
func ParseMsg(b []byte) (m Msg, ok bool) {
	if len(b) < len(msgHead) || string(b[:len(msgHead)]) != msgHead || b[len(b)-1] != '}' {
		return Msg{}, false
	}
	end := len(b) - 1 // the closing brace
	i := len(msgHead)
	m.Channel, i, _, ok = unquote(b, i)
	if !ok || !hasAt(b, i, msgOffset) {
		return Msg{}, false
	}
	i += len(msgOffset)
	m.Offset, i, ok = parseUint(b, i)
	if !ok || i >= end || b[i] != ',' {
		return Msg{}, false
	}
	i++
	switch {
	case hasAt(b, i, msgJSON):
		// White space around the value is no part of it (as for
		// encoding/json's RawMessage).
		i = skipSpace(b[:end], i+len(msgJSON))
		var spaced bool
		j, ok := skipValue(b[:end], i, 0, &spaced)
		if !ok || skipSpace(b[:end], j) != end {
			return Msg{}, false
		}
		m.Payload, m.Aliased = b[i:j:j], true
		return m, true
	case hasAt(b, i, msgData):
		m.Payload, i, m.Aliased, ok = unquote(b, i+len(msgData))
		if !ok || i != end {
			return Msg{}, false
		}
		return m, true
	case hasAt(b, i, msgData64):
		i += len(msgData64)
		j := i
		for j < end && base64Char[b[j]] {
			j++
		}
		if j != end-1 || b[j] != '"' {
			return Msg{}, false
		}
		p, err := base64.StdEncoding.AppendDecode(make([]byte, 0, base64.StdEncoding.DecodedLen(j-i)), b[i:j])
		if err != nil {
			return Msg{}, false
		}
		m.Payload = p
		return m, true
	}
	return Msg{}, false
}

// hasAt reports whether b holds s at i.
func hasAt(b []byte, i int, s string) bool {
	return len(b)-i >= len(s) && string(b[i:i+len(s)]) == s
}

// parseUint parses the JSON number at b[i:] as encoding/json parses it
// into a uint64: digits without a leading zero, no fraction, no exponent,
// no overflow. It returns the index after it.
func parseUint(b []byte, i int) (uint64, int, bool) {
	start := i
	var n uint64
	for ; i < len(b) && '0' <= b[i] && b[i] <= '9'; i++ {
		n = n*10 + uint64(b[i]-'0')
	}
	switch digits := i - start; {
	case digits == 0 || digits > 20:
		return 0, 0, false
	case digits > 1 && b[start] == '0':
		return 0, 0, false
	case digits == 20:
		// Redo the last step, watching for overflow: 19 digits fit.
		var p uint64
		for _, c := range b[start : i-1] {
			p = p*10 + uint64(c-'0')
		}
		hi, lo := bits.Mul64(p, 10)
		sum, carry := bits.Add64(lo, uint64(b[i-1]-'0'), 0)
		if hi != 0 || carry != 0 {
			return 0, 0, false
		}
		n = sum
	}
	return n, i, true
}

// strPlain holds the bytes that stand for themselves in a JSON string
// and need no check: printable ASCII but '"' and '\\'.
var strPlain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// base64Char holds the bytes of padded standard base64.
var base64Char = func() (t [256]bool) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") {
		t[c] = true
	}
	return t
}()

// plainRun returns the index of the first byte from b[i] on that strPlain
// does not hold (or len(b)), eight bytes at a time.
func plainRun(b []byte, i int) int {
	const (
		lo = 0x0101010101010101
		hi = 0x8080808080808080
	)
	for len(b)-i >= 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		q := x ^ (lo * '"')
		e := x ^ (lo * '\\')
		// A byte's high bit is set in m for a '"' or '\\' (a zero byte
		// of q or e), a control character (below 0x20), or a byte of
		// 0x80 and above. A borrow may flag more bytes, but only after
		// the first one flagged, which is exact.
		m := ((q-lo)&^q | (e-lo)&^e | (x-lo*0x20)&^x | x) & hi
		if m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
		i += 8
	}
	for i < len(b) && strPlain[b[i]] {
		i++
	}
	return i
}

// unquote decodes the JSON string that starts at b[i] exactly as
// encoding/json does (invalid UTF-8 and lone surrogates become U+FFFD),
// and returns the index after its closing quote. The result aliases b
// (its capacity cut), and aliased is true, when the string needs no
// decoding.
func unquote(b []byte, i int) (s []byte, next int, aliased, ok bool) {
	if i >= len(b) || b[i] != '"' {
		return nil, 0, false, false
	}
	i++
	start := i
	ascii := true
	for {
		if i = plainRun(b, i); i >= len(b) {
			break
		}
		c := b[i]
		if c >= utf8.RuneSelf {
			ascii = false
			i++
			continue
		}
		if c != '"' {
			// An escape sequence or a control character.
			s, next, ok = unquoteSlow(b, start)
			return s, next, false, ok
		}
		if !ascii && !utf8.Valid(b[start:i]) {
			s, next, ok = unquoteSlow(b, start)
			return s, next, false, ok
		}
		return b[start:i:i], i + 1, true, true
	}
	return nil, 0, false, false
}

// unquoteSlow decodes the rest of unquote's work into a new slice: the
// string's content starts at b[start].
func unquoteSlow(b []byte, start int) ([]byte, int, bool) {
	out := make([]byte, 0, len(b)-start)
	for i := start; i < len(b); {
		if j := plainRun(b, i); j > i {
			out = append(out, b[i:j]...)
			if i = j; i == len(b) {
				break
			}
		}
		c := b[i]
		switch {
		case c == '"':
			return out, i + 1, true
		case c < 0x20:
			return nil, 0, false
		case c < utf8.RuneSelf && c != '\\':
			out = append(out, c)
			i++
		case c == '\\':
			if i+1 >= len(b) {
				return nil, 0, false
			}
			switch e := b[i+1]; e {
			case '"', '\\', '/':
				out = append(out, e)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r := hex4(b, i+2)
				if r < 0 {
					return nil, 0, false
				}
				i += 6
				if utf16.IsSurrogate(r) {
					// A pair, if the next escape completes it; else
					// U+FFFD, and the next escape stands alone.
					if hasAt(b, i, `\u`) {
						if r2 := hex4(b, i+2); r2 >= 0 {
							if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
								out = utf8.AppendRune(out, d)
								i += 6
								continue
							}
						}
					}
					r = utf8.RuneError
				}
				out = utf8.AppendRune(out, r)
				continue
			default:
				return nil, 0, false
			}
			i += 2
		default:
			r, size := utf8.DecodeRune(b[i:])
			out = utf8.AppendRune(out, r)
			i += size
		}
	}
	return nil, 0, false
}

// hex4 returns the value of the 4 hexadecimal digits at b[i:], or -1.
func hex4(b []byte, i int) rune {
	if len(b)-i < 4 {
		return -1
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

// skipValue checks the JSON value at b[i:], with no white space before
// it, and returns the index after it. It accepts what encoding/json's
// scanner accepts (so a string may hold invalid UTF-8), up to depth
// maxValueDepth. It sets *spaced when the value has white space outside
// its strings (it is not compact), and leaves it alone otherwise.
func skipValue(b []byte, i, depth int, spaced *bool) (int, bool) {
	if i >= len(b) {
		return 0, false
	}
	switch c := b[i]; {
	case c == '{':
		if depth >= maxValueDepth {
			return 0, false
		}
		i = space(b, i+1, spaced)
		if i < len(b) && b[i] == '}' {
			return i + 1, true
		}
		for {
			var ok bool
			if i, ok = skipString(b, i); !ok {
				return 0, false
			}
			if i = space(b, i, spaced); i >= len(b) || b[i] != ':' {
				return 0, false
			}
			if i, ok = skipValue(b, space(b, i+1, spaced), depth+1, spaced); !ok {
				return 0, false
			}
			if i = space(b, i, spaced); i >= len(b) {
				return 0, false
			}
			switch b[i] {
			case ',':
				i = space(b, i+1, spaced)
			case '}':
				return i + 1, true
			default:
				return 0, false
			}
		}
	case c == '[':
		if depth >= maxValueDepth {
			return 0, false
		}
		i = space(b, i+1, spaced)
		if i < len(b) && b[i] == ']' {
			return i + 1, true
		}
		for {
			var ok bool
			if i, ok = skipValue(b, i, depth+1, spaced); !ok {
				return 0, false
			}
			if i = space(b, i, spaced); i >= len(b) {
				return 0, false
			}
			switch b[i] {
			case ',':
				i = space(b, i+1, spaced)
			case ']':
				return i + 1, true
			default:
				return 0, false
			}
		}
	case c == '"':
		return skipString(b, i)
	case c == '-' || '0' <= c && c <= '9':
		return skipNumber(b, i)
	case c == 't':
		return skipLiteral(b, i, "true")
	case c == 'f':
		return skipLiteral(b, i, "false")
	case c == 'n':
		return skipLiteral(b, i, "null")
	}
	return 0, false
}

// space is skipSpace within a value, which it marks spaced when it
// skips any.
func space(b []byte, i int, spaced *bool) int {
	if i < len(b) && b[i] > ' ' {
		return i // the usual case: compact
	}
	j := skipSpace(b, i)
	if j != i {
		*spaced = true
	}
	return j
}

func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

func skipLiteral(b []byte, i int, lit string) (int, bool) {
	if !hasAt(b, i, lit) {
		return 0, false
	}
	return i + len(lit), true
}

// skipString checks the JSON string at b[i:] and returns the index after
// it.
func skipString(b []byte, i int) (int, bool) {
	if i >= len(b) || b[i] != '"' {
		return 0, false
	}
	for i++; ; {
		if i = plainRun(b, i); i >= len(b) {
			return 0, false
		}
		c := b[i]
		switch {
		case c >= utf8.RuneSelf:
			i++
		case c == '"':
			return i + 1, true
		case c == '\\':
			if i+1 >= len(b) {
				return 0, false
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if hex4(b, i+2) < 0 {
					return 0, false
				}
				i += 6
			default:
				return 0, false
			}
		default: // a control character
			return 0, false
		}
	}
}

// skipNumber checks the JSON number at b[i:] and returns the index after
// it.
func skipNumber(b []byte, i int) (int, bool) {
	if b[i] == '-' {
		i++
	}
	if i < len(b) && b[i] == '0' {
		i++
	} else if j := skipDigits(b, i); j > i {
		i = j
	} else {
		return 0, false
	}
	if i < len(b) && b[i] == '.' {
		j := skipDigits(b, i+1)
		if j == i+1 {
			return 0, false
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := skipDigits(b, i)
		if j == i {
			return 0, false
		}
		i = j
	}
	return i, true
}

func skipDigits(b []byte, i int) int {
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		i++
	}
	return i
}
