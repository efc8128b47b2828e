// Package broker defines the contract between a Halley hub and the thing
// that knows about other nodes: it assigns offsets to published messages,
// keeps a bounded history per stream for resume, fans publications out to
// every node subscribed to a stream, and carries node-to-node broadcasts.
//
// The package is a leaf: it imports nothing from Halley, so the root package
// can default to broker/memory and other backends (broker/redis) can live in
// their own packages, linked only when imported.
//
// Use broker/memory for a single process and broker/brokertest to check that
// an implementation honours this contract.
package broker

import (
	"context"
	"errors"
)

// ErrClosed is returned by a Broker that has been closed.
var ErrClosed = errors.New("broker: closed")

// ErrUnavailable is wrapped by the errors of a Broker whose backend cannot
// be reached for now (a Redis server down or failing over): the call may
// succeed later, once the broker has reconnected by itself. Callers branch
// on it with errors.Is, for instance to answer 503 instead of 500.
var ErrUnavailable = errors.New("broker: unavailable")

// Message is one publication in a stream, as a broker hands it to nodes.
//
// Data is shared between every node-local reader: nobody may modify it after
// Publish.
type Message struct {
	// Stream is the name of the stream (a Halley channel id).
	Stream string
	// Offset numbers the message in its stream: 1, 2, 3…, without gaps.
	Offset uint64
	// Epoch identifies one life of the stream. It changes when the stream's
	// history is lost (the stream was removed, or a non-persistent broker
	// restarted), so a reader holding an offset from another epoch knows its
	// position means nothing any more.
	Epoch string
	// Data is the payload.
	Data []byte
}

// Position is the top of a stream: the offset of its last message (0 when
// empty) and its epoch.
type Position struct {
	Offset uint64
	Epoch  string
}

// PublishOptions are per-call knobs for Publish.
type PublishOptions struct {
	// HistorySize is how many of the last messages the stream keeps for
	// History. Zero keeps none; brokers may keep more.
	HistorySize int
	// HistoryBytes bounds the payload bytes (the sum of len(Data)) of the
	// retained history as well: the oldest messages are dropped first,
	// and the newest message is always kept, whatever its size. Zero: no
	// byte bound. Brokers may keep less, never more. Each Publish applies
	// its own bound, so a later Publish with a smaller one trims what an
	// earlier one kept.
	HistoryBytes int
}

// PublishResult tells what Publish did.
type PublishResult struct {
	// Position is the stream's top after the publication: its Offset is the
	// offset given to the message.
	Position Position
	// Delivered is the number of local readers the Handler reported for this
	// message when the broker delivers synchronously (as broker/memory
	// does), or -1 when delivery happens later and the count is unknown.
	Delivered int
}

// HistoryResult is an answer of History.
type HistoryResult struct {
	// Messages are the retained messages with an offset greater than the
	// query's Since, oldest first, at most Limit of them.
	Messages []Message
	// Position is the stream's top when History ran.
	Position Position
	// First is the offset of the oldest retained message, or Position.Offset+1
	// when nothing is retained. A reader at offset o with o+1 < First has
	// missed messages.
	First uint64
}

// Handler receives what a broker delivers to this node. Its methods are
// called from the broker's goroutines (or from Publish itself); they must
// not block for long.
type Handler interface {
	// HandleMessage is called once for every message published on a stream
	// this node subscribed to, by any node including this one, in offset
	// order per stream. It returns how many local readers the message was
	// handed to.
	HandleMessage(m Message) int
	// HandleBroadcast is called for every Broadcast on a topic, by any node
	// including this one.
	HandleBroadcast(topic string, data []byte)
}

// ContextHandler is implemented by handlers that take the publisher's
// context along with a delivery made within Publish. A broker that
// delivers synchronously, on the publisher's goroutine (the memory
// broker), calls HandleMessageContext with Publish's ctx instead of
// HandleMessage; deliveries from the broker's own goroutines use
// HandleMessage. The hub uses it to write the streams a publish woke on
// the publisher's goroutine (Hub.DeferWrites).
type ContextHandler interface {
	Handler
	// HandleMessageContext is HandleMessage with the context of the
	// Publish that delivers m.
	HandleMessageContext(ctx context.Context, m Message) int
}

// Checker is implemented by brokers that can check their delivery path end
// to end (a broker over a network sees its own probe come back through its
// subscriptions). The hub's readiness uses it when its broker has it.
type Checker interface {
	// Ready returns nil when the broker can deliver now, and an error when
	// it cannot (its backend unreachable, or delivery stalled) or when ctx
	// ends before it knows. It does not wait past ctx's deadline.
	Ready(ctx context.Context) error
}

// Broker is the contract described in the package documentation. All
// methods are safe for concurrent use.
type Broker interface {
	// Start registers the handler that receives messages and broadcasts.
	// It is called once, before any other method.
	Start(ctx context.Context, h Handler) error
	// Publish appends data to a stream, creating the stream if needed, and
	// delivers it to the subscribed nodes.
	Publish(ctx context.Context, stream string, data []byte, opts PublishOptions) (PublishResult, error)
	// History returns retained messages after since, up to limit (0 means
	// every retained message).
	History(ctx context.Context, stream string, since uint64, limit int) (HistoryResult, error)
	// Subscribe makes this node receive the stream's messages. It creates
	// the stream if needed (empty, with a new epoch), so that History tells
	// its epoch before the first message.
	Subscribe(ctx context.Context, stream string) error
	// Unsubscribe undoes Subscribe.
	Unsubscribe(ctx context.Context, stream string) error
	// Remove drops a stream's history and offset counter: a later Publish on
	// the same name starts a new epoch at offset 1.
	Remove(ctx context.Context, stream string) error
	// Broadcast sends data to every node's HandleBroadcast.
	Broadcast(ctx context.Context, topic string, data []byte) error
	// Close releases the broker's resources and stops its goroutines.
	Close(ctx context.Context) error
}
