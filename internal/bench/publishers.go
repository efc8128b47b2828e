package bench

import (
	"context"
	"sync"
	"time"

	"github.com/halleyhq/halley/client"
)

// The run's publishers: each publishes its share of the messages, in
// order, one request at a time, in batches or over a publish stream.

// publishAll publishes the messages and waits until every subscriber has
// its messages, or nothing came for cfg.Quiet after the last publication
// (quiet), or ctx is done. It returns when the last publication ended
// (zero if they did not all end).
func (r *runner) publishAll(ctx context.Context) (pubEnd time.Time, quiet bool, err error) {
	cfg := r.cfg
	pubCtx, cancelPub := context.WithCancel(ctx)
	defer cancelPub()
	var pwg sync.WaitGroup
	pubDone := make(chan struct{})
	r.pubStart = time.Now()
	for p := range cfg.Publishers {
		pwg.Go(func() { r.publish(pubCtx, p) })
	}
	go func() {
		pwg.Wait()
		close(pubDone)
	}()
	// Whatever happens, the publishers are stopped and waited for.
	defer func() {
		cancelPub()
		<-pubDone
	}()

	tick := time.NewTicker(max(min(time.Second, cfg.Quiet/4), time.Millisecond))
	defer tick.Stop()
	waitPub := pubDone
	lastCount, lastChange := uint64(0), time.Now()
	for {
		select {
		case <-waitPub:
			pubEnd, waitPub = time.Now(), nil
		case <-r.allDone:
			select {
			case <-pubDone:
				if pubEnd.IsZero() {
					pubEnd = time.Now()
				}
			case <-ctx.Done():
			}
			return pubEnd, false, nil
		case <-ctx.Done():
			return pubEnd, false, nil
		case err := <-r.failed:
			return pubEnd, false, err
		case now := <-tick.C:
			if n := r.delivered.Load(); n != lastCount {
				lastCount, lastChange = n, now
			} else if waitPub == nil && now.Sub(lastChange) >= cfg.Quiet && now.Sub(pubEnd) >= cfg.Quiet {
				return pubEnd, true, nil
			}
		}
	}
}

// publish publishes the messages of publisher p, in order: message i,
// for i % Publishers == p, is the (i / Channels + 1)-th of channel
// i % Channels. With Batch > 1, it sends its next Batch messages in one
// request, once the last of them is due.
func (r *runner) publish(ctx context.Context, p int) {
	cfg := r.cfg
	batch := max(cfg.Batch, 1)
	var buf, body []byte
	var timer *time.Timer
	pubs := make([]client.Publication, 0, batch)
	var streams []*client.PublishStream // per server, with Stream
	if cfg.Stream {
		streams = make([]*client.PublishStream, len(r.apis))
		defer func() {
			for _, s := range streams {
				if s != nil {
					s.Close()
				}
			}
		}()
	}
	for first := p; first < cfg.Messages; first += batch * cfg.Publishers {
		last := min(first+(batch-1)*cfg.Publishers, (cfg.Messages-1-p)/cfg.Publishers*cfg.Publishers+p)
		if cfg.Rate > 0 {
			due := r.pubStart.Add(time.Duration(float64(last) / cfg.Rate * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				if timer == nil {
					timer = time.NewTimer(d)
				} else {
					timer.Reset(d)
				}
				select {
				case <-timer.C:
				case <-ctx.Done():
					timer.Stop()
					return
				}
			}
		}
		// The publications of a channel rotate over the servers, even
		// when the channels and the servers are as many (subscriber j
		// is on server j % servers): message i, the seq-th of channel
		// c, goes through server (c + seq - 1) % servers (a batch,
		// through its first message's).
		c := first % cfg.Channels
		k := (c + first/cfg.Channels) % len(r.apis)
		now := time.Now().UnixNano()
		if batch == 1 {
			seq := uint64(first/cfg.Channels + 1)
			buf = appendPayload(buf[:0], seq, now, cfg.Size)
			var err error
			switch {
			case r.cfg.Peer != "":
				body, err = r.publishPeer(ctx, r.apis[k].HTTPClient, k, r.ids[c], buf, body)
			case streams == nil:
				_, _, err = r.apis[k].Publish(ctx, r.ids[c], buf)
			case streams[k] == nil:
				if streams[k], err = r.apis[k].OpenPublishStream(ctx); err != nil {
					break
				}
				fallthrough
			default:
				_, _, err = streams[k].Publish(r.ids[c], buf)
			}
			if ctx.Err() != nil {
				return
			}
			r.published1(k, err)
			continue
		}
		pubs = pubs[:0]
		buf = buf[:0]
		for i := first; i <= last; i += cfg.Publishers {
			seq := uint64(i/cfg.Channels + 1)
			n := len(buf)
			buf = appendPayload(buf, seq, now, cfg.Size)
			pubs = append(pubs, client.Publication{Channel: r.ids[i%cfg.Channels], Data: buf[n:len(buf):len(buf)]})
		}
		out, err := r.apis[k].PublishBatch(ctx, pubs)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			for range pubs {
				r.published1(k, err)
			}
			continue
		}
		for _, o := range out {
			r.published1(k, o.Err)
		}
	}
}

// published1 counts the outcome of one publication through server k.
func (r *runner) published1(k int, err error) {
	if err != nil {
		if r.pubErrors.Add(1) == 1 {
			r.errMu.Lock()
			r.firstErr = err.Error()
			r.errMu.Unlock()
		}
		return
	}
	r.published.Add(1)
	r.pubPer[k].Add(1)
}
