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
