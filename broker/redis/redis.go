package redis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/halleyhq/halley/broker"
	"github.com/redis/rueidis"
)

// Broker is a broker.Broker over Redis, shared by every Halley node that
// uses the same Redis and Prefix. The zero value is not usable: make one
// with New. All its methods are safe for concurrent use.
type Broker struct {
	opts   Options
	client rueidis.Client
	log    *slog.Logger
	// node identifies this broker among those sharing the Redis: its probe
	// channel is bcast's sibling prefix:probe:node.
	node           string
	bcast, probeCh string

	// ctx is cancelled by Close: it stops the supervisor and bounds the
	// broker's own calls.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed atomic.Bool

	mu      sync.Mutex
	handler broker.Handler
	started bool
	// conn is the pub/sub connection, nil while there is none.
	conn    *psConn
	streams map[string]*sub
	probes  map[string]chan struct{}

	// repair asks the supervisor to catch up the stale streams.
	repair chan struct{}
	// counts counts the operations and their failures (stats.go).
	counts opCounts
	// fills counts the holes filled from History on delivery (tests).
	fills atomic.Int64

	// beforeReconnect, when set (by tests), runs in the supervisor before
	// each attempt to open a new pub/sub connection.
	beforeReconnect func(ctx context.Context)
}

var (
	_ broker.Broker  = (*Broker)(nil)
	_ broker.Checker = (*Broker)(nil)
)

// New connects to Redis (or asks the Sentinels where the primary is) and
// returns a broker that is not started yet. It fails when opts are invalid
// or Redis cannot be reached (with an error wrapping broker.ErrUnavailable).
func New(ctx context.Context, opts Options) (*Broker, error) {
	opts = opts.withDefaults()
	if strings.ContainsAny(opts.Prefix, "{}") {
		return nil, fmt.Errorf("redis broker: Prefix %q has a brace (it would break the keys' hash tags)", opts.Prefix)
	}
	co, err := opts.clientOption()
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	client, err := rueidis.NewClient(co)
	if err != nil {
		return nil, fmt.Errorf("redis broker: connect: %w: %w", broker.ErrUnavailable, err)
	}
	b := &Broker{
		opts:    opts,
		client:  client,
		log:     opts.Logger,
		node:    strings.ToLower(newEpoch() + newEpoch()),
		streams: make(map[string]*sub),
		probes:  make(map[string]chan struct{}),
		repair:  make(chan struct{}, 1),
	}
	b.bcast = opts.Prefix + ":broadcast"
	b.probeCh = opts.Prefix + ":probe:" + b.node
	b.ctx, b.cancel = context.WithCancel(context.Background())
	return b, nil
}

// Start implements broker.Broker: it opens the pub/sub connection and
// subscribes to the node-to-node broadcasts, failing (with an error
// wrapping broker.ErrUnavailable) when that cannot be done within ctx or
// Options.IOTimeout.
func (b *Broker) Start(ctx context.Context, h broker.Handler) error {
	b.mu.Lock()
	switch {
	case b.closed.Load():
		b.mu.Unlock()
		return broker.ErrClosed
	case b.started:
		b.mu.Unlock()
		return errors.New("redis broker: started twice")
	}
	b.handler, b.started = h, true
	b.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, b.opts.IOTimeout)
	defer cancel()
	pc, err := b.connect(ctx)
	if err != nil {
		b.mu.Lock()
		b.started = false // Start may be tried again
		b.mu.Unlock()
		return b.fail("start", "", err)
	}
	b.wg.Add(1)
	go b.run(pc)
	return nil
}

// Publish implements broker.Broker with one script call: the offset, the
// history, the epoch and the publication to every subscribed node are one
// atomic step in Redis. Delivery is asynchronous: Delivered is -1. While
// Redis is unreachable Publish fails with an error wrapping
// broker.ErrUnavailable; the message may or may not have been published
// when the connection broke during the call.
func (b *Broker) Publish(ctx context.Context, stream string, data []byte, opts broker.PublishOptions) (broker.PublishResult, error) {
	b.count("publish")
	if err := b.usable(ctx); err != nil {
		return broker.PublishResult{}, b.fail("publish", stream, err)
	}
	k := b.keys(stream)
	args := []string{
		rueidis.BinaryString(data), // read before Exec returns, never kept
		strconv.Itoa(opts.HistorySize),
		strconv.Itoa(max(opts.HistoryBytes, 0)),
		newEpoch(), // the message's id, and the epoch if it makes one
		k.channel,
	}
	return b.publish(ctx, stream, k, args)
}

func (b *Broker) publish(ctx context.Context, stream string, k keys, args []string) (broker.PublishResult, error) {
	arr, err := publishScript.Exec(ctx, b.client, []string{k.meta, k.hist}, args).ToArray()
	if err != nil {
		return broker.PublishResult{}, b.fail("publish", stream, err)
	}
	if len(arr) != 2 {
		return broker.PublishResult{}, fmt.Errorf("redis broker: publish %q: script answered %d values", stream, len(arr))
	}
	off, err := arr[0].AsInt64()
	if err != nil {
		return broker.PublishResult{}, fmt.Errorf("redis broker: publish %q: offset: %w", stream, err)
	}
	epoch, err := arr[1].ToString()
	if err != nil {
		return broker.PublishResult{}, fmt.Errorf("redis broker: publish %q: epoch: %w", stream, err)
	}
	return broker.PublishResult{Position: broker.Position{Offset: uint64(off), Epoch: epoch}, Delivered: -1}, nil
}

// History implements broker.Broker with one script call, so messages, top
// and First are read at one instant.
func (b *Broker) History(ctx context.Context, stream string, since uint64, limit int) (broker.HistoryResult, error) {
	b.count("history")
	if err := b.usable(ctx); err != nil {
		return broker.HistoryResult{}, b.fail("history", stream, err)
	}
	r, err := b.read(ctx, stream, since, max(limit, 0), "", "", "")
	if err != nil {
		return broker.HistoryResult{}, b.fail("history", stream, err)
	}
	return broker.HistoryResult{Messages: r.msgs, Position: r.pos, First: r.first}, nil
}

// Remove implements broker.Broker: it deletes the stream's keys. Nodes
// subscribed to it see the new epoch with the next publication.
func (b *Broker) Remove(ctx context.Context, stream string) error {
	b.count("remove")
	if err := b.usable(ctx); err != nil {
		return b.fail("remove", stream, err)
	}
	k := b.keys(stream)
	if err := b.client.Do(ctx, b.client.B().Del().Key(k.meta, k.hist).Build()).Error(); err != nil {
		return b.fail("remove", stream, err)
	}
	return nil
}

// Broadcast implements broker.Broker: one PUBLISH on the channel every node
// listens to (prefix:broadcast), this one included.
func (b *Broker) Broadcast(ctx context.Context, topic string, data []byte) error {
	b.count("broadcast")
	if err := b.usable(ctx); err != nil {
		return b.fail("broadcast", topic, err)
	}
	cmd := b.client.B().Publish().Channel(b.bcast).Message(encodeBroadcast(topic, data)).Build()
	if err := b.client.Do(ctx, cmd).Error(); err != nil {
		return b.fail("broadcast", topic, err)
	}
	return nil
}

// Close implements broker.Broker: it stops the supervisor and the pub/sub
// connection (no handler call follows its return, unless ctx ended first)
// and closes the client. A second Close does nothing.
func (b *Broker) Close(ctx context.Context) error {
	b.mu.Lock()
	if b.closed.Swap(true) {
		b.mu.Unlock()
		return nil
	}
	b.mu.Unlock()
	b.cancel()
	done := make(chan struct{})
	go func() {
		b.wg.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = fmt.Errorf("redis broker: close: %w", ctx.Err())
	}
	b.client.Close()
	return err
}

// usable reports why a call cannot start: ctx is done, or the broker is
// closed.
func (b *Broker) usable(ctx context.Context) error {
	if b.closed.Load() {
		return broker.ErrClosed
	}
	return ctx.Err()
}

// fail wraps err from the operation op on name: broker.ErrClosed once
// closed, broker.ErrUnavailable for a connection that failed or a Redis
// that cannot serve for now (loading, read-only after a failover, no
// primary).
func (b *Broker) fail(op, name string, err error) error {
	if i := opIndex(op); i >= 0 {
		b.counts.errors[i].Add(1)
	}
	what := "redis broker: " + op
	if name != "" {
		what += " " + strconv.Quote(name)
	}
	switch {
	case errors.Is(err, broker.ErrClosed), errors.Is(err, broker.ErrUnavailable),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s: %w", what, err)
	case b.closed.Load():
		return fmt.Errorf("%s: %w", what, broker.ErrClosed)
	}
	if re, ok := rueidis.IsRedisErr(err); ok && !transient(re) {
		return fmt.Errorf("%s: %w", what, err)
	}
	return fmt.Errorf("%s: %w: %w", what, broker.ErrUnavailable, err)
}

// transient tells the Redis errors that mean "not now" rather than "never".
func transient(re *rueidis.RedisError) bool {
	msg := re.Error()
	for _, p := range []string{"LOADING", "READONLY", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN", "BUSY", "NOREPLICAS"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}
