package halley

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/halleyhq/halley/internal/wire/frame"
)

// TestWS_FrameWithHandshake: a client frame sent in the same packet as
// the handshake (which net/http reads ahead) is not lost when the
// connection changes buffers.
func TestWS_FrameWithHandshake(t *testing.T) {
	h, srv := hubServer(t, Config{}, (*Hub).WSHandler)
	if _, err := h.NewChannel(context.Background(), ChannelOptions{Name: "news"}); err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Minute))
	payload := []byte(`{"type":"subscribe","channel":"news"}`)
	req := "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	// One masked text frame, right behind the request.
	mask := [4]byte{1, 2, 3, 4}
	f := []byte{0x81, 0x80 | byte(len(payload)), mask[0], mask[1], mask[2], mask[3]}
	for i, b := range payload {
		f = append(f, b^mask[i%4])
	}
	if _, err := conn.Write(append([]byte(req), f...)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, nil)
	if err != nil || res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %v %v", res, err)
	}
	// Frames of the server: hello, then the subscribed frame; each
	// message holds frames separated by LF.
	var got []string
	for len(got) < 2 {
		var head [2]byte
		if _, err := io.ReadFull(br, head[:]); err != nil {
			t.Fatalf("frame head: %v", err)
		}
		n := int(head[1] & 0x7f)
		if n == 126 {
			var l [2]byte
			if _, err := io.ReadFull(br, l[:]); err != nil {
				t.Fatal(err)
			}
			n = int(binary.BigEndian.Uint16(l[:]))
		}
		msg := make([]byte, n)
		if _, err := io.ReadFull(br, msg); err != nil {
			t.Fatal(err)
		}
		if head[0]&0x0f != 1 {
			t.Fatalf("a frame of opcode %d (payload %q) before the subscribed frame", head[0]&0x0f, msg)
		}
		for line := range strings.SplitSeq(strings.TrimSpace(string(msg)), "\n") {
			fr, err := frame.Decode([]byte(line))
			if err != nil {
				t.Fatalf("frame %q: %v", line, err)
			}
			got = append(got, fr.Type)
		}
	}
	if got[0] != frame.TypeHello || got[1] != frame.TypeSubscribed {
		t.Fatalf("frames %v, want hello then subscribed", got)
	}
}
