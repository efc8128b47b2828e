package redis

import (
	"context"
	"strconv"

	"github.com/halleyhq/halley/broker"
	"github.com/redis/rueidis"
)

// SetBeforeReconnect makes the supervisor call f before each attempt to
// open a new pub/sub connection. Call it before Start.
func SetBeforeReconnect(b *Broker, f func(ctx context.Context)) { b.beforeReconnect = f }

// PublishSilently publishes like Publish but without the PUBLISH, as if
// every node had missed the message.
func PublishSilently(ctx context.Context, b *Broker, stream string, data []byte, opts broker.PublishOptions) (broker.PublishResult, error) {
	k := b.keys(stream)
	args := []string{string(data), strconv.Itoa(opts.HistorySize), strconv.Itoa(opts.HistoryBytes), newEpoch(), ""}
	return b.publish(ctx, stream, k, args)
}

// Fills returns how many holes b filled from History on delivery.
func Fills(b *Broker) int64 { return b.fills.Load() }

// Inject hands b's pub/sub hook a message as if it came on the channel of
// stream.
func Inject(b *Broker, stream, envelope string) {
	b.onMessage(rueidis.PubSubMessage{Channel: b.keys(stream).channel, Message: envelope})
}

// LastID returns the id of the last message b delivered on stream.
func LastID(b *Broker, stream string) string {
	b.mu.Lock()
	st := b.streams[stream]
	b.mu.Unlock()
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.lastID
}
