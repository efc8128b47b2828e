package halley

import "fmt"

// Kind is the behaviour of a channel, after the Eliom channel kinds.
type Kind uint8

const (
	// KindBroadcast (Eliom's Global scope) keeps one ring of the last Size
	// messages shared by every reader; memory does not depend on the number
	// of readers, and a reader that fell off the ring gets ErrChannelFull.
	KindBroadcast Kind = iota
	// KindNewest (Eliom's create_newest) keeps only the last message; a
	// reader gets the newest value and may skip intermediate ones.
	KindNewest
	// KindSession (Eliom's Client_process scope) belongs to one session: a
	// queue of at most Size unread messages. A message that would exceed it
	// drops the unread ones, the reader gets ErrChannelFull once, and the
	// channel is dead: later writes fail with ErrChannelFull.
	KindSession
	// KindLazy (Eliom's create_unlimited) has no writer: its Producer is
	// called only while a client waits on it, so a value reflects the time
	// of the request. Each value goes to the clients waiting when it came.
	KindLazy
)

var kindNames = [...]string{"broadcast", "newest", "session", "lazy"}

// String returns the kind's wire name: "broadcast", "newest", "session" or
// "lazy".
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// ParseKind returns the Kind named s (as Kind.String writes it). The empty
// string is KindBroadcast.
func ParseKind(s string) (Kind, error) {
	if s == "" {
		return KindBroadcast, nil
	}
	for i, n := range kindNames {
		if n == s {
			return Kind(i), nil
		}
	}
	return 0, fmt.Errorf("%w: unknown kind %q", ErrInvalidOptions, s)
}
