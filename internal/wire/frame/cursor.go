package frame

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
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

// ErrBadCursor is returned by ParseCursor for a malformed cursor.
var ErrBadCursor = errors.New("frame: bad cursor")

// AppendEntry appends one cursor entry.
func AppendEntry(dst []byte, channel string, offset uint64, epoch string) []byte {
	dst = append(dst, url.QueryEscape(channel)...)
	dst = append(dst, ':')
	dst = strconv.AppendUint(dst, offset, 10)
	dst = append(dst, ':')
	return append(dst, epoch...)
}

// String returns the cursor's text form, entries in the order of ids
// (nil: sorted map order is not needed by the server).
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

// ParseCursor parses a cursor's text form. The empty string is an empty
// cursor.
func ParseCursor(s string) (Cursor, error) {
	c := Cursor{}
	if s == "" {
		return c, nil
	}
	for _, e := range strings.Split(s, ",") {
		id, rest, ok := strings.Cut(e, ":")
		if !ok {
			return nil, ErrBadCursor
		}
		off, epoch, ok := strings.Cut(rest, ":")
		if !ok || strings.ContainsAny(epoch, ":,") {
			return nil, ErrBadCursor
		}
		n, err := strconv.ParseUint(off, 10, 64)
		if err != nil {
			return nil, ErrBadCursor
		}
		ch, err := url.QueryUnescape(id)
		if err != nil || ch == "" {
			return nil, ErrBadCursor
		}
		c[ch] = Position{Offset: n, Epoch: epoch}
	}
	return c, nil
}
