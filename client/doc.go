// Package client is the Go client of the Halley protocol (docs/protocol.md):
// it reads channels of a Halley hub over WebSocket, Server-Sent Events or
// JSON long-poll, keeps its position in every channel, and resumes from
// there after any disconnection or transport switch.
//
// Use New to make a Client, Subscribe to name the channels to read, Run to
// connect (it reconnects by itself until its context is done), and Events
// to receive what the channels carry. Use Write to write to a bus as the
// client's session, and Listen to receive a notifier's notifications as
// "notify" events. Use API to create channels and publish from a backend.
// Set Options.Presence to receive the join and leave events of channels
// with presence, and call Client.Presence (as the client) or API.Presence
// (as a backend, with session ids) to ask who reads a channel.
//
// # Delivery
//
// A message is delivered at most once and in offset order per channel:
// the client drops any message at or below its position, so the
// redeliveries that follow a resume never reach the application. The
// position of a channel counts the events handed to the Events channel: a
// message read from the network but never handed over (the connection
// ended while Events was full) is not counted, and is read again on the
// next connection. Lost history is reported, never hidden: a "gap" event
// says which offsets are gone, an "ended" event that a subscription is
// over.
//
// Notifications travel on the session's notification channel, a channel
// like the others: they are delivered as EventNotify events, at most once
// and in the order they were sent, and a client that falls behind gets a
// gap event of that channel. When the session itself is lost (it expired,
// or the server closed it), a gap event with reason "session_closed" says
// so, and the client listens again in its new session.
//
// # Tokens
//
// A hub with an Authorizer wants a token (such as a JWT) from its
// clients: set Options.Token, which the client calls for each connection
// and each HTTP request, and sends as "Authorization: Bearer". A stream
// never outlives its token's grant: over WebSocket the client sends a new
// token before the grant ends (after about 80% of its remaining life, the
// hello frame telling when), and the stream goes on; over SSE and
// long-poll, and over WebSocket when the refresh fails, the server ends
// the stream at expiry (a close event with reason "token_expired") and
// the client reconnects at once with a new token, resuming from its
// positions: nothing is lost or repeated. The refresh is timed on the
// client's clock: it should agree with the server's to within a second.
//
// A token the server refuses (401 invalid_token or token_expired, 403
// forbidden) is not presented again: the client asks Token for another,
// with backoff, and Run returns the refusal, a *RefusedError, when Token
// gives the same one again (always, with StaticToken). A token refused as
// expired is the exception, presented once more, since the server's clock
// may be a little ahead of the token source's. A channel the token does
// not allow ends with an ended event of reason "forbidden".
//
// # Writes
//
// Writes of one client enter a bus in the order its Write calls return;
// concurrent Write calls have no order. Write never resends: a write whose
// answer was lost (ErrConnectionLost, or ctx done) may or may not be in the
// bus.
//
// # Backpressure
//
// Events is a buffered channel (Options.Buffer). When it is full the
// connection stops reading, and the server holds the data for the client
// (in the channel's ring) or drops the connection as a slow client, which
// the client resumes. Nothing is ever dropped by the client itself.
//
// # Concurrency
//
// The methods of Client are safe for concurrent use. Run owns every
// goroutine the client starts; they are all stopped when it returns.
package client
