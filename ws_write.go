package halley

import (
	"encoding/binary"
	"time"

	"github.com/gobwas/ws"
)

// wsHead is the room left at the front of a batch for its frame header
// (two bytes, and up to eight of length: a server's frames are not
// masked).
const wsHead = 10

var wsBlank [wsHead]byte

// grab gives the connection a buffer for its next batch.
func (c *wsConn) grab() {
	if c.buf == nil {
		c.buf = append(getWriteBuffer(), wsBlank[:]...)
	}
}

// pending reports whether frames wait in the batch.
func (c *wsConn) pending() bool { return len(c.buf) > wsHead }

// releaseBuf lets the batch buffer go: an idle connection holds none.
func (c *wsConn) releaseBuf() {
	if c.buf != nil && cap(c.buf) <= 4*sseChunk {
		putWriteBuffer(c.buf)
	}
	c.buf = nil
}

// flushText sends the batch as one text message: its frames joined by LF.
func (c *wsConn) flushText() {
	if !c.pending() {
		return
	}
	n := len(c.buf) - wsHead - 1 // the last LF stays out
	i := wsHead - putTextHeader(c.buf[:wsHead], n)
	c.st.wrote(n)
	c.send(c.buf[i : len(c.buf)-1])
	c.releaseBuf()
}

// putTextHeader writes the header of a final text frame of n bytes at the
// end of dst (wsHead bytes) and returns its length.
func putTextHeader(dst []byte, n int) int {
	switch {
	case n < 126:
		dst[wsHead-2], dst[wsHead-1] = 0x81, byte(n)
		return 2
	case n <= 0xffff:
		dst[wsHead-4], dst[wsHead-3] = 0x81, 126
		binary.BigEndian.PutUint16(dst[wsHead-2:], uint16(n))
		return 4
	default:
		dst[0], dst[1] = 0x81, 127
		binary.BigEndian.PutUint64(dst[2:], uint64(n))
		return wsHead
	}
}

// control sends a control frame (payload at most 125 bytes).
func (c *wsConn) control(op ws.OpCode, payload []byte) {
	b := getWriteBuffer()
	b = append(b, 0x80|byte(op), byte(len(payload)))
	b = append(b, payload...)
	c.send(b)
	putWriteBuffer(b)
}

// ping asks the client for a pong, which must come within the write
// timeout of the first ping it has not answered: the reader's deadline,
// which a pong clears, ends the connection otherwise.
func (c *wsConn) ping() {
	if !c.awaitPong.Swap(true) {
		_ = c.conn.SetReadDeadline(time.Now().Add(c.timeout))
	}
	c.control(ws.OpPing, nil)
}

// closeWith sends the close frame of status, within timeout (the owner's
// last write).
func (c *wsConn) closeWith(status ws.StatusCode, reason string, timeout time.Duration) {
	if c.err != nil {
		return
	}
	var p []byte
	if status != 0 {
		p = binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(reason)), uint16(status))
		p = append(p, reason...)
	}
	b := append([]byte{0x80 | byte(ws.OpClose), byte(len(p))}, p...)
	_ = c.out.SetWriteDeadline(time.Now().Add(timeout))
	if _, c.err = c.out.Write(b); c.err == nil {
		c.closeSent = true
	}
}

// batch appends one pull's frames to the batch and returns how many items
// the pull found. The msg frames are the messages' shared encodings: a
// batch costs copies into the connection's buffer, not allocations per
// message.
func (c *wsConn) batch() int {
	items := getItems()
	items = c.st.pull(items, wsPull)
	if len(items) > 0 {
		c.grab()
		c.buf = appendItems(c.buf, items)
	}
	n := len(items)
	putItems(items) // clears them: the messages go with the ring
	return n
}

// ownerNeeded reports whether the stream has more to do than write
// messages: a client frame or ping to answer, the end of reading or of
// the stream.
func (c *wsConn) ownerNeeded() bool {
	return len(c.cmds) > 0 || c.pong.Load() != nil || c.readDone.Load() ||
		c.st.stopped() != "" || expired(c.v.grant.Expires) || c.st.session.isClosed()
}

// step writes what the stream has, as its owner would, but never blocks
// (see sseConn.step): each pull is one text message, written at once.
func (c *wsConn) step() (busy, ok bool) {
	if c.ownerNeeded() {
		return false, false
	}
	h := c.h
	c.nb = true
	defer func() { c.nb = false }()
	items := getItems()
	defer func() { putItems(items) }()
	for n := 0; ; n++ {
		if n == stepPulls {
			c.slot.again.Store(true)
			return busy, true
		}
		items = c.st.pull(items[:0], wsPull)
		if len(items) == 0 {
			break
		}
		if n == 0 && gathered(items) {
			busy = true
			h.writes.gathered.Add(1)
		} else {
			h.writes.atOnce.Add(1)
		}
		c.grab()
		c.buf = appendItems(c.buf, items)
		clear(items)
		c.flushText()
		if c.spill != nil || c.err != nil {
			return busy, false
		}
	}
	if time.Since(c.lastWrite) >= h.cfg.Heartbeat/2 {
		c.ping()
	}
	return busy, c.spill == nil && c.err == nil
}

// park, called by the owner with nothing left to do, gives the stream to
// the writers (see poolSlot.park).
func (c *wsConn) park() bool {
	c.unarm()
	return c.slot.park(c.st.w.wake)
}
