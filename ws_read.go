package halley

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"

	"github.com/halleyhq/halley/internal/wire/frame"
)

// Why a WebSocket's reader stopped, beside the connection's errors and
// ws.ProtocolError (a frame that breaks RFC 6455).
var (
	errWSPeerClosed = errors.New("halley: websocket closed by the client")
	errWSTooBig     = errors.New("halley: websocket message over the limit")
	errWSQuit       = errors.New("halley: websocket connection ending")
	// errWSCloseByte: a close frame's payload is empty, or a status code
	// and maybe a reason; one byte is neither.
	errWSCloseByte = ws.ProtocolError("close frame of one byte")
)

// wsReadChunk is how much of a large payload is read at a time: a message
// grows as its bytes come, not to the length its header claims.
const wsReadChunk = 4 << 10

// read reads the client's frames and hands them to the writing side
// (the stream's owner), until the connection fails, the client closes it
// or a frame is refused. It then tells the owner, and drains what the
// client still sends until the connection closes.
//
// Frames are taken at most Config.ClientFrameRate per second (in bursts
// of as many): past it the reader waits, and with it the client, whose
// frames stay in its socket. A client sending frames as fast as it can
// costs the server that rate, not a core.
func (c *wsConn) read() {
	defer c.h.wg.Done()
	defer close(c.gone)
	err := c.readFrames()
	c.readErr = err
	c.readDone.Store(true)
	c.st.w.notify()
	if err != errWSPeerClosed {
		// After its close frame the client sends nothing more, and
		// waits for the server to close the connection.
		c.drain()
	}
}

// readFrames reads messages until reading fails or the connection ends.
// It waits for the client here, at the top of its goroutine, and reads
// each message on a goroutine of its own, which it waits for: the
// reader's stack stays as small as it starts, and an idle connection
// holds no more.
func (c *wsConn) readFrames() error {
	done := make(chan error, 1)
	for {
		if c.br.Buffered() == 0 {
			if _, err := c.br.Peek(1); err != nil {
				return err
			}
		}
		go func() { done <- c.readMessage() }()
		if err := <-done; err != nil {
			return err
		}
	}
}

// readMessage reads a message and queues it for the owner.
func (c *wsConn) readMessage() error {
	op, b, err := c.message()
	if err != nil {
		return err
	}
	select {
	case c.cmds <- wsMessage{op, b}:
		c.st.w.notify()
		return nil
	case <-c.quit:
		return errWSQuit
	}
}

// decode decodes a client message into a command (a refused one says
// why).
func (m wsMessage) decode() wsCommand {
	if m.op == ws.OpText && !utf8.Valid(m.b) {
		// RFC 6455, 8.1: a text message must be UTF-8.
		return wsCommand{bad: "a text message that is not UTF-8", status: ws.StatusInvalidFramePayloadData}
	}
	return decodeWSCommand(m.op, m.b)
}

// message reads the client's next message, whole: its frames, with the
// control frames sent between them handled on the way.
func (c *wsConn) message() (ws.OpCode, []byte, error) {
	var op ws.OpCode
	var msg []byte
	state := ws.StateServerSide
	for {
		h, err := c.header(state)
		if err != nil {
			return 0, nil, err
		}
		if h.OpCode.IsControl() {
			if err := c.controlFrame(h); err != nil {
				return 0, nil, err
			}
			continue
		}
		if !state.Fragmented() {
			op = h.OpCode
		}
		// A length of 2^63 or more reads as negative; one near it would
		// overflow the sum.
		if h.Length < 0 || h.Length > c.h.cfg.MaxFrameSize-int64(len(msg)) {
			c.skip = h.Length
			return 0, nil, errWSTooBig
		}
		if msg, err = c.payload(msg, h); err != nil {
			return 0, nil, err
		}
		if h.Fin {
			return op, msg, nil
		}
		state = state.Set(ws.StateFragmented)
	}
}

// header waits for the client frame rate, then reads and checks the next
// frame's header.
func (c *wsConn) header(state ws.State) (ws.Header, error) {
	if err := c.wait(); err != nil {
		return ws.Header{}, err
	}
	h, err := ws.ReadHeaderBuffer(c.br, c.hdr[:])
	if err != nil {
		return h, err
	}
	if err := ws.CheckHeader(h, state); err != nil {
		c.skip = h.Length // for drain
		return h, err
	}
	return h, nil
}

// wait waits for the client frame rate to allow one more frame.
func (c *wsConn) wait() error {
	r := c.lim.Reserve()
	d := r.Delay()
	if d == 0 {
		return nil
	}
	if testHookFrameWait != nil {
		testHookFrameWait()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-c.quit:
		r.Cancel()
		return errWSQuit
	}
}

// payload appends the unmasked payload of a frame to dst.
func (c *wsConn) payload(dst []byte, h ws.Header) ([]byte, error) {
	for pos := int64(0); pos < h.Length; {
		n := int(min(h.Length-pos, wsReadChunk))
		at := len(dst)
		dst = slices.Grow(dst, n)[:at+n]
		if _, err := io.ReadFull(c.br, dst[at:]); err != nil {
			return nil, err
		}
		ws.Cipher(dst[at:], h.Mask, int(pos))
		pos += int64(n)
	}
	return dst, nil
}

// controlFrame handles a ping (its pong is the owner's to send), a pong
// (the peer is there: the deadline a ping set goes) and a close.
func (c *wsConn) controlFrame(h ws.Header) error {
	p, err := c.payload(nil, h)
	if err != nil {
		return err
	}
	switch h.OpCode {
	case ws.OpPing:
		// Only the last ping unanswered is answered (RFC 6455, 5.5.3).
		c.pong.Store(&p)
		c.st.w.notify()
	case ws.OpPong:
		if c.awaitPong.Swap(false) && !c.closing.Load() {
			_ = c.conn.SetReadDeadline(time.Time{})
		}
	case ws.OpClose:
		if len(p) == 1 {
			return errWSCloseByte
		}
		code, reason := ws.ParseCloseFrameData(p)
		if !code.Empty() {
			if err := ws.CheckCloseFrameData(code, reason); err != nil {
				return err
			}
		}
		c.peerCode = code
		return errWSPeerClosed
	}
	return nil
}

// drain reads and drops what the client sends once reading stopped, so
// that the socket does not close on unread bytes (which would reset the
// connection, and the client could lose the server's last frames). It
// returns at the client's close frame, or when the connection fails or
// closes (the owner closes it after wsCloseWait at most).
func (c *wsConn) drain() {
	if c.skip > 0 {
		// Bounded in time: the owner closes the connection wsCloseWait
		// after its close frame.
		if _, err := io.CopyN(io.Discard, c.br, c.skip); err != nil {
			return
		}
	}
	for {
		h, err := ws.ReadHeaderBuffer(c.br, c.hdr[:])
		if err != nil {
			return
		}
		if _, err := io.CopyN(io.Discard, c.br, h.Length); err != nil || h.OpCode == ws.OpClose {
			return
		}
	}
}

// testHookFrameWait, set only by tests, runs when a reader is about to
// wait for its client frame rate.
var testHookFrameWait func()

// decodeWSCommand decodes a client message: one subscribe or unsubscribe
// frame.
func decodeWSCommand(op ws.OpCode, b []byte) wsCommand {
	if op != ws.OpText {
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
