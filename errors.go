package halley

import (
	"errors"
	"strings"

	"github.com/halleyhq/halley/broker"
)

// Errors that callers branch on with errors.Is. Each has a stable,
// machine-readable Reason used on the wire (see Reason).
var (
	// ErrNameTaken is returned when a channel is created with the name of
	// a live channel (Ocsigen's Non_unique_channel_name).
	ErrNameTaken = errors.New("halley: channel name taken")
	// ErrTooManyChannels is returned when creating a channel would exceed
	// Config.MaxChannels (Ocsigen's Too_many_virtual_channels).
	ErrTooManyChannels = errors.New("halley: too many channels")
	// ErrInvalidName is returned for a channel name that is empty, too long
	// or contains a control character.
	ErrInvalidName = errors.New("halley: invalid channel name")
	// ErrInvalidOptions is returned when ChannelOptions do not fit the kind
	// (a session channel without a session, a lazy one without producer).
	ErrInvalidOptions = errors.New("halley: invalid channel options")
	// ErrUnknownChannel is returned when no live channel has the id.
	ErrUnknownChannel = errors.New("halley: unknown channel")
	// ErrChannelClosed is returned by reads and writes on a channel that
	// was closed: its readers are told it ended.
	ErrChannelClosed = errors.New("halley: channel ended")
	// ErrChannelFull is the gap a reader meets when its position fell off
	// a broadcast channel's ring (Eliom's Channel_full), or when a session
	// channel overflowed and is dead for its client.
	ErrChannelFull = errors.New("halley: channel full")
	// ErrSessionClosed is returned when using a session that was closed.
	ErrSessionClosed = errors.New("halley: session closed")
	// ErrTooManySessions is returned when creating a session would exceed
	// Config.MaxSessions.
	ErrTooManySessions = errors.New("halley: too many sessions")
	// ErrUnknownSession is returned when no live session has the id.
	ErrUnknownSession = errors.New("halley: unknown session")
	// ErrWrongKind is returned by an operation the channel's kind does not
	// support, such as writing to a lazy channel.
	ErrWrongKind = errors.New("halley: operation not supported by this channel kind")
	// ErrDeactivated is returned while the hub is deactivated.
	ErrDeactivated = errors.New("halley: deactivated")
	// ErrShutdown is returned once Shutdown has begun.
	ErrShutdown = errors.New("halley: hub shut down")
	// ErrUnknownCommand is returned by Command for a line it cannot parse.
	ErrUnknownCommand = errors.New("halley: unknown command")
	// ErrTooLarge is returned for a message over Config.MaxMessageSize.
	ErrTooLarge = errors.New("halley: message too large")
	// ErrRejected is returned when a bus filter or a notifier refuses a
	// write; filters wrap it with their reason.
	ErrRejected = errors.New("halley: rejected")
	// ErrUnknownNotifier is returned when no notifier has the name.
	ErrUnknownNotifier = errors.New("halley: unknown notifier")
	// ErrNotABus is returned when a client writes to a channel that is
	// not a bus.
	ErrNotABus = errors.New("halley: not a bus")
	// ErrInvalidToken refuses a client whose token is missing where one
	// is required, malformed, or not signed by a trusted key.
	ErrInvalidToken = errors.New("halley: invalid token")
	// ErrTokenExpired refuses a client whose token has expired.
	ErrTokenExpired = errors.New("halley: token expired")
	// ErrForbidden refuses what a client's rights do not allow: reading a
	// channel, writing to a bus, listening on a key.
	ErrForbidden = errors.New("halley: forbidden")
	// ErrRateLimited refuses a new session to a client address that asked
	// for too many too fast (Config.SessionRate).
	ErrRateLimited = errors.New("halley: rate limited")
	// ErrTooManyListens is returned when a session would listen on more
	// than Config.MaxListens keys.
	ErrTooManyListens = errors.New("halley: too many listens")
	// ErrInvalidKey is returned for a notifier key that is empty, over
	// Config.MaxKeyLen bytes, not UTF-8 or holds a control character.
	ErrInvalidKey = errors.New("halley: invalid key")
)

var reasons = []struct {
	err    error
	reason string
}{
	{ErrNameTaken, "name_taken"},
	{ErrTooManyChannels, "too_many_channels"},
	{ErrInvalidName, "invalid_name"},
	{ErrInvalidOptions, "invalid_options"},
	{ErrUnknownChannel, "unknown_channel"},
	{ErrChannelClosed, "channel_ended"},
	{ErrChannelFull, "channel_full"},
	{ErrSessionClosed, "session_closed"},
	{ErrUnknownSession, "unknown_session"},
	{ErrTooManySessions, "too_many_sessions"},
	{ErrWrongKind, "wrong_kind"},
	{ErrDeactivated, "deactivated"},
	{ErrShutdown, "shutdown"},
	{broker.ErrClosed, "shutdown"},
	{ErrUnknownCommand, "unknown_command"},
	{ErrTooLarge, "message_too_large"},
	{ErrRejected, "rejected"},
	{ErrUnknownNotifier, "unknown_notifier"},
	{ErrNotABus, "not_a_bus"},
	{ErrInvalidToken, "invalid_token"},
	{ErrTokenExpired, "token_expired"},
	{ErrForbidden, "forbidden"},
	{ErrRateLimited, "rate_limited"},
	{ErrTooManyListens, "too_many_listens"},
	{ErrInvalidKey, "invalid_key"},
	{ErrBrokerUnavailable, "broker_unavailable"},
	{broker.ErrUnavailable, "broker_unavailable"},
}

// Reason returns the machine-readable reason for err, as written in error
// answers on the wire ("name_taken", "channel_full", …), or "internal" for
// an error Halley does not know.
func Reason(err error) string {
	for _, r := range reasons {
		if errors.Is(err, r.err) {
			return r.reason
		}
	}
	return "internal"
}

// RejectedError is a write that a bus filter refused, with the reason its
// writer is told. It matches ErrRejected with errors.Is.
type RejectedError struct{ Reason string }

// Error implements error.
func (e *RejectedError) Error() string { return ErrRejected.Error() + ": " + e.Reason }

// Is makes errors.Is(err, ErrRejected) true.
func (e *RejectedError) Is(target error) bool { return target == ErrRejected }

// Reject returns the error a Filter returns to refuse a write, with the
// reason the writer is told.
func Reject(reason string) error { return &RejectedError{Reason: reason} }

// RejectReason returns the reason of a refused write: that of a
// *RejectedError, or the text after "halley: rejected: " when a filter
// wrapped ErrRejected with fmt.Errorf. It reports false for other errors.
func RejectReason(err error) (string, bool) {
	if re, ok := errors.AsType[*RejectedError](err); ok {
		return re.Reason, true
	}
	if !errors.Is(err, ErrRejected) {
		return "", false
	}
	msg := err.Error()
	if i := strings.LastIndex(msg, ErrRejected.Error()+": "); i >= 0 {
		return msg[i+len(ErrRejected.Error())+2:], true
	}
	return "rejected", true
}

// clientMessage is the text a client is told about err: a rejected
// write's reason, else the error.
func clientMessage(err error) string {
	if reason, ok := RejectReason(err); ok {
		return reason
	}
	return err.Error()
}
