package client

import (
	"context"
	"encoding/json"
	"errors"
	"slices"

	"github.com/halleyhq/halley/internal/wire/frame"
)

// reasonSessionClosed is the reason of the gap event that says the
// notification channel was lost with its session.
const reasonSessionClosed = "session_closed"

// listenKey names a key of a notifier.
type listenKey struct{ notifier, key string }

func (k listenKey) body() []byte {
	b, _ := json.Marshal(struct {
		Notifier string `json:"notifier"`
		Key      string `json:"key"`
	}{k.notifier, k.key})
	return b
}

// listenState is what the client knows of one key it listens to.
type listenState struct {
	// session is the session in which the server last confirmed the
	// listen; "" when none did, or that session's notifications were
	// lost.
	session string
	// pending is true while a Listen call is under way: the client does
	// not listen again on its own meanwhile.
	pending bool
}

// Listen makes the client's session listen on key of notifier: the
// notifications the notifier sends for that key (each prepared for this
// client's session) arrive as EventNotify events, in the order they were
// sent, exactly once, like the messages of a channel. Listening on a key
// already listened to is harmless.
//
// Over a connected WebSocket, Listen sends a listen frame and waits for the
// server's answer, and the connection starts reading the session's
// notification channel at once. Otherwise (SSE, long-poll, or a WebSocket
// not connected yet) it posts to /listen and subscribes to that channel
// from its start, so that a notification sent before the subscription is
// made is not lost. The channel is then kept like any subscription: its
// position survives reconnections and transport switches.
//
// Listening belongs to the session on the server: after a reconnection in
// the same session nothing needs doing but resuming the channel. When the
// session is lost (it expired, or the server closed it), its notifications
// go with it: the client hands over an EventGap of the old notification
// channel with reason "session_closed", then listens again, in the new
// session, on every key it listens to, before reading the new
// notification channel.
//
// A refusal is a *RefusedError (reasons "unknown_notifier",
// "invalid_options" for a key the notifier cannot parse, "forbidden" for a
// key the client's token does not allow…); then, and on any
// other failure of a first Listen of the key, the client does not listen
// on the key (though the server may, if the answer was lost: call Unlisten
// or Listen again).
func (c *Client) Listen(ctx context.Context, notifier, key string) error {
	if notifier == "" || key == "" {
		return errors.New("client: listen: want a notifier and a key")
	}
	k := listenKey{notifier, key}
	c.mu.Lock()
	st := c.listens[k]
	first := st == nil
	if first {
		st = &listenState{}
		c.listens[k] = st
	}
	st.pending = true
	l := c.ws
	c.mu.Unlock()

	err := errNotSent
	if l != nil {
		err = c.listenWS(ctx, l, k)
	}
	if errors.Is(err, errNotSent) {
		err = c.listenHTTP(ctx, k)
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if c.listens[k] == st {
		st.pending = false
		var re *RefusedError
		if err != nil && (first || errors.As(err, &re)) {
			delete(c.listens, k)
		}
	}
	return err
}

// Unlisten stops the client's session listening on key of notifier.
// Notifications sent after it returns never arrive; one sent before may
// still be on its way. The client forgets the key even when Unlisten
// fails, and never listens on it again by itself.
//
// Unlisten always posts to /unlisten, whatever the transport: the
// WebSocket unlisten frame has no answer, so the client could not know
// when it has taken effect. A refusal is a *RefusedError.
func (c *Client) Unlisten(ctx context.Context, notifier, key string) error {
	if notifier == "" || key == "" {
		return errors.New("client: unlisten: want a notifier and a key")
	}
	k := listenKey{notifier, key}
	c.mu.Lock()
	delete(c.listens, k)
	session := c.session
	c.mu.Unlock()
	if session == "" {
		// No session yet, or it was lost: nothing listens on the server.
		return nil
	}
	_, err := c.post(ctx, "unlisten", k.body())
	return err
}

// listenHTTP listens on k with POST /listen and records the answer.
func (c *Client) listenHTTP(ctx context.Context, k listenKey) error {
	ans, err := c.post(ctx, "listen", k.body())
	if err != nil {
		return err
	}
	if ans.Channel == "" {
		return &protocolError{msg: "listen: the answer names no channel"}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if ans.Session != "" && ans.Session != c.session {
		// The session changed meanwhile: this listen went to an old one.
		if st := c.listens[k]; st != nil {
			st.session = ""
		}
		return nil
	}
	c.listenedLocked(k, ans.Channel, c.session)
	if s := c.subs[ans.Channel]; s == nil {
		// From the start of the channel: it holds only notifications of
		// this session's keys, and one may come before the subscription.
		zero := uint64(0)
		s := &sub{id: ans.Channel, from: From{After: &zero}, pos: &Position{}}
		c.subs[ans.Channel] = s
		c.noteEpochLocked(s.pos)
		c.notify()
	}
	return nil
}

// listenedLocked records that the server listens on k for session, with
// notifications on channel. c.mu is held.
func (c *Client) listenedLocked(k listenKey, channel, session string) {
	if st := c.listens[k]; st != nil {
		st.session = session
	}
	if session == c.session {
		c.notif, c.notifSession = channel, session
	}
}

// loseNotificationsLocked drops the notification channel of a session
// that is gone, queues the gap event that tells the application, and
// marks every key to be listened to again. c.mu is held.
func (c *Client) loseNotificationsLocked() {
	ev := Event{Type: EventGap, Channel: c.notif, Reason: reasonSessionClosed}
	if s := c.subs[c.notif]; s != nil {
		if s.pos != nil {
			ev.Offset, ev.Epoch = s.pos.Offset, s.pos.Epoch
		}
		delete(c.subs, c.notif)
		c.notify()
	}
	c.lost = append(c.lost, ev)
	c.notif, c.notifSession = "", ""
	for _, st := range c.listens {
		st.session = ""
	}
}

// flushLost hands over the events queued by loseNotificationsLocked.
func (c *Client) flushLost(ctx context.Context) error {
	c.mu.Lock()
	lost := c.lost
	c.lost = nil
	c.mu.Unlock()
	for i, ev := range lost {
		if err := c.send(ctx, ev); err != nil {
			c.mu.Lock()
			c.lost = append(lost[i:], c.lost...)
			c.mu.Unlock()
			return err
		}
	}
	return nil
}

// staleLocked returns the keys to listen on again: those no Listen call is
// under way for, that the server has not confirmed in the current
// session. c.mu is held.
func (c *Client) staleLocked() []listenKey {
	var keys []listenKey
	for k, st := range c.listens {
		if !st.pending && (st.session == "" || st.session != c.session) {
			keys = append(keys, k)
		}
	}
	return keys
}

// stale reports whether some key must be listened to again.
func (c *Client) stale() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.staleLocked()) > 0
}

// relistenHTTP listens again on the stale keys, with POST /listen, before
// an SSE stream or a poll reads the new notification channel. A key the
// server no longer accepts (its notifier is gone) is dropped.
func (c *Client) relistenHTTP(ctx context.Context) error {
	c.mu.Lock()
	keys := c.staleLocked()
	c.mu.Unlock()
	slices.SortFunc(keys, compareKeys)
	for _, k := range keys {
		err := c.listenHTTP(ctx, k)
		if err == nil {
			continue
		}
		if !c.dropRefused(k, err) {
			return err
		}
	}
	return nil
}

// dropRefused forgets k when err says the server will never accept it
// (the notifier is gone, or the client's token does not allow the key),
// and reports whether it did.
func (c *Client) dropRefused(k listenKey, err error) bool {
	var re *RefusedError
	if !errors.As(err, &re) || (re.Reason != "unknown_notifier" && re.Reason != "invalid_options" && re.Reason != reasonForbidden) {
		return false
	}
	c.log.Warn("halley client: cannot listen again", "notifier", k.notifier, "key", k.key, "reason", re.Reason, "message", re.Message)
	c.mu.Lock()
	defer c.mu.Unlock()
	if st := c.listens[k]; st != nil && !st.pending {
		delete(c.listens, k)
	}
	return true
}

func compareKeys(a, b listenKey) int {
	if a.notifier != b.notifier {
		if a.notifier < b.notifier {
			return -1
		}
		return 1
	}
	switch {
	case a.key < b.key:
		return -1
	case a.key > b.key:
		return 1
	}
	return 0
}

// notification turns the msg event of a notification into a notify
// event. A payload that is not a notification stays a msg event.
func (c *Client) notification(ev *Event) {
	f, err := frame.Decode(ev.Data)
	if err != nil || f.Notifier == "" || !f.HasData() {
		c.log.Warn("halley client: a message of the notification channel is not a notification", "channel", ev.Channel, "offset", ev.Offset)
		return
	}
	ev.Type, ev.Notifier, ev.Key, ev.Data = EventNotify, f.Notifier, f.Key, f.Data()
}

// errNotSent is the failure of a WebSocket frame that never left the
// client: its connection ended first. The operation can go another way.
var errNotSent = errors.New("client: not sent")
