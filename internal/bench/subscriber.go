package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/halleyhq/halley/client"
)

// subscriber is one client. Its counters belong to its consume
// goroutine until the run has stopped it.
type subscriber struct {
	id      int
	channel int
	c       *client.Client
	pending atomic.Bool // holds a slot of runner.sem

	want       uint64   // messages its channel gets
	next       []uint64 // per lane, the seq expected next
	resync     []bool   // per lane, after a gap: any later seq is next
	offset     uint64   // the last offset delivered or skipped
	got        uint64
	dup        uint64
	ooo        uint64
	bad        uint64
	gaps       uint64
	ended      uint64
	closes     uint64
	deliveries uint64
	last       int64 // unix nanoseconds of the last delivery
	maxLat     int64
	connected  bool
	finished   bool
}

// connect starts the subscribers and waits until all have subscribed, ctx
// is done, or one was refused.
func (r *runner) connect(ctx, subCtx context.Context, wg *sync.WaitGroup) error {
	r.sem = make(chan struct{}, r.cfg.MaxPending)
	for _, s := range r.subs {
		select {
		case r.sem <- struct{}{}:
		case <-ctx.Done():
			return nil
		case err := <-r.failed:
			return err
		}
		s.pending.Store(true)
		r.start(subCtx, wg, s)
	}
	select {
	case <-r.allConnected:
	case <-ctx.Done():
	case err := <-r.failed:
		return err
	}
	return nil
}

// start starts subscriber s: its client and the goroutine that reads its
// events.
func (r *runner) start(ctx context.Context, wg *sync.WaitGroup, s *subscriber) {
	if r.cfg.Raw {
		r.startRaw(ctx, wg, s)
		return
	}
	opts := client.Options{
		Transport:  r.cfg.Transport,
		Buffer:     eventBuffer,
		Logger:     r.log,
		HTTPClient: r.addrs.client(s.id),
	}
	if r.cfg.Token != "" {
		opts.Token = client.StaticToken(r.cfg.Token)
	}
	s.c = client.New(r.cfg.Servers[s.id%len(r.cfg.Servers)], opts)
	s.c.Subscribe(r.ids[s.channel], client.From{})
	wg.Go(func() {
		err := s.c.Run(ctx)
		r.release(s)
		if err != nil {
			select {
			case r.failed <- fmt.Errorf("bench: subscriber %d: %w", s.id, err):
			default:
			}
		}
	})
	wg.Go(func() { r.consume(ctx, s) })
}

// release gives back s's connection slot, once.
func (r *runner) release(s *subscriber) {
	if s.pending.CompareAndSwap(true, false) {
		<-r.sem
	}
}

// consume reads s's events until ctx is done.
func (r *runner) consume(ctx context.Context, s *subscriber) {
	events := s.c.Events()
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-events:
			r.handle(s, &ev)
		}
	}
}

// handle accounts for one event of s.
func (r *runner) handle(s *subscriber, ev *client.Event) {
	switch ev.Type {
	case client.EventMsg:
		r.delivery(s, ev.Data, ev.Offset)
	case client.EventGap:
		// The gap skips every message up to its offset; they count as
		// lost at the end. Which seqs they were is unknown (lanes
		// interleave), so each lane takes its next seq as it comes.
		s.gaps++
		s.offset = max(s.offset, ev.Offset)
		for l := range s.resync {
			s.resync[l] = true
		}
		r.checkDone(s)
	case client.EventEnded:
		s.ended++
		r.finish(s)
	case client.EventSubscribed:
		if !s.connected {
			s.connected = true
			r.release(s)
			if r.connected.Add(1) == int64(r.cfg.Subscribers) {
				close(r.allConnected)
			}
		}
	case client.EventClose:
		s.closes++
	}
}

// delivery accounts for one message of s, its payload data at the given
// offset of its channel (0: a raw subscriber, which knows no offsets; the
// channel is new, so the count of its messages taken is where it is).
func (r *runner) delivery(s *subscriber, data []byte, offset uint64) {
	now := time.Now().UnixNano()
	seq, t, ok := parsePayload(data)
	if !ok || seq == 0 || s.next == nil {
		s.bad++
		return
	}
	if offset == 0 {
		offset = s.got + 1 // unless a duplicate, below
	}
	s.deliveries++
	s.last = now
	r.delivered.Add(1)
	lat := now - t
	r.hist.Record(lat)
	s.maxLat = max(s.maxLat, lat)
	lane := (seq - 1) % r.lanes
	switch next := s.next[lane]; {
	case seq == next:
	case seq > next:
		if !s.resync[lane] {
			s.ooo++
		}
	default:
		s.dup++
		r.checkDone(s)
		return
	}
	s.offset = max(s.offset, offset)
	s.next[lane] = seq + r.lanes
	s.resync[lane] = false
	s.got++
	r.checkDone(s)
}

// checkDone finishes s once it expects nothing more: the channel is new,
// so its last message has the offset want.
func (r *runner) checkDone(s *subscriber) {
	if s.offset >= s.want {
		r.finish(s)
	}
}

// finish records that s waits for no more messages.
func (r *runner) finish(s *subscriber) {
	if s.finished || s.want == 0 || r.cfg.Messages == 0 {
		return
	}
	s.finished = true
	if r.remaining.Add(-1) == 0 {
		close(r.allDone)
	}
}
