package halley

import (
	"context"
	"encoding/json"
	"iter"
)

// Codec turns values of type T into the bytes a channel carries and back.
type Codec[T any] interface {
	Marshal(v T) ([]byte, error)
	Unmarshal(data []byte, v *T) error
}

// JSON is the default Codec: encoding/json.
type JSON[T any] struct{}

// Marshal implements Codec.
func (JSON[T]) Marshal(v T) ([]byte, error) { return json.Marshal(v) }

// Unmarshal implements Codec.
func (JSON[T]) Unmarshal(data []byte, v *T) error { return json.Unmarshal(data, v) }

// Chan is a typed view of a Channel: values of type T, encoded by a Codec.
// Brokers and transports only ever see the bytes. Its methods are safe for
// concurrent use.
type Chan[T any] struct {
	c     *Channel
	codec Codec[T]
}

// Typed returns a typed view of c using codec (nil: JSON).
func Typed[T any](c *Channel, codec Codec[T]) *Chan[T] {
	if codec == nil {
		codec = JSON[T]{}
	}
	return &Chan[T]{c: c, codec: codec}
}

// NewChan creates a channel carrying JSON-encoded values of type T.
func NewChan[T any](ctx context.Context, h *Hub, opts ChannelOptions) (*Chan[T], error) {
	c, err := h.NewChannel(ctx, opts)
	if err != nil {
		return nil, err
	}
	return Typed[T](c, nil), nil
}

// Channel returns the underlying byte channel.
func (c *Chan[T]) Channel() *Channel { return c.c }

// ID returns the channel id.
func (c *Chan[T]) ID() string { return c.c.id }

// Write encodes v and writes it (see Channel.Write).
func (c *Chan[T]) Write(ctx context.Context, v T) (Outcome, error) {
	data, err := c.codec.Marshal(v)
	if err != nil {
		return Outcome{}, err
	}
	return c.c.Write(ctx, data)
}

// Value is a decoded message of a typed channel.
type Value[T any] struct {
	Offset uint64
	Value  T
}

// Read reads and decodes messages (see Channel.Read). A message that does
// not decode stops the batch with the decoding error; the values before it
// are returned.
func (c *Chan[T]) Read(ctx context.Context, after uint64, max int) ([]Value[T], error) {
	msgs, err := c.c.Read(ctx, after, max)
	out := make([]Value[T], 0, len(msgs))
	for _, m := range msgs {
		var v T
		if derr := c.codec.Unmarshal(m.Data, &v); derr != nil {
			return out, derr
		}
		out = append(out, Value[T]{Offset: m.Offset, Value: v})
	}
	return out, err
}

// Close closes the channel (see Channel.Close).
func (c *Chan[T]) Close(ctx context.Context) error { return c.c.Close(ctx) }

// Produce adapts a typed producer function for a lazy channel, encoding
// its values with codec (nil: JSON).
func Produce[T any](codec Codec[T], f func(ctx context.Context) (T, error)) Producer {
	if codec == nil {
		codec = JSON[T]{}
	}
	return func(ctx context.Context) ([]byte, error) {
		v, err := f(ctx)
		if err != nil {
			return nil, err
		}
		return codec.Marshal(v)
	}
}

// Seq adapts a typed iterator for a lazy channel (ChannelOptions.Seq),
// encoding its values with codec (nil: JSON). A value that does not encode
// ends the sequence.
func Seq[T any](codec Codec[T], seq iter.Seq[T]) iter.Seq[[]byte] {
	if codec == nil {
		codec = JSON[T]{}
	}
	return func(yield func([]byte) bool) {
		for v := range seq {
			b, err := codec.Marshal(v)
			if err != nil || !yield(b) {
				return
			}
		}
	}
}
