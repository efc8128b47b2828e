package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/coder/websocket"

	"github.com/halleyhq/halley/internal/wire/frame"
)

// clientFrame is a frame the client sends over a WebSocket.
type clientFrame struct {
	Type    string  `json:"type"`
	Channel string  `json:"channel"`
	After   *uint64 `json:"after,omitempty"`
	Epoch   string  `json:"epoch,omitempty"`
	Last    int     `json:"last,omitempty"`
	// Presence asks for join and leave frames.
	Presence bool `json:"presence,omitempty"`
}

// runWS runs one WebSocket connection: a goroutine reads and delivers
// frames while this one sends a subscribe or unsubscribe frame for every
// change of the client's channels, until a failure or a change of
// transport. With Options.Token, a third goroutine refreshes the
// connection's grant before it expires.
func (c *Client) runWS(ctx context.Context) (progress bool, err error) {
	tok, err := c.bearer(ctx)
	if err != nil {
		return false, err
	}
	c.mu.Lock()
	session := c.session
	c.mu.Unlock()
	u := c.base.JoinPath("ws")
	u.Scheme = map[string]string{"http": "ws", "https": "wss"}[u.Scheme]
	if session != "" {
		u.RawQuery = url.Values{"session": {session}}.Encode()
	}
	h := c.header.Clone()
	if session != "" {
		h.Set(sessionHeader, session)
	}
	if tok != "" {
		h.Set("Authorization", "Bearer "+tok)
	}
	conn, res, err := websocket.Dial(ctx, u.String(), &websocket.DialOptions{HTTPClient: c.hc, HTTPHeader: h})
	if err != nil {
		if res != nil && res.StatusCode != 101 {
			return false, c.connectRefusal(res, tok)
		}
		return false, err
	}
	defer conn.CloseNow()
	// The server batches frames in one message; a batch has no bound the
	// client could know.
	conn.SetReadLimit(-1)
	c.setSession(res.Header.Get(sessionHeader))
	l := c.openLink()
	defer c.closeLink(l)
	l.token = tok

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		wg         sync.WaitGroup
		progressed atomic.Bool
	)
	wg.Go(func() { cancel(c.readWS(ctx, conn, l, &progressed)) })
	if c.tokenFn != nil {
		wg.Go(func() { c.refreshWS(ctx, l) })
	}
	cancel(c.writeWS(ctx, conn, l))
	conn.CloseNow() // unblocks the reader
	wg.Wait()
	// Whichever side stopped first says why.
	return progressed.Load(), context.Cause(ctx)
}

// wsKeep bounds the read buffer a connection keeps between messages: an
// unusually large batch does not hold its memory for the connection's
// life.
const wsKeep = 1 << 20

// readWS delivers the frames of the server's messages.
func (c *Client) readWS(ctx context.Context, conn *websocket.Conn, l *wsLink, progressed *atomic.Bool) error {
	var buf bytes.Buffer
	fail := func(err error) error {
		if cause := context.Cause(ctx); cause != nil {
			return cause
		}
		return fmt.Errorf("client: ws: %w", err)
	}
	for {
		// One buffer for every message: the events copy their payloads.
		_, r, err := conn.Reader(ctx)
		if err != nil {
			return fail(err)
		}
		if buf.Cap() > wsKeep {
			buf = bytes.Buffer{}
		}
		buf.Reset()
		if _, err := buf.ReadFrom(r); err != nil {
			return fail(err)
		}
		for line := range bytes.SplitSeq(buf.Bytes(), []byte{'\n'}) {
			if len(line) == 0 {
				continue
			}
			var ok bool
			if m, isMsg := frame.ParseMsg(line); isMsg {
				ok, err = c.deliverMsg(ctx, m.Channel, m.Offset, "", m.Payload, !m.Aliased)
			} else {
				f, derr := frame.Decode(line)
				if derr != nil {
					return fmt.Errorf("client: ws: bad frame: %w", derr)
				}
				if f.Type == frame.TypeHello {
					select {
					case l.expires <- f.Expires:
					default: // a second hello: not the protocol's
					}
				}
				if c.answerWS(l, &f) {
					continue
				}
				ok, err = c.deliver(ctx, &f)
			}
			if ok {
				progressed.Store(true)
			}
			if err != nil {
				return err
			}
		}
	}
}

// writeWS keeps the connection's subscriptions equal to the client's,
// sends the frames of Write and Listen calls, and returns errRestart when
// the transport changes.
func (c *Client) writeWS(ctx context.Context, conn *websocket.Conn, l *wsLink) error {
	send := func(b []byte) error {
		if err := conn.Write(ctx, websocket.MessageText, b); err != nil {
			if cause := context.Cause(ctx); cause != nil {
				return cause
			}
			return fmt.Errorf("client: ws: %w", err)
		}
		return nil
	}
	for {
		frames, changed, ok := c.syncWS(l)
		if !ok {
			return errRestart
		}
		// Listens first: a session found anew listens again before the
		// connection resumes its other channels.
		for _, op := range l.take() {
			if err := send(op.frame); err != nil {
				return err
			}
		}
		for _, f := range frames {
			b, err := json.Marshal(f)
			if err != nil {
				return err
			}
			if err := send(b); err != nil {
				return err
			}
		}
		select {
		case <-changed:
		case <-l.wake:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

// syncWS returns the frames that make the connection's subscriptions,
// l.sent, equal to the client's, and records them in l.sent. It queues a
// listen frame for every key to listen to again in the connection's
// session. It returns false when the transport is no longer WebSocket.
func (c *Client) syncWS(l *wsLink) ([]clientFrame, <-chan struct{}, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.transport != WebSocket {
		return nil, nil, false
	}
	if l.session == c.session {
		keys := c.staleLocked()
		slices.SortFunc(keys, compareKeys)
		for _, k := range keys {
			if !l.relistened[k] {
				l.relistened[k] = true
				l.enqueue(&wsOp{frame: listenFrame(k), key: k, listen: true})
			}
		}
	}
	var frames []clientFrame
	for _, id := range slices.Sorted(maps.Keys(c.subs)) {
		s := c.subs[id]
		if l.sent[id] == s {
			continue
		}
		l.sent[id] = s
		f := clientFrame{Type: frame.TypeSubscribe, Channel: id, Presence: c.presence}
		switch {
		case s.pos != nil:
			off := s.pos.Offset
			f.After, f.Epoch = &off, s.pos.Epoch
		default:
			f.Last = s.from.Last
		}
		frames = append(frames, f)
	}
	for _, id := range slices.Sorted(maps.Keys(l.sent)) {
		if _, ok := c.subs[id]; !ok {
			delete(l.sent, id)
			frames = append(frames, clientFrame{Type: frame.TypeUnsubscribe, Channel: id})
		}
	}
	return frames, c.changed, true
}
