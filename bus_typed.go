package halley

import (
	"context"
	"fmt"
)

// TypedBus is a typed view of a bus: clients and the server write values of
// type In, and everybody reads values of type Out, which the filter makes
// from them (Eliom's create_filtered). Values are JSON on the wire.
type TypedBus[In, Out any] struct {
	b   *Bus
	in  Codec[In]
	out Codec[Out]
}

// NewTypedBus creates a bus of values of type T, with an optional filter
// (nil: none) that may enrich or reject each write.
func NewTypedBus[T any](ctx context.Context, h *Hub, opts BusOptions, filter func(ctx context.Context, w Writer, v T) (T, error)) (*TypedBus[T, T], error) {
	if filter == nil {
		filter = func(_ context.Context, _ Writer, v T) (T, error) { return v, nil }
	}
	return NewFilteredBus(ctx, h, opts, filter)
}

// NewFilteredBus creates a bus whose writers send In and whose readers get
// Out, made by filter from each write. A write that does not decode as In
// is rejected. opts.Filter is ignored.
func NewFilteredBus[In, Out any](ctx context.Context, h *Hub, opts BusOptions, filter func(ctx context.Context, w Writer, v In) (Out, error)) (*TypedBus[In, Out], error) {
	if filter == nil {
		return nil, fmt.Errorf("%w: a filtered bus needs a filter", ErrInvalidOptions)
	}
	tb := &TypedBus[In, Out]{in: JSON[In]{}, out: JSON[Out]{}}
	opts.Filter = func(ctx context.Context, w Writer, data []byte) ([]byte, error) {
		var v In
		if err := tb.in.Unmarshal(data, &v); err != nil {
			return nil, fmt.Errorf("%w: does not decode: %v", ErrRejected, err)
		}
		out, err := filter(ctx, w, v)
		if err != nil {
			return nil, err
		}
		return tb.out.Marshal(out)
	}
	b, err := h.NewBus(ctx, opts)
	if err != nil {
		return nil, err
	}
	tb.b = b
	return tb, nil
}

// Bus returns the underlying bus.
func (b *TypedBus[In, Out]) Bus() *Bus { return b.b }

// ID returns the bus id.
func (b *TypedBus[In, Out]) ID() string { return b.b.ID() }

// Write writes v as the server (through the filter).
func (b *TypedBus[In, Out]) Write(ctx context.Context, v In) (Outcome, error) {
	data, err := b.in.Marshal(v)
	if err != nil {
		return Outcome{}, err
	}
	return b.b.Write(ctx, data)
}

// Reader returns a reader of the bus's values from a position of its own.
func (b *TypedBus[In, Out]) Reader(after uint64) *TypedReader[Out] {
	return &TypedReader[Out]{r: b.b.Reader(after), codec: b.out}
}

// TypedReader reads decoded values from a position of its own (see
// Reader).
type TypedReader[T any] struct {
	r     *Reader
	codec Codec[T]
}

// Reader returns a typed reader of the channel from a position of its own.
func (c *Chan[T]) Reader(after uint64) *TypedReader[T] {
	return &TypedReader[T]{r: c.c.Reader(after), codec: c.codec}
}

// Position returns the offset of the last value Next returned.
func (r *TypedReader[T]) Position() uint64 { return r.r.Position() }

// Next returns the next value, waiting for it until ctx is done (see
// Reader.Next for gaps and the end).
func (r *TypedReader[T]) Next(ctx context.Context) (Value[T], error) {
	m, err := r.r.Next(ctx)
	if err != nil {
		return Value[T]{}, err
	}
	var v T
	if err := r.codec.Unmarshal(m.Data, &v); err != nil {
		return Value[T]{Offset: m.Offset}, err
	}
	return Value[T]{Offset: m.Offset, Value: v}, nil
}
