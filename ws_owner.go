package halley

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/gobwas/ws"
	"golang.org/x/time/rate"

	"github.com/halleyhq/halley/internal/wire/frame"
)

// A WebSocket client may refresh its token refreshBurst times at once,
// then once every refreshEvery.
const (
	refreshBurst = 3
	refreshEvery = 10 * time.Second
)

// loop runs the stream as its owner: it writes what a writer left, answers
// the client's frames and pings, and writes batches; it reports true when
// the stream ended, false when it parked for the writers.
func (c *wsConn) loop() (ended bool) {
	h, s, st, pace := c.h, c.st.session, c.st, c.pace
	for {
		if spill := c.takeSpill(); spill != nil {
			c.send(spill)
		}
		if c.err != nil {
			c.fail(c.err)
			return true
		}
		if reason := st.stopped(); reason != "" {
			c.stop(reason)
			return true
		}
		if expired(c.v.grant.Expires) {
			c.finish("token_expired", wsStatusTokenExpired)
			return true
		}
		if s.isClosed() {
			c.sessionEnded()
			return true
		}
		if p := c.pong.Swap(nil); p != nil {
			c.control(ws.OpPong, *p)
		}
		// The client's frames first, in order; the reader's end after
		// them, since a refused frame ends the reading.
		for more := true; more; {
			select {
			case m := <-c.cmds:
				if !c.command(m.decode()) {
					return true
				}
			default:
				more = false
			}
		}
		if c.readDone.Load() {
			c.readEnded()
			return true
		}
		n := c.batch()
		if n > 0 && pace.hold() {
			n += c.batch()
		}
		c.flushText()
		if c.err != nil {
			c.fail(c.err)
			return true
		}
		if n > 0 {
			pace.wrote()
			continue
		}
		pace.idle()
		if time.Since(c.lastWrite) >= h.cfg.Heartbeat/2 {
			// Idle: make sure the peer is still there.
			c.ping()
			continue
		}
		if c.sock != nil {
			if c.park() {
				continue
			}
			return false
		}
		<-st.w.wake
	}
}

// command applies a client frame; false means the connection ends.
func (c *wsConn) command(cmd wsCommand) bool {
	if cmd.bad != "" {
		status, reason := wsStatusBadFrame, "bad_frame"
		if cmd.status != 0 {
			status, reason = cmd.status, "invalid_utf8"
		}
		c.refError("", reason, cmd.bad)
		c.flushText()
		c.closeWith(status, reason, c.timeout)
		return false
	}
	c.apply(cmd)
	return true
}

// readEnded ends the connection whose reader stopped: it answers a close
// frame of the client's with the same status, a message too large with
// 1009 and a broken frame with 1002; a connection that failed just ends.
func (c *wsConn) readEnded() {
	var pe ws.ProtocolError
	switch err := c.readErr; {
	case errors.Is(err, errWSPeerClosed):
		c.closeWith(c.peerCode, "", c.timeout)
	case errors.Is(err, errWSTooBig):
		c.closeWith(ws.StatusMessageTooBig, "frame_too_large", c.timeout)
	case errors.As(err, &pe), errors.Is(err, ws.ErrHeaderLengthMSB), errors.Is(err, ws.ErrHeaderLengthUnexpected):
		c.h.log.Debug("halley: websocket protocol error", "err", err)
		c.closeWith(ws.StatusProtocolError, "protocol_error", c.timeout)
	case err != nil:
		c.h.log.Debug("halley: websocket read ended", "err", err)
	}
}

// stop ends the connection for a kill or the hub's shutdown.
func (c *wsConn) stop(reason string) {
	if reason == "shutdown" {
		c.finish("shutdown", ws.StatusGoingAway)
	} else {
		c.finish("deactivated", wsStatusDeactivated)
	}
}

// sessionEnded ends the connection of a closed session. Shutdown closes
// every session after stopping the streams: tell those clients to come
// back, not that their session is gone.
func (c *wsConn) sessionEnded() {
	if c.st.stopped() == "shutdown" {
		c.finish("shutdown", ws.StatusGoingAway)
		return
	}
	c.finish("session_closed", wsStatusSessionClosed)
}

// finish sends a close frame of the Halley protocol, then the WebSocket
// close frame of status.
func (c *wsConn) finish(reason string, status ws.StatusCode) {
	c.grab()
	c.buf = append(frame.AppendClose(c.buf, reason), '\n')
	c.flushText()
	c.closeWith(status, reason, c.timeout)
}

// fail ends a stream whose write failed. A client that took no data
// before the deadline is a slow client: it is told so if its socket takes
// the rest of the frame cut short and the close frame in time.
func (c *wsConn) fail(err error) {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		c.h.log.Debug("halley: websocket slow client cut off", "timeout", c.timeout)
		c.h.countSlowClient()
		if c.finishUnsent(sseCloseTimeout) {
			c.closeWith(wsStatusSlowClient, "slow_client", sseCloseTimeout)
		}
		return
	}
	c.h.log.Debug("halley: websocket write failed", "err", err)
}

// apply runs a client frame; its answer goes out with the next batch.
// Writes run here, one after the other, so a client's writes enter the bus
// in the order it sent them; a slow filter delays this connection only.
func (c *wsConn) apply(cmd wsCommand) {
	c.grab()
	switch cmd.typ {
	case frame.TypeRefresh:
		c.refresh(cmd)
		return
	case frame.TypeWrite:
		o, err := c.h.clientWrite(c.h.ctx, c.st.session, c.st.grant, c.remote, cmd.channel, cmd.data)
		if err != nil {
			c.refError(cmd.ref, Reason(err), clientMessage(err))
			return
		}
		c.buf = append(frame.AppendWritten(c.buf, cmd.channel, o.Offset, cmd.ref), '\n')
		return
	case frame.TypeListen:
		ch, err := c.h.clientListen(c.st.session, c.st.grant, cmd.notifier, cmd.key)
		if err != nil {
			c.refError(cmd.ref, Reason(err), clientMessage(err))
			return
		}
		c.buf = append(frame.AppendListening(c.buf, cmd.notifier, cmd.key, ch, cmd.ref), '\n')
		if _, sub := c.st.find(ch); sub == nil {
			c.buf = c.st.subscribe(c.buf, ch, start{}, false)
		}
		return
	case frame.TypeUnlisten:
		if err := c.h.Unlisten(c.st.session, cmd.notifier, cmd.key); err != nil {
			c.refError(cmd.ref, Reason(err), clientMessage(err))
			return
		}
		c.buf = append(frame.AppendUnlistened(c.buf, cmd.notifier, cmd.key, cmd.ref), '\n')
		return
	}
	if cmd.unsubscribe {
		c.buf = c.st.unsubscribe(c.buf, cmd.channel)
		return
	}
	if _, sub := c.st.find(cmd.channel); sub == nil && len(c.st.subs) >= MaxSubscriptions {
		msg := fmt.Sprintf("at most %d channels on one connection", MaxSubscriptions)
		c.refError("", "too_many_subscriptions", msg)
		return
	}
	c.buf = c.st.subscribe(c.buf, cmd.channel, cmd.from, false)
}

// refresh applies a client's new token: the grant it gives replaces the
// connection's (it must be the same user's), the stream's end moves to its
// expiry, and subscriptions it no longer allows end. A refused token
// leaves the connection as it was, to end at the old grant's expiry.
func (c *wsConn) refresh(cmd wsCommand) {
	// A token is checked with a signature at each refresh (RS256: ~60 µs):
	// a client needs one per token, not a hundred a second.
	if c.refreshes == nil {
		c.refreshes = rate.NewLimiter(rate.Every(refreshEvery), refreshBurst)
	}
	if !c.refreshes.Allow() {
		c.refError(cmd.ref, "rate_limited", fmt.Sprintf("at most %d refreshes at once, then one every %v", refreshBurst, refreshEvery))
		return
	}
	g, err := c.h.authorize(c.v.r, cmd.token)
	if err == nil && g.User != c.v.grant.User {
		err = fmt.Errorf("%w: the token is another user's", ErrForbidden)
	}
	if err != nil {
		_, reason, msg := c.h.authStatus(err)
		c.refError(cmd.ref, reason, msg)
		return
	}
	c.v.grant = g
	c.unwake()
	c.unwake = wakeAt(g.Expires, c.st.w)
	c.buf = c.st.recheck(c.buf)
	c.buf = append(frame.AppendRefreshed(c.buf, unixOrZero(g.Expires), cmd.ref), '\n')
}

// refError appends an error frame answering the client frame tagged ref,
// and counts the refusal.
func (c *wsConn) refError(ref, reason, msg string) {
	c.grab()
	c.h.refusals.add(reason)
	c.buf = append(frame.AppendRefError(c.buf, ref, reason, msg), '\n')
}
