package frame

import (
	"errors"
	"strings"
)

// ErrTooManyEntries is temporary (replaced by the wt-leaf branch).
var ErrTooManyEntries = errors.New("frame: too many cursor entries")

// ParseCursorMax is temporary (replaced by the wt-leaf branch).
func ParseCursorMax(s string, max int) (Cursor, error) {
	if strings.Count(s, ",")+1 > max && s != "" {
		return nil, ErrTooManyEntries
	}
	return ParseCursor(s)
}
