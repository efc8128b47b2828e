package client

import (
	"bytes"
	"context"
	"fmt"

	"github.com/halleyhq/halley/internal/wire/frame"
)

// Event types.
const (
	EventMsg        = "msg"
	EventGap        = "gap"
	EventEnded      = "ended"
	EventSubscribed = "subscribed"
	EventClose      = "close"
	EventNotify     = "notify"
	// Presence events (Options.Presence): a member joined or left a
	// channel, or the server dropped some of those events.
	EventJoin         = "join"
	EventLeave        = "leave"
	EventPresenceLost = "presence_lost"
)

// Event is what a subscription delivers.
type Event struct {
	// Type is EventMsg, EventNotify, EventGap, EventEnded,
	// EventSubscribed, EventClose, or (with Options.Presence) EventJoin,
	// EventLeave and EventPresenceLost. Subscribed events may come again at
	// each reconnection (depending on the transport): they repeat the
	// position, and never move it backwards unless Subscribe restarted the
	// channel. Close events say why the server ended a stream; the client
	// reconnects by itself. Notify events are the notifications of the
	// keys the client listens to (see Listen), in place of the msg events
	// of the session's notification channel that carries them.
	Type string
	// Channel is the channel id (empty for EventClose; the session's
	// notification channel for EventNotify).
	Channel string
	// Offset is the message's offset (msg, notify), the offset after
	// which the subscription starts (subscribed) or goes on (gap).
	Offset uint64
	// Epoch is the channel's epoch (subscribed, gap, and msg once known).
	Epoch string
	// Data is the payload of a msg, or the notification of a notify
	// event: the bytes the notifier made for this client (for notifiers
	// of JSON values, the JSON text).
	Data []byte
	// Reason says why (gap, ended, close): see docs/protocol.md. An
	// ended event with reason "forbidden" is a channel the client's
	// token does not allow it to read (at subscription, or after a
	// token refresh that took the right away); the client forgets the
	// channel, as for any ended event. A close event with reason
	// "token_expired" is a stream that outlived its token: the client
	// reconnects at once with a new one.
	Reason string
	// Notifier and Key name what a notify event is about.
	Notifier, Key string
	// User is the user of a join or leave event ("" when anonymous).
	User string
}

// deliver hands the event of frame f to the application and moves the
// position. It reports whether the frame showed progress (anything but
// hello, close and error) and returns a *closeError for a close frame.
func (c *Client) deliver(ctx context.Context, f *frame.Frame) (bool, error) {
	if f.Type == frame.TypeMsg && f.Offset != nil {
		// The payload of a decoded frame is its own.
		return c.deliverMsg(ctx, []byte(f.Channel), *f.Offset, f.Epoch, f.Data(), true)
	}
	if err := c.flushLost(ctx); err != nil {
		return false, err
	}
	switch f.Type {
	case frame.TypeHello:
		c.setSession(f.Session)
		return false, nil
	case frame.TypeError:
		c.log.Warn("halley client: the server refused a frame", "reason", f.Reason, "message", f.Message)
		return false, nil
	case frame.TypeClose:
		if f.Reason == "session_closed" {
			c.mu.Lock()
			c.session = ""
			if c.notif != "" {
				c.loseNotificationsLocked()
			}
			c.mu.Unlock()
		}
		if err := c.send(ctx, Event{Type: EventClose, Reason: f.Reason}); err != nil {
			return false, err
		}
		return false, &closeError{reason: f.Reason}
	case frame.TypeJoin, frame.TypeLeave, frame.TypePresenceLost:
		c.mu.Lock()
		_, ok := c.subs[f.Channel]
		c.mu.Unlock()
		if !ok {
			return true, nil
		}
		return true, c.send(ctx, Event{Type: f.Type, Channel: f.Channel, User: f.User})
	case frame.TypeMsg, frame.TypeSubscribed, frame.TypeGap, frame.TypeEnded:
	default: // unsubscribed, or a type from a later version
		return true, nil
	}
	if f.Type != frame.TypeEnded && f.Offset == nil {
		return false, fmt.Errorf("client: %s frame without offset", f.Type)
	}

	c.mu.Lock()
	s := c.subs[f.Channel]
	if s == nil {
		// Unsubscribed meanwhile.
		c.mu.Unlock()
		return true, nil
	}
	notif := f.Channel == c.notif
	if notif && f.Type == frame.TypeEnded {
		// The notification channel ends with its session: the client
		// listens again in a new one.
		c.loseNotificationsLocked()
		c.mu.Unlock()
		return true, c.flushLost(ctx)
	}
	ev := Event{Type: f.Type, Channel: f.Channel, Epoch: f.Epoch, Reason: f.Reason}
	if f.Offset != nil {
		ev.Offset = *f.Offset
	}
	// The position moves before the event is handed over, so that an
	// application that has received it sees it in Positions; if the hand-over
	// fails, the move is undone before any other connection can start.
	prev, gen := s.pos, c.gen
	switch {
	case f.Type == frame.TypeEnded:
		delete(c.subs, f.Channel)
	case f.Type == frame.TypeSubscribed && s.pos != nil && s.pos.Epoch == ev.Epoch && ev.Offset < s.pos.Offset:
		// A start behind what the client has: the messages in between
		// will be dropped as repeats.
	default:
		s.pos = &Position{Offset: ev.Offset, Epoch: ev.Epoch}
		c.noteEpochLocked(s.pos)
	}
	c.mu.Unlock()

	if err := c.send(ctx, ev); err != nil {
		c.mu.Lock()
		defer c.mu.Unlock()
		switch {
		case f.Type == frame.TypeEnded:
			if c.gen == gen {
				c.subs[f.Channel] = s
				c.noteEpochLocked(s.pos)
			}
		case c.subs[f.Channel] == s:
			s.pos = prev
			c.noteEpochLocked(s.pos)
		}
		return false, err
	}
	return true, nil
}

// deliverMsg hands the event of a msg frame to the application and moves
// the position, as deliver does: it is deliver's path for the frames
// that make most of the traffic, which avoids every allocation but the
// payload's. The channel id may alias the frame; so may data, unless
// owned says it belongs to this message alone (else it is copied). The
// server's msg frames have no epoch: the event has the position's, and
// epoch only when the client has no position yet.
func (c *Client) deliverMsg(ctx context.Context, channel []byte, offset uint64, epoch string, data []byte, owned bool) (bool, error) {
	c.mu.Lock()
	if len(c.lost) > 0 {
		c.mu.Unlock()
		if err := c.flushLost(ctx); err != nil {
			return false, err
		}
		c.mu.Lock()
	}
	s := c.subs[string(channel)]
	if s == nil || s.pos != nil && offset <= s.pos.Offset {
		// Unsubscribed meanwhile, or already delivered: a resume
		// repeats what it must.
		c.mu.Unlock()
		return true, nil
	}
	notif := s.id == c.notif
	ev := Event{Type: EventMsg, Channel: s.id, Offset: offset}
	// The position moves before the event is handed over, so that an
	// application that has received it sees it in Positions; if the
	// hand-over fails, the move is undone before any other connection can
	// start.
	var prev Position
	had := s.pos != nil
	if had {
		prev = *s.pos
		ev.Epoch = prev.Epoch
		s.pos.Offset = offset
	} else {
		ev.Epoch = epoch
		s.pos = &Position{Offset: offset, Epoch: epoch}
	}
	c.noteEpochLocked(s.pos)
	c.mu.Unlock()

	if !owned {
		data = bytes.Clone(data)
	}
	ev.Data = data
	if notif {
		c.notification(&ev)
	}
	if err := c.send(ctx, ev); err != nil {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.subs[s.id] == s {
			if had {
				*s.pos = prev
				c.noteEpochLocked(s.pos)
			} else {
				s.pos = nil
			}
		}
		return false, err
	}
	return true, nil
}

// send blocks until the application takes ev or ctx is done.
func (c *Client) send(ctx context.Context, ev Event) error {
	// Without waiting first, which is cheaper while Events has room.
	select {
	case c.events <- ev:
		return nil
	default:
	}
	select {
	case c.events <- ev:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
