package halley

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
	"golang.org/x/time/rate"

	"github.com/halleyhq/halley/internal/wire/frame"
)

// WebSocket close statuses of the Halley protocol (docs/protocol.md),
// beside websocket.StatusGoingAway (shutdown) and
// websocket.StatusMessageTooBig (a client message over MaxFrameSize).
const (
	wsStatusBadFrame      websocket.StatusCode = 4400
	wsStatusSlowClient    websocket.StatusCode = 4408
	wsStatusSessionClosed websocket.StatusCode = 4410
	wsStatusTokenExpired  websocket.StatusCode = 4401
	wsStatusDeactivated   websocket.StatusCode = 4503
)

const (
	// wsPull is the most messages per channel one pull takes.
	wsPull = 256
)

// wsCommand is a client frame the reader decoded, for the writer to apply:
// the stream belongs to the writer alone.
type wsCommand struct {
	typ         string // a frame type: subscribe, write, listen…
	unsubscribe bool
	channel     string
	from        start
	// write: the payload and the client's tag; listen, unlisten: the
	// notifier and key; refresh: the new token.
	data          []byte
	ref           string
	notifier, key string
	token         string
	// bad, when set, says why the client's frame was refused; the
	// connection ends with it, with status (default: bad_frame).
	bad    string
	status websocket.StatusCode
}

// WSHandler returns the WebSocket transport of the Halley protocol
// (docs/protocol.md): GET /ws opens a stream on which the client subscribes
// to channels and unsubscribes by sending frames, and the server sends
// batches of frames, each one text message of frames joined by LF.
//
// Each connection has two goroutines of the hub's (the handler's returns
// once the connection is upgraded; Shutdown waits for them): one reads
// the client's frames, the other owns the stream and does every write, so
// a connection never waits for
// another, and a client that takes no data for Config.WriteTimeout is cut
// off (close status 4408, slow_client).
func (h *Hub) WSHandler() http.Handler { return http.HandlerFunc(h.serveWS) }

func (h *Hub) serveWS(w http.ResponseWriter, r *http.Request) {
	v := h.admit(w, r, http.MethodGet)
	if v == nil {
		return
	}
	handedOff := false
	defer func() {
		if !handedOff {
			v.done()
		}
	}()
	// admit checked the page's origin against Config.AllowedOrigins.
	opts := &websocket.AcceptOptions{InsecureSkipVerify: true}
	if !looksLikeWebSocket(r) {
		// Not a handshake: the library answers it (426, 400), and no
		// session is made for it.
		_, _ = websocket.Accept(w, r, opts)
		return
	}
	if !v.join(w) {
		return
	}
	conn, err := websocket.Accept(wsHijacker{w}, r, opts)
	if err != nil {
		// Accept has answered; the session made for it goes with done.
		return
	}
	v.keep()
	conn.SetReadLimit(h.cfg.MaxFrameSize)
	remote := r.RemoteAddr
	v.slim()
	// The connection is the hub's now: a goroutine of its own carries
	// it, and net/http's, with its stack and buffers, goes.
	if !h.track(1) {
		// Shutting down: the connection ends here.
		_ = conn.CloseNow()
		return
	}
	handedOff = true
	go func() {
		defer h.wg.Done()
		h.runWS(v, conn, remote)
	}()
}

// runWS serves a WebSocket connection until it ends: the reader, on a
// goroutine of its own, and the writer, this one.
func (h *Hub) runWS(v *visit, conn *websocket.Conn, remote string) {
	s := v.s
	// Not under the hub's context: at Shutdown the stream is woken (see
	// stream.watch) and still writes its close frame.
	ctx, cancel := context.WithCancel(context.Background())
	st := h.newStream(s, &v.grant)
	reads := &wsSignals{cmds: make(chan wsCommand, wsQueue), wake: st.w}
	var wg sync.WaitGroup
	// Deferred in this order, they run backwards: stop the reader, close
	// the connection (which ends the reader's Read), wait for it, then
	// drop the subscriptions.
	defer st.close()
	// The request's slot and session go before the subscriptions do: a
	// client seen gone can come back at once.
	defer v.done()
	st.watch(v.sig.gen)
	defer wg.Wait()
	defer conn.CloseNow()
	defer cancel()
	lim := rate.NewLimiter(rate.Limit(h.cfg.ClientFrameRate), max(1, int(h.cfg.ClientFrameRate)))
	wg.Go(func() { reads.readDone(wsRead(ctx, conn, reads, lim)) })
	stopCtx := context.AfterFunc(ctx, st.w.notify)
	defer stopCtx()

	ws := &wsConn{h: h, v: v, conn: conn, st: st, remote: remote, buf: getWriteBuffer()}
	ws.buf = append(frame.AppendHello(ws.buf, s.id, unixOrZero(v.grant.Expires)), '\n')
	ws.unwake = wakeAt(v.grant.Expires, st.w)
	defer func() { ws.unwake() }()
	defer ws.stopWriting()
	if !s.watchStream(st.w) {
		ws.sessionEnded(ctx)
		return
	}
	defer s.unwatchStream(st.w)
	ws.serve(ctx, s, reads)
}

// looksLikeWebSocket reports whether r asks for a WebSocket upgrade (the
// library checks the rest of the handshake).
func looksLikeWebSocket(r *http.Request) bool {
	return headerHasToken(r.Header, "Connection", "upgrade") && headerHasToken(r.Header, "Upgrade", "websocket")
}

// headerHasToken reports whether a comma-separated header holds token,
// case-insensitively.
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// wsQueue bounds the client frames read ahead of the writer: past it, the
// reader waits, and so does the client.
const wsQueue = 4

// wsSignals carry what the reader tells the writer: client frames, and the
// end of reading. The writer blocks on its stream's waiter alone, which
// the reader (like messages, kills, heartbeat ticks and the session's end)
// notifies.
type wsSignals struct {
	cmds chan wsCommand
	wake *waiter
	done atomic.Bool
	err  error // set before done
}

// send queues a client frame for the writer.
func (sg *wsSignals) send(ctx context.Context, cmd wsCommand) error {
	select {
	case sg.cmds <- cmd:
		sg.wake.notify()
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// readDone records that the reader stopped, and why.
func (sg *wsSignals) readDone(err error) {
	sg.err = err
	sg.done.Store(true)
	sg.wake.notify()
}

// wsConn is the writer side of one WebSocket connection.
type wsConn struct {
	h      *Hub
	v      *visit // the request that opened the connection, and its grant
	conn   *websocket.Conn
	st     *stream
	remote string
	buf    []byte // the next batch: frames each followed by LF
	items  []item

	// lastWrite is when the connection last wrote or pinged: an idle one
	// is pinged.
	lastWrite time.Time
	// wctx bounds writes; it is made anew only once half of its time has
	// passed (see writeContext).
	wctx     context.Context
	wcancel  context.CancelFunc
	deadline time.Time
	// unwake cancels the wake-up at the grant's end.
	unwake func()
	// refreshes limits the client's token refreshes, made on the first.
	refreshes *rate.Limiter
}

// A WebSocket client may refresh its token refreshBurst times at once,
// then once every refreshEvery.
const (
	refreshBurst = 3
	refreshEvery = 10 * time.Second
)

// serve writes batches until the connection ends.
func (ws *wsConn) serve(ctx context.Context, s *Session, sig *wsSignals) {
	pace := newPacer(ws.h.cfg.WriteDelay, &ws.h.writes)
	defer pace.stop()
	for {
		if reason := ws.st.stopped(); reason != "" {
			ws.stop(ctx, reason)
			return
		}
		if ctx.Err() != nil {
			return
		}
		if expired(ws.v.grant.Expires) {
			ws.end(ctx, "token_expired", wsStatusTokenExpired)
			return
		}
		if s.isClosed() {
			ws.sessionEnded(ctx)
			return
		}
		if ws.buf == nil {
			ws.buf = getWriteBuffer()
		}
		// The client's frames first, in order; the reader's end after
		// them, since a refused frame ends the reading.
		for more := true; more; {
			select {
			case cmd := <-sig.cmds:
				if !ws.command(ctx, cmd) {
					return
				}
			default:
				more = false
			}
		}
		if sig.done.Load() {
			if errors.Is(sig.err, websocket.ErrMessageTooBig) {
				// The library sent the 1009 close frame; Close drains the
				// rest of the message and waits for the client's answer.
				_ = ws.conn.Close(websocket.StatusMessageTooBig, "frame_too_large")
			}
			return
		}
		n := ws.batch()
		if n > 0 && pace.hold() {
			n += ws.batch()
		}
		if len(ws.buf) > 0 && !ws.write(ctx) {
			return
		}
		if n > 0 {
			pace.wrote()
			continue
		}
		pace.idle()
		if time.Since(ws.lastWrite) >= ws.h.cfg.Heartbeat/2 {
			// Idle: make sure the peer is still there.
			pctx, cancel := context.WithTimeout(ctx, ws.h.cfg.WriteTimeout)
			err := ws.conn.Ping(pctx)
			cancel()
			if err != nil {
				ws.h.log.Debug("halley: websocket peer did not answer a ping", "err", err)
				return
			}
			ws.lastWrite = time.Now()
		}
		<-ws.st.w.wake
	}
}

// command applies a client frame; false means the connection ends.
func (ws *wsConn) command(ctx context.Context, cmd wsCommand) bool {
	if cmd.bad != "" {
		status, reason := wsStatusBadFrame, "bad_frame"
		if cmd.status != 0 {
			status, reason = cmd.status, "invalid_utf8"
		}
		ws.refError("", reason, cmd.bad)
		if ws.write(ctx) {
			_ = ws.conn.Close(status, reason)
		}
		return false
	}
	ws.apply(cmd)
	return true
}

// stop ends the connection for a kill or the hub's shutdown.
func (ws *wsConn) stop(ctx context.Context, reason string) {
	if reason == "shutdown" {
		ws.end(ctx, "shutdown", websocket.StatusGoingAway)
	} else {
		ws.end(ctx, "deactivated", wsStatusDeactivated)
	}
}

// sessionEnded ends the connection of a closed session. Shutdown closes
// every session after stopping the streams: tell those clients to come
// back, not that their session is gone.
func (ws *wsConn) sessionEnded(ctx context.Context) {
	if ws.st.stopped() == "shutdown" {
		ws.end(ctx, "shutdown", websocket.StatusGoingAway)
		return
	}
	ws.end(ctx, "session_closed", wsStatusSessionClosed)
}

// apply runs a client frame; its answer goes out with the next batch.
// Writes run here, one after the other, so a client's writes enter the bus
// in the order it sent them; a slow filter delays this connection only.
func (ws *wsConn) apply(cmd wsCommand) {
	switch cmd.typ {
	case frame.TypeRefresh:
		ws.refresh(cmd)
		return
	case frame.TypeWrite:
		o, err := ws.h.clientWrite(ws.h.ctx, ws.st.session, ws.st.grant, ws.remote, cmd.channel, cmd.data)
		if err != nil {
			ws.refError(cmd.ref, Reason(err), clientMessage(err))
			return
		}
		ws.buf = append(frame.AppendWritten(ws.buf, cmd.channel, o.Offset, cmd.ref), '\n')
		return
	case frame.TypeListen:
		ch, err := ws.h.clientListen(ws.st.session, ws.st.grant, cmd.notifier, cmd.key)
		if err != nil {
			ws.refError(cmd.ref, Reason(err), clientMessage(err))
			return
		}
		ws.buf = append(frame.AppendListening(ws.buf, cmd.notifier, cmd.key, ch, cmd.ref), '\n')
		if _, sub := ws.st.find(ch); sub == nil {
			ws.buf = ws.st.subscribe(ws.buf, ch, start{}, false)
		}
		return
	case frame.TypeUnlisten:
		if err := ws.h.Unlisten(ws.st.session, cmd.notifier, cmd.key); err != nil {
			ws.refError(cmd.ref, Reason(err), clientMessage(err))
			return
		}
		ws.buf = append(frame.AppendUnlistened(ws.buf, cmd.notifier, cmd.key, cmd.ref), '\n')
		return
	}
	if cmd.unsubscribe {
		ws.buf = ws.st.unsubscribe(ws.buf, cmd.channel)
		return
	}
	if _, sub := ws.st.find(cmd.channel); sub == nil && len(ws.st.subs) >= MaxSubscriptions {
		msg := fmt.Sprintf("at most %d channels on one connection", MaxSubscriptions)
		ws.refError("", "too_many_subscriptions", msg)
		return
	}
	ws.buf = ws.st.subscribe(ws.buf, cmd.channel, cmd.from, false)
}

// batch appends one pull's frames to the buffer and returns how many
// items the pull found. The msg frames are the messages' shared encodings:
// a batch costs copies into the connection's buffer, not allocations per
// message.
func (ws *wsConn) batch() int {
	ws.items = ws.st.pull(ws.items[:0], wsPull)
	ws.buf = appendItems(ws.buf, ws.items)
	n := len(ws.items)
	clear(ws.items) // let the messages go with the ring
	return n
}

// write sends the pending frames as one text message, within the write
// timeout, and empties the buffer.
func (ws *wsConn) write(ctx context.Context) bool {
	ws.st.wrote(len(ws.buf) - 1)
	err := ws.conn.Write(ws.writeContext(ctx), websocket.MessageText, ws.buf[:len(ws.buf)-1])
	// An idle connection holds no buffer: the next batch takes one.
	putWriteBuffer(ws.buf)
	ws.buf = nil
	if err == nil {
		return true
	}
	if errors.Is(err, context.DeadlineExceeded) {
		// The library has already dropped the connection: the close
		// frame is a courtesy that usually cannot be sent.
		ws.h.log.Debug("halley: websocket slow client cut off", "timeout", ws.h.cfg.WriteTimeout)
		ws.h.countSlowClient()
		_ = ws.conn.Close(wsStatusSlowClient, "slow_client")
	}
	return false
}

// writeContext returns the context bounding a write. Making one costs a
// timer, so it is made anew only once half of WriteTimeout has passed: a
// client that takes no data is given between half and all of it.
func (ws *wsConn) writeContext(ctx context.Context) context.Context {
	now := time.Now()
	ws.lastWrite = now
	if ws.wctx == nil || ws.deadline.Sub(now) < ws.h.cfg.WriteTimeout/2 {
		ws.stopWriting()
		ws.deadline = now.Add(ws.h.cfg.WriteTimeout)
		ws.wctx, ws.wcancel = context.WithDeadline(ctx, ws.deadline)
	}
	return ws.wctx
}

// stopWriting releases the write context.
func (ws *wsConn) stopWriting() {
	if ws.wcancel != nil {
		ws.wcancel()
		ws.wctx, ws.wcancel = nil, nil
	}
}

// end sends a close frame and closes the connection with status.
func (ws *wsConn) end(ctx context.Context, reason string, status websocket.StatusCode) {
	ws.buf = append(frame.AppendClose(ws.buf, reason), '\n')
	if ws.write(ctx) {
		_ = ws.conn.Close(status, reason)
	}
}

// wsRead reads the client's frames and hands them to the writer, until the
// connection fails or a frame is refused.
//
// Frames are taken at most Config.ClientFrameRate per second (in bursts
// of as many): past it the reader waits, and with it the client, whose
// frames stay in its socket. A client sending frames as fast as it can
// costs the server that rate, not a core.
func wsRead(ctx context.Context, conn *websocket.Conn, sig *wsSignals, lim *rate.Limiter) error {
	for {
		if testHookFrameWait != nil && lim.Tokens() < 1 {
			testHookFrameWait()
		}
		if err := lim.Wait(ctx); err != nil {
			return err
		}
		typ, b, err := conn.Read(ctx)
		if err != nil {
			return err
		}
		var cmd wsCommand
		if typ == websocket.MessageText && !utf8.Valid(b) {
			// RFC 6455, 8.1: a text message must be UTF-8.
			cmd = wsCommand{bad: "a text message that is not UTF-8", status: websocket.StatusInvalidFramePayloadData}
		} else {
			cmd = decodeWSCommand(typ, b)
		}
		if err := sig.send(ctx, cmd); err != nil {
			return err
		}
		if cmd.bad != "" {
			return nil
		}
	}
}

// testHookFrameWait, set only by tests, runs when a reader is about to
// wait for its client frame rate.
var testHookFrameWait func()

// decodeWSCommand decodes a client message: one subscribe or unsubscribe
// frame.
func decodeWSCommand(typ websocket.MessageType, b []byte) wsCommand {
	if typ != websocket.MessageText {
		return wsCommand{bad: "frames are text messages"}
	}
	f, err := frame.Decode(b)
	if err != nil {
		return wsCommand{bad: "not a JSON frame: " + err.Error()}
	}
	switch f.Type {
	case frame.TypeSubscribe, frame.TypeUnsubscribe:
	case frame.TypeWrite:
		if f.Channel == "" || !f.HasData() {
			return wsCommand{bad: "a write needs a channel and a payload (json, data or data64)"}
		}
		return wsCommand{typ: f.Type, channel: f.Channel, data: f.Data(), ref: f.Ref}
	case frame.TypeRefresh:
		if f.Token == "" {
			return wsCommand{bad: "a refresh needs a token"}
		}
		return wsCommand{typ: f.Type, token: f.Token, ref: f.Ref}
	case frame.TypeListen, frame.TypeUnlisten:
		if f.Notifier == "" || f.Key == "" {
			return wsCommand{bad: f.Type + " needs a notifier and a key"}
		}
		return wsCommand{typ: f.Type, notifier: f.Notifier, key: f.Key, ref: f.Ref}
	case "":
		return wsCommand{bad: "missing type"}
	default:
		return wsCommand{bad: fmt.Sprintf("unknown frame type %q", f.Type)}
	}
	if f.Channel == "" {
		return wsCommand{bad: "missing channel"}
	}
	if f.Type == frame.TypeUnsubscribe {
		return wsCommand{unsubscribe: true, channel: f.Channel}
	}
	cmd := wsCommand{channel: f.Channel, from: start{after: f.After, epoch: f.Epoch, presence: f.Presence}}
	if f.Last != nil {
		switch {
		case *f.Last < 0:
			return wsCommand{bad: "last must not be negative"}
		case f.After != nil:
			return wsCommand{bad: "after and last exclude each other"}
		}
		cmd.from.last = *f.Last
	}
	return cmd
}

// refresh applies a client's new token: the grant it gives replaces the
// connection's (it must be the same user's), the stream's end moves to its
// expiry, and subscriptions it no longer allows end. A refused token
// leaves the connection as it was, to end at the old grant's expiry.
func (ws *wsConn) refresh(cmd wsCommand) {
	// A token is checked with a signature at each refresh (RS256: ~60 µs):
	// a client needs one per token, not a hundred a second.
	if ws.refreshes == nil {
		ws.refreshes = rate.NewLimiter(rate.Every(refreshEvery), refreshBurst)
	}
	if !ws.refreshes.Allow() {
		ws.refError(cmd.ref, "rate_limited", fmt.Sprintf("at most %d refreshes at once, then one every %v", refreshBurst, refreshEvery))
		return
	}
	g, err := ws.h.authorize(ws.v.r, cmd.token)
	if err == nil && g.User != ws.v.grant.User {
		err = fmt.Errorf("%w: the token is another user's", ErrForbidden)
	}
	if err != nil {
		_, reason, msg := ws.h.authStatus(err)
		ws.refError(cmd.ref, reason, msg)
		return
	}
	ws.v.grant = g
	ws.unwake()
	ws.unwake = wakeAt(g.Expires, ws.st.w)
	ws.buf = ws.st.recheck(ws.buf)
	ws.buf = append(frame.AppendRefreshed(ws.buf, unixOrZero(g.Expires), cmd.ref), '\n')
}

// refError appends an error frame answering the client frame tagged ref,
// and counts the refusal.
func (ws *wsConn) refError(ref, reason, msg string) {
	ws.h.refusals.add(reason)
	ws.buf = append(frame.AppendRefError(ws.buf, ref, reason, msg), '\n')
}
