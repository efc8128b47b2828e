// Package ocsigen is a byte-compatible codec of the legacy Ocsigen_comet
// long-poll protocol (the low-level ocsigenserver extension, not Eliom's JSON
// comet). It holds pure functions only: no I/O, no state, safe for concurrent
// use.
//
// A client sends a POST with Content-Type [MediaType] and a form-encoded body
// whose registration field lists channel ids separated by LF; repeated
// registration fields are merged. The server answers 200 with one line per
// channel, lines joined by LF with no trailing LF: "<id>:<value>" where the
// value is percent-encoded so it never contains ':' or LF, or
// "<id>:ENDED_CHANNEL" ([Ended]) for a channel the server does not know (or no
// longer knows). Ids are written raw, so a line splits on its last ':'. An
// empty body means the poll timed out with nothing to report.
//
// Use [DecodeRegistrationMax] to read a request body from the network, with
// a cap on its channel ids ([DecodeRegistration] has none), and [AppendLine]
// and [AppendEnded] to build an answer; [EncodeRegistration] and [ParseResponse]
// are the client side. [ParseCommand] parses the "comet:" command-pipe lines
// (activate, deactivate, set_timeout).
//
// HTTP status rules belong to the server, not to this package: 400 text/plain
// "Empty or incorrect registration" when [DecodeRegistration] fails, 503 with
// an empty body while comet is deactivated or when a waiting request is
// killed.
package ocsigen
