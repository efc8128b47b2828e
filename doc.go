// Package halley is a real-time server-to-client push hub for net/http
// servers: a Go re-implementation of the push family of the Ocsigen web
// framework (Eliom_comet and Ocsigen_comet channels), byte-compatible with
// the Ocsigen comet wire protocol.
//
// Use New to create a Hub, Hub.NewChannel (or NewChan for typed values) to
// create channels, Channel.Write to push, and mount Hub.Handler in your mux
// to serve clients. Use Hub.SessionFor to find or create the session (the
// client process) of a request and give it session channels. Server code
// reads channels with Channel.Read or Channel.Reader.
//
// # Channel kinds
//
// A broadcast channel keeps one ring of its last Size messages, shared by
// every reader: memory does not grow with the number of clients, and a
// reader whose position fell off the ring gets ErrChannelFull (a *GapError)
// instead of silence. A newest channel keeps only its last message. A
// session channel belongs to one session and queues at most Size unread
// messages; past that it is dead and says so. A lazy channel calls its
// Producer only while a client waits on it.
//
// # Offsets and outcomes
//
// Every message gets an offset in its channel: 1, 2, 3… Writes report an
// Outcome: the offset, and how many client connections the message was
// handed to (Ocsigen's write outcome). Listeners counts the connections
// waiting on a channel now; Hub.Presence says who they are (counts for
// every channel, members for one made with ChannelOptions.Presence, whose
// subscribers may also ask for join and leave frames).
//
// # Concurrency and backpressure
//
// Hub, Channel and Session methods are safe for concurrent use. A write
// never waits for readers: it stores the message once, encodes it at most
// once per wire format, and wakes the waiting connections, which all share
// those bytes. A slow reader only ever loses its own messages, and learns
// that it did.
//
// # Brokers
//
// The hub publishes broadcast and newest channels through a broker.Broker,
// which numbers messages, keeps history for resume and reaches other nodes.
// The default is broker/memory, for a single process.
//
// # Control
//
// Hub.Deactivate, Hub.Activate, Hub.SetPollTimeout and Hub.Command give the
// run-time switches of Ocsigen_comet's Security module and command pipe.
package halley
