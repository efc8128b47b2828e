package halley

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
)

// Buffers of a WebSocket connection. net/http hands a hijacked
// connection over with a 4 KiB reader and a fresh 4 KiB writer, which an
// idle connection would keep for its whole life. A client sends small
// frames (larger ones are read straight into their message), so a small
// reader does; the writer gathers a frame's header with its payload (a
// payload larger than the writer goes out in a second write).
const (
	wsReadBuffer  = 256
	wsWriteBuffer = 2 << 10
)

// wsHijacker gives the WebSocket library the client's connection with the
// small buffers above, keeping what net/http had read ahead of the
// handshake.
type wsHijacker struct{ http.ResponseWriter }

func (w wsHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	br := bufio.NewReaderSize(conn, wsReadBuffer)
	if n := brw.Reader.Buffered(); n > 0 {
		// The library takes what the reader holds: it gets what was read
		// ahead in its buffer.
		ahead, _ := brw.Reader.Peek(n)
		br = bufio.NewReaderSize(io.MultiReader(bytes.NewReader(bytes.Clone(ahead)), conn), max(wsReadBuffer, n))
		if _, err := br.Peek(n); err != nil {
			_ = conn.Close()
			return nil, nil, err
		}
	}
	return conn, bufio.NewReadWriter(br, bufio.NewWriterSize(conn, wsWriteBuffer)), nil
}

// Unwrap gives http.ResponseController the writer beneath.
func (w wsHijacker) Unwrap() http.ResponseWriter { return w.ResponseWriter }
