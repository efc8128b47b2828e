package frame

import (
	"bytes"
	"encoding/json"
)

// Valid reports whether b is one JSON value, with white space around it or
// not: exactly json.Valid(b), but without encoding/json's scanner (and
// its allocations for an error) unless b nests maxValueDepth levels or
// more, which skipValue does not follow.
func Valid(b []byte) bool {
	i := skipSpace(b, 0)
	if j, ok := skipValue(b, i, 0); ok && skipSpace(b, j) == len(b) {
		return true
	}
	// skipValue refuses what the scanner refuses, and values nested too
	// deeply for it: those have at least maxValueDepth opening brackets.
	if bytes.Count(b, []byte{'['})+bytes.Count(b, []byte{'{'}) < maxValueDepth {
		return false
	}
	return json.Valid(b)
}

// Compacted reports whether b, a valid JSON value (see Valid), has no
// white space outside its strings: it is what json.Compact makes of it.
func Compacted(b []byte) bool {
	for i := 0; i < len(b); {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			return false
		case '"':
			j, ok := skipString(b, i)
			if !ok {
				return false
			}
			i = j
		default:
			i++
		}
	}
	return true
}
