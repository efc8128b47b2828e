package halley_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/halleyhq/halley"
)

func TestLazy_ProducerRunsOnlyWhileWaited(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, err := halley.New(halley.Config{})
		if err != nil {
			t.Fatal(err)
		}
		defer h.Shutdown(context.Background())
		var calls, cancelled atomic.Int32
		next := make(chan string)
		c, err := h.NewChannel(context.Background(), halley.ChannelOptions{
			Kind: halley.KindLazy,
			Producer: func(ctx context.Context) ([]byte, error) {
				calls.Add(1)
				select {
				case v := <-next:
					return []byte(v), nil
				case <-ctx.Done():
					cancelled.Add(1)
					return nil, ctx.Err()
				}
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if calls.Load() != 0 {
			t.Fatalf("producer called %d times with nobody waiting", calls.Load())
		}

		got := make(chan []halley.Message)
		go func() {
			msgs, _ := c.Read(context.Background(), 0, 0)
			got <- msgs
		}()
		next <- "unread: 3"
		if msgs := <-got; !slices.Equal(datas(msgs), []string{"unread: 3"}) {
			t.Fatalf("waiting reader got %v", datas(msgs))
		}

		// The reader left with the value: no new call starts.
		synctest.Wait()
		if calls.Load() != 1 {
			t.Fatalf("producer called %d times for one request", calls.Load())
		}
		// A reader that consumed offset 1 asks again: the producer runs
		// for it, and its call is cancelled when that reader gives up.
		ctx, cancel := context.WithCancel(context.Background())
		go func() { _, _ = c.Read(ctx, 1, 0) }()
		synctest.Wait()
		if calls.Load() != 2 {
			t.Fatalf("producer calls %d, want 2", calls.Load())
		}
		cancel()
		synctest.Wait()
		if cancelled.Load() != 1 || calls.Load() != 2 {
			t.Fatalf("after the reader left: cancelled %d, calls %d", cancelled.Load(), calls.Load())
		}
		if _, err := c.Write(context.Background(), []byte("x")); !errors.Is(err, halley.ErrWrongKind) {
			t.Fatalf("Write to a lazy channel: %v", err)
		}
	})
}

func TestLazy_EndOfProducer(t *testing.T) {
	h := newHub(t, halley.Config{})
	c := newChannel(t, h, halley.ChannelOptions{
		Kind:     halley.KindLazy,
		Producer: func(context.Context) ([]byte, error) { return nil, io.EOF },
	})
	if _, err := c.Read(testCtx(t), 0, 0); !errors.Is(err, halley.ErrChannelClosed) {
		t.Fatalf("Read after the producer ended: %v", err)
	}
	if _, ok := h.Channel(c.ID()); ok {
		t.Fatal("ended lazy channel still registered")
	}
}

func TestLazy_Typed(t *testing.T) {
	h := newHub(t, halley.Config{})
	type count struct{ Unread int }
	n := 0
	c, err := halley.NewChan[count](testCtx(t), h, halley.ChannelOptions{
		Kind: halley.KindLazy,
		Producer: halley.Produce[count](nil, func(context.Context) (count, error) {
			n++
			return count{Unread: n}, nil
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	vals, err := c.Read(testCtx(t), 0, 1)
	if err != nil || len(vals) != 1 || vals[0].Value.Unread < 1 {
		t.Fatalf("typed lazy read: %+v, %v", vals, err)
	}
}

func TestLazy_Seq(t *testing.T) {
	h := newHub(t, halley.Config{})
	squares := func(yield func(int) bool) {
		for i := 1; i <= 3; i++ {
			if !yield(i * i) {
				return
			}
		}
	}
	c := newChannel(t, h, halley.ChannelOptions{Kind: halley.KindLazy, Seq: halley.Seq[int](nil, squares)})
	var got []string
	var after uint64
	for {
		msgs, err := c.Read(testCtx(t), after, 0)
		if errors.Is(err, halley.ErrChannelClosed) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, datas(msgs)...)
		after = msgs[len(msgs)-1].Offset
	}
	if !slices.Equal(got, []string{"1", "4", "9"}) {
		t.Fatalf("lazy sequence gave %v", got)
	}
	// An endless sequence nobody reads is stopped with the hub (goleak in
	// TestMain checks that nothing is left).
	naturals := func(yield func([]byte) bool) {
		for i := 0; yield([]byte(fmt.Sprint(i))); i++ {
		}
	}
	newChannel(t, h, halley.ChannelOptions{Kind: halley.KindLazy, Seq: naturals})
	if _, err := h.NewChannel(testCtx(t), halley.ChannelOptions{Kind: halley.KindLazy, Seq: halley.Seq[int](nil, squares), Producer: func(context.Context) ([]byte, error) { return nil, nil }}); !errors.Is(err, halley.ErrInvalidOptions) {
		t.Fatalf("both a producer and a sequence: %v", err)
	}
}
