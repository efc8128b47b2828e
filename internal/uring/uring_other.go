//go:build !(linux && (amd64 || arm64))

package uring

// Batch is not available on this platform.
type Batch struct{}

// New returns ErrUnavailable here.
func New() (*Batch, error) { return nil, ErrUnavailable }

// Close does nothing.
func (b *Batch) Close() {}

// Len returns 0.
func (b *Batch) Len() int { return 0 }

// Add queues nothing.
func (b *Batch) Add(int, []byte) (int, bool) { return 0, false }

// Flush does nothing.
func (b *Batch) Flush(func(int, Result, []byte)) {}
