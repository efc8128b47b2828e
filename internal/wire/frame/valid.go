package frame

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math/bits"
)

// Valid reports whether b is one JSON value, with white space around it or
// not: exactly json.Valid(b), but without encoding/json's scanner (and
// its allocations for an error) unless b nests maxValueDepth levels or
// more, which skipValue does not follow.
func Valid(b []byte) bool {
	i := skipSpace(b, 0)
	var spaced bool
	if j, ok := skipValue(b, i, 0, &spaced); ok && skipSpace(b, j) == len(b) {
		return true
	}
	// skipValue refuses what the scanner refuses, and values nested too
	// deeply for it: those have at least maxValueDepth opening brackets.
	if bytes.Count(b, []byte{'['})+bytes.Count(b, []byte{'{'}) < maxValueDepth {
		return false
	}
	return json.Valid(b)
}

// ValueEnd checks the JSON value that starts at b[i] (no white space
// before it) and returns the index after it, and whether the value is
// compact (no white space outside its strings: what json.Compact makes
// of it, see Compacted). It accepts what json.Valid accepts, but for
// values nested maxValueDepth levels or more, which it refuses with the
// invalid ones: the caller then asks encoding/json.
func ValueEnd(b []byte, i int) (end int, compact, ok bool) {
	var spaced bool
	end, ok = skipValue(b, i, 0, &spaced)
	return end, ok && !spaced, ok
}

// PlainEnd returns the index of the first byte from b[i] on (or len(b))
// that a JSON string cannot hold as it is in printable ASCII: a quote, a
// backslash, a control character or a byte of 0x80 and above. It reads
// eight bytes at a time.
func PlainEnd(b []byte, i int) int { return plainRun(b, i) }

// Compacted reports whether b, a valid JSON value (see Valid), has no
// white space outside its strings: it is what json.Compact makes of it.
func Compacted(b []byte) bool {
	const (
		lo = 0x0101010101010101
		hi = 0x8080808080808080
	)
	for i := 0; i < len(b); {
		// Outside its strings, a valid JSON text has only bytes from
		// 0x2b on but for white space and quotes (and '!', never): find
		// the first byte below 0x23, eight at a time.
		for len(b)-i >= 8 {
			x := binary.LittleEndian.Uint64(b[i:])
			if m := (x - lo*0x23) &^ x & hi; m != 0 {
				i += bits.TrailingZeros64(m) / 8
				break
			}
			i += 8
		}
		for i < len(b) && b[i] >= 0x23 {
			i++
		}
		if i == len(b) {
			return true
		}
		if b[i] != '"' {
			return false
		}
		j, ok := skipString(b, i)
		if !ok {
			return false
		}
		i = j
	}
	return true
}
