package frame

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"net/url"
	"slices"
)

// Position is where a client stands in a channel: it has every message up
// to Offset of the channel's life Epoch.
type Position struct {
	Offset uint64
	Epoch  string
}

// Cursor maps channel ids to positions. Its text form is what SSE puts in
// event ids (so EventSource resumes by itself through Last-Event-ID), and
// what long-poll requests carry: entries "<id>:<offset>:<epoch>" joined by
// ",", the id percent-encoded like a URL query value.
type Cursor map[string]Position

// ErrBadCursor is returned by ParseCursor and ParseCursorMax for a
// malformed cursor.
var ErrBadCursor = errors.New("frame: bad cursor")

// ErrTooManyEntries is wrapped by the error of ParseCursorMax for a cursor
// of more entries than allowed. It does not wrap ErrBadCursor: a server
// answers it as it answers too many subscriptions.
var ErrTooManyEntries = errors.New("frame: too many cursor entries")

// maxHint bounds the map ParseCursor sizes up front.
const maxHint = 256

// AppendEntry appends one cursor entry.
func AppendEntry(dst []byte, channel string, offset uint64, epoch string) []byte {
	return appendEntryRest(appendQueryEscape(dst, channel), offset, epoch)
}

// String returns the cursor's text form, its entries in no particular
// order.
func (c Cursor) String() string {
	var b []byte
	for id, p := range c {
		if len(b) > 0 {
			b = append(b, ',')
		}
		b = AppendEntry(b, id, p.Offset, p.Epoch)
	}
	return string(b)
}

// Sorted returns the cursor's channel ids in increasing order.
func (c Cursor) Sorted() []string {
	return slices.Sorted(maps.Keys(c))
}

// ParseCursor parses a cursor's text form, of any number of entries. The
// empty string is an empty cursor. It is ParseCursorMax(s, -1): input from
// the network should go through ParseCursorMax instead.
func ParseCursor(s string) (Cursor, error) {
	return ParseCursorMax(s, -1)
}

// ParseCursorMax parses a cursor's text form of at most max entries
// (max < 0: no limit). The empty string is an empty cursor.
//
// Entries are counted as written, a channel named twice counting twice
// (the last one wins in the result). As soon as an entry beyond the
// max-th begins, ParseCursorMax stops and returns an error wrapping
// ErrTooManyEntries, whatever follows: the work done on a hostile cursor
// is bounded by max, not by its length. A malformed entry before that
// gives ErrBadCursor.
//
// In an entry, the id is unescaped as a URL query value and must not be
// empty; the offset is decimal digits (leading zeros allowed) that fit in
// a uint64; the epoch is anything but ':' and ',', possibly empty. Epochs,
// and ids without escapes, share the memory of s.
func ParseCursorMax(s string, max int) (Cursor, error) {
	if s == "" {
		return Cursor{}, nil
	}
	// Size the map once for entries of 16 bytes or more (an epoch alone
	// is 8 to 22), up to max or, without one, a connection's worth: shorter
	// entries grow it, longer ones leave it at most a few times too big.
	hint := len(s)/16 + 1
	if max >= 0 {
		hint = min(hint, max)
	} else {
		hint = min(hint, maxHint)
	}
	c := make(Cursor, hint)
	for i, n := 0, 1; ; n++ {
		// Entry n starts at s[i].
		if max >= 0 && n > max {
			return nil, fmt.Errorf("%w: more than %d", ErrTooManyEntries, max)
		}
		j := i
		for j < len(s) && s[j] != ':' && s[j] != ',' {
			j++
		}
		if j == len(s) || s[j] != ':' {
			return nil, ErrBadCursor
		}
		id := s[i:j]
		j++
		start := j
		var off uint64
		for ; j < len(s) && '0' <= s[j] && s[j] <= '9'; j++ {
			d := uint64(s[j] - '0')
			if off > (math.MaxUint64-d)/10 {
				return nil, ErrBadCursor
			}
			off = off*10 + d
		}
		if j == start || j == len(s) || s[j] != ':' {
			return nil, ErrBadCursor
		}
		j++
		start = j
		for ; j < len(s) && s[j] != ','; j++ {
			if s[j] == ':' {
				return nil, ErrBadCursor
			}
		}
		epoch := s[start:j]
		ch, err := url.QueryUnescape(id)
		if err != nil || ch == "" {
			return nil, ErrBadCursor
		}
		c[ch] = Position{Offset: off, Epoch: epoch}
		if j == len(s) {
			return c, nil
		}
		i = j + 1
	}
}

// appendQueryEscape appends s escaped as url.QueryEscape escapes it,
// without making a string: letters, digits and "-_.~" as they are, a space
// as "+", every other byte as %XX.
func appendQueryEscape(dst []byte, s string) []byte {
	const hex = "0123456789ABCDEF"
	for i := range len(s) {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '_', c == '.', c == '~':
			dst = append(dst, c)
		case c == ' ':
			dst = append(dst, '+')
		default:
			dst = append(dst, '%', hex[c>>4], hex[c&15])
		}
	}
	return dst
}
