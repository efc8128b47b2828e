// Package memory is the default, in-process Halley broker: one node, history
// kept in bounded rings in memory, delivery to the local handler inside
// Publish (so publishers learn how many readers a message reached).
package memory

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"sync"

	"github.com/halleyhq/halley/broker"
	"github.com/halleyhq/halley/internal/ring"
)

// Broker is an in-memory broker.Broker. The zero value is not usable; call
// New. It is safe for concurrent use.
type Broker struct {
	mu      sync.RWMutex
	handler broker.Handler
	streams map[string]*stream
	subs    map[string]bool
	closed  bool
}

var _ broker.Broker = (*Broker)(nil)

type stream struct {
	// mu serialises publications of one stream so that the handler sees
	// them in offset order.
	mu    sync.Mutex
	epoch string
	hist  *ring.Ring[broker.Message]
	// bytes is the sum of len(Data) over hist, for HistoryBytes.
	bytes int
	// subscribed mirrors the broker's subs for the stream's name, so that
	// a publish looks its name up once; it is under the broker's mu.
	subscribed bool
}

// New returns an empty in-memory broker.
func New() *Broker {
	return &Broker{streams: make(map[string]*stream), subs: make(map[string]bool)}
}

// Start implements broker.Broker.
func (b *Broker) Start(_ context.Context, h broker.Handler) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return broker.ErrClosed
	}
	b.handler = h
	return nil
}

func newEpoch() string {
	var p [6]byte
	_, _ = rand.Read(p[:])
	return base64.RawURLEncoding.EncodeToString(p[:])
}

// getStream returns the stream, creating it when create is set.
func (b *Broker) getStream(name string, size int, create bool) (*stream, broker.Handler, bool, error) {
	b.mu.RLock()
	s, h, closed := b.streams[name], b.handler, b.closed
	subscribed := s != nil && s.subscribed
	b.mu.RUnlock()
	if closed {
		return nil, nil, false, broker.ErrClosed
	}
	if s != nil || !create {
		return s, h, subscribed, nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, nil, false, broker.ErrClosed
	}
	if s = b.streams[name]; s == nil {
		s = &stream{epoch: newEpoch(), hist: ring.New[broker.Message](max(size, 1)), subscribed: b.subs[name]}
		b.streams[name] = s
	}
	return s, b.handler, s.subscribed, nil
}

// Publish implements broker.Broker. The handler runs before Publish
// returns (with ctx, when it is a broker.ContextHandler), and Delivered is
// what it reported. The stream keeps exactly the
// newest messages that fit both bounds of opts (its HistorySize never
// shrinks, though: a smaller one than before keeps more).
func (b *Broker) Publish(ctx context.Context, name string, data []byte, opts broker.PublishOptions) (broker.PublishResult, error) {
	if err := ctx.Err(); err != nil {
		return broker.PublishResult{}, err
	}
	s, h, subscribed, err := b.getStream(name, opts.HistorySize, true)
	if err != nil {
		return broker.PublishResult{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if opts.HistorySize > s.hist.Size() {
		grown := ring.New[broker.Message](opts.HistorySize)
		grown.Reset(s.hist.First() - 1)
		for off := s.hist.First(); off <= s.hist.Top(); off++ {
			m, _ := s.hist.Get(off)
			grown.Put(off, m)
		}
		s.hist = grown
	}
	m := broker.Message{Stream: name, Offset: s.hist.Top() + 1, Epoch: s.epoch, Data: data}
	if s.hist.Len() == s.hist.Size() {
		// Put pushes the oldest value out.
		s.dropOldest()
	}
	s.hist.Put(m.Offset, m)
	s.bytes += len(data)
	if opts.HistorySize <= 0 {
		// Keep only the offset counter: the value must not be retained.
		s.hist.Reset(m.Offset)
		s.bytes = 0
	}
	if opts.HistoryBytes > 0 {
		for s.bytes > opts.HistoryBytes && s.hist.Len() > 1 {
			s.dropOldest()
		}
	}
	res := broker.PublishResult{Position: broker.Position{Offset: m.Offset, Epoch: s.epoch}}
	if subscribed && h != nil {
		if ch, ok := h.(broker.ContextHandler); ok {
			res.Delivered = ch.HandleMessageContext(ctx, m)
		} else {
			res.Delivered = h.HandleMessage(m)
		}
	}
	return res, nil
}

// dropOldest forgets the oldest retained message, keeping bytes right.
func (s *stream) dropOldest() {
	if m, ok := s.hist.Get(s.hist.First()); ok {
		s.bytes -= len(m.Data)
		s.hist.DropOldest()
	}
}

// History implements broker.Broker.
func (b *Broker) History(ctx context.Context, name string, since uint64, limit int) (broker.HistoryResult, error) {
	if err := ctx.Err(); err != nil {
		return broker.HistoryResult{}, err
	}
	s, _, _, err := b.getStream(name, 0, false)
	if err != nil {
		return broker.HistoryResult{}, err
	}
	if s == nil {
		return broker.HistoryResult{First: 1}, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	res := broker.HistoryResult{
		Position: broker.Position{Offset: s.hist.Top(), Epoch: s.epoch},
		First:    s.hist.First(),
	}
	from := max(since, s.hist.First()-1)
	res.Messages, _ = s.hist.AppendSince(nil, from, limit)
	return res, nil
}

// Subscribe implements broker.Broker.
func (b *Broker) Subscribe(_ context.Context, name string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return broker.ErrClosed
	}
	b.subs[name] = true
	s := b.streams[name]
	if s == nil {
		s = &stream{epoch: newEpoch(), hist: ring.New[broker.Message](1)}
		b.streams[name] = s
	}
	s.subscribed = true
	return nil
}

// Unsubscribe implements broker.Broker.
func (b *Broker) Unsubscribe(_ context.Context, name string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.subs, name)
	if s := b.streams[name]; s != nil {
		s.subscribed = false
	}
	return nil
}

// Remove implements broker.Broker.
func (b *Broker) Remove(_ context.Context, name string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.streams, name)
	return nil
}

// Broadcast implements broker.Broker: the local handler is the only node.
func (b *Broker) Broadcast(ctx context.Context, topic string, data []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.RLock()
	h, closed := b.handler, b.closed
	b.mu.RUnlock()
	if closed {
		return broker.ErrClosed
	}
	if h != nil {
		h.HandleBroadcast(topic, data)
	}
	return nil
}

// Close implements broker.Broker.
func (b *Broker) Close(context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	b.streams = nil
	return nil
}
