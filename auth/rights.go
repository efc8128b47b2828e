package auth

import (
	"fmt"
	"slices"
	"strings"

	"github.com/halleyhq/halley"
)

// Rights is what a client may do beyond public channels and its own
// session: read the channels and buses whose ids match Channels, write to
// the buses matching Write, and listen on the notifier keys matching
// Listen. Build it with ParseRights to have its patterns checked.
type Rights struct {
	// Channels are the channels (and buses) the client may read.
	Channels Patterns
	// Write are the buses the client may write to.
	Write Patterns
	// Listen are "notifier:keypattern" patterns, or "*", for the keys
	// the client may listen on. A pattern without ':' other than "*"
	// matches nothing.
	Listen Patterns
}

var _ halley.Rights = Rights{}

// CanSubscribe reports whether channel matches Channels.
func (r Rights) CanSubscribe(channel string) bool { return r.Channels.Match(channel) }

// CanWrite reports whether bus matches Write.
func (r Rights) CanWrite(bus string) bool { return r.Write.Match(bus) }

// CanListen reports whether a Listen pattern allows the key of the
// notifier: "*", or the notifier's name, ':' and a pattern the key
// matches.
func (r Rights) CanListen(notifier, key string) bool {
	for _, pat := range r.Listen {
		if pat == "*" {
			return true
		}
		// The notifier part ends at the first ':', so a key may contain
		// ':' but a notifier name in a listen pattern may not.
		n, k, ok := strings.Cut(pat, ":")
		if ok && n == notifier && matchPattern(k, key) {
			return true
		}
	}
	return false
}

// ParseRights checks three lists of patterns and returns the Rights they
// give. Each list has at most MaxPatterns patterns of 1 to MaxPatternLen
// bytes of UTF-8 without control characters; listen patterns are "*" or
// "notifier:keypattern", with an exact notifier name of at most
// halley.MaxNameLen bytes. An error wraps ErrInvalidPattern and names the
// list and the index of the first bad pattern, without quoting it (it may
// come from a client's token). The Rights holds copies of the lists.
func ParseRights(channels, write, listen []string) (Rights, error) {
	for _, l := range []struct {
		name   string
		pats   []string
		listen bool
	}{{"channels", channels, false}, {"write", write, false}, {"listen", listen, true}} {
		if len(l.pats) > MaxPatterns {
			return Rights{}, fmt.Errorf("%w: %s: %d patterns, at most %d", ErrInvalidPattern, l.name, len(l.pats), MaxPatterns)
		}
		for i, pat := range l.pats {
			var why string
			if l.listen {
				// Bound the whole first, so that checking a huge
				// pattern costs no more than refusing it.
				if why = checkPattern(pat, halley.MaxNameLen+1+MaxPatternLen); why == "" {
					why = checkListen(pat)
				}
			} else {
				why = checkPattern(pat, MaxPatternLen)
			}
			if why != "" {
				return Rights{}, fmt.Errorf("%w: %s[%d]: %s", ErrInvalidPattern, l.name, i, why)
			}
		}
	}
	return Rights{
		Channels: slices.Clone(Patterns(channels)),
		Write:    slices.Clone(Patterns(write)),
		Listen:   slices.Clone(Patterns(listen)),
	}, nil
}
