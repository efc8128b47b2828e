package auth

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/halleyhq/halley"
)

// MaxPatterns bounds the number of patterns in each list ParseRights
// accepts.
const MaxPatterns = 256

// MaxPatternLen is the longest pattern ParseRights accepts, in bytes: a
// name of halley.MaxNameLen bytes and a trailing '*'. The key part of a
// listen pattern has the same bound, and its notifier part that of a name.
const MaxPatternLen = halley.MaxNameLen + 1

// ErrInvalidPattern is returned by ParseRights for a list with too many
// patterns or a pattern it cannot accept.
var ErrInvalidPattern = errors.New("auth: invalid pattern")

// Patterns is a list of channel-name patterns (see the package doc): a
// name matches the list if it matches any of them. A nil or empty list
// matches nothing.
type Patterns []string

// Match reports whether name matches one of the patterns. It costs at most
// len(name) per pattern and does not allocate.
func (p Patterns) Match(name string) bool {
	for _, pat := range p {
		if matchPattern(pat, name) {
			return true
		}
	}
	return false
}

// matchPattern reports whether name matches one pattern: its prefix when
// it ends with '*', else all of it.
func matchPattern(pat, name string) bool {
	if prefix, ok := strings.CutSuffix(pat, "*"); ok {
		return strings.HasPrefix(name, prefix)
	}
	return pat == name
}

// checkPattern says what is wrong with a pattern, or returns "".
func checkPattern(pat string, maxLen int) string {
	switch {
	case pat == "":
		return "empty pattern"
	case len(pat) > maxLen:
		return fmt.Sprintf("pattern longer than %d bytes", maxLen)
	case !utf8.ValidString(pat):
		return "pattern not valid UTF-8"
	case strings.ContainsFunc(pat, isControl):
		return "control character in pattern"
	}
	return ""
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// checkListen says what is wrong with a listen pattern, or returns "".
func checkListen(pat string) string {
	if pat == "*" {
		return ""
	}
	notifier, key, ok := strings.Cut(pat, ":")
	switch {
	case !ok:
		return `listen pattern without ':' (want "notifier:key" or "*")`
	case notifier == "":
		return "listen pattern without a notifier name"
	case strings.Contains(notifier, "*"):
		// "*:42" reads as "key 42 of any notifier", which patterns cannot
		// say: refuse it rather than match a notifier named "*".
		return `'*' in the notifier part (an exact name; "*" alone allows all)`
	}
	if why := checkPattern(notifier, halley.MaxNameLen); why != "" {
		return "notifier name: " + why
	}
	if why := checkPattern(key, MaxPatternLen); why != "" {
		return "key: " + why
	}
	return ""
}
