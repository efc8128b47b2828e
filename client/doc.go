// Package client is the Go client of the Halley protocol (docs/protocol.md):
// it reads channels of a Halley hub over WebSocket, Server-Sent Events or
// JSON long-poll, keeps its position in every channel, and resumes from
// there after any disconnection or transport switch.
//
// Use New to make a Client, Subscribe to name the channels to read, Run to
// connect (it reconnects by itself until its context is done), and Events
// to receive what the channels carry. Use API to create channels and
// publish from a backend.
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
