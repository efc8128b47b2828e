package httpapi

import "github.com/halleyhq/halley/internal/wire/frame"

// A publication's body is nearly always {"channel":"…","data":…}, and
// decoding it with encoding/json (a Decoder refusing unknown fields, then
// a compaction of the data) was the largest part of the API's own cost
// per publish. scanPublish reads that shape by hand; anything else (an
// escape in the channel name, a key in another case, a duplicate or
// unknown key, a malformed body) is left to the strict decoder, which
// also words the errors, so the two agree on what is accepted.

// scanned is what scanPublish read of a publication: its channel, the
// raw text of its data (nil when absent), valid JSON, and whether that
// text is compact (no white space outside its strings).
type scanned struct {
	channel string
	data    []byte
	compact bool
}

// scanPublish reads the publication object at the start of b (after
// white space) and returns what it holds and the index after the object.
// ok is false when b does not start with an object of the simple shape,
// or its data is not valid JSON (or nests too deeply for
// frame.ValueEnd): the caller then decodes it with the strict decoder.
func scanPublish(b []byte) (p scanned, end int, ok bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return scanned{}, 0, false
	}
	i = skipSpace(b, i+1)
	var seenChannel, seenData bool
	if i < len(b) && b[i] == '}' {
		return scanned{}, i + 1, true
	}
	for {
		key, j, ok := scanPlainString(b, i)
		if !ok {
			return scanned{}, 0, false
		}
		j = skipSpace(b, j)
		if j >= len(b) || b[j] != ':' {
			return scanned{}, 0, false
		}
		j = skipSpace(b, j+1)
		switch string(key) { // compared, not allocated
		case "channel":
			if seenChannel {
				return scanned{}, 0, false
			}
			seenChannel = true
			var name []byte
			if name, j, ok = scanPlainString(b, j); !ok {
				return scanned{}, 0, false
			}
			p.channel = string(name)
		case "data":
			if seenData {
				return scanned{}, 0, false
			}
			seenData = true
			k, compact, ok := frame.ValueEnd(b, j)
			if !ok {
				return scanned{}, 0, false
			}
			p.data, p.compact, j = b[j:k], compact, k
		default:
			return scanned{}, 0, false
		}
		j = skipSpace(b, j)
		if j >= len(b) {
			return scanned{}, 0, false
		}
		switch b[j] {
		case ',':
			i = skipSpace(b, j+1)
		case '}':
			return p, j + 1, true
		default:
			return scanned{}, 0, false
		}
	}
}

// skipSpace returns the index of the first byte from i on that is not
// JSON white space.
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

// scanPlainString reads a JSON string at b[i] made only of printable
// ASCII without escapes, and returns its contents (a part of b) and the
// index after it; ok is false for anything else (which the strict
// decoder handles).
func scanPlainString(b []byte, i int) ([]byte, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return nil, 0, false
	}
	if j := frame.PlainEnd(b, i+1); j < len(b) && b[j] == '"' {
		return b[i+1 : j], j + 1, true
	}
	return nil, 0, false
}
