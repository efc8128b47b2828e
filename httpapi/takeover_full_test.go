//go:build unix

package httpapi_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/httpapi"
)

// TestTakeOver_FullAnswerSocket: a publisher that sends publishes without
// reading their answers fills its socket, and the lean loop has to wait to
// write an answer. It writes the streams the publish woke first (here an
// SSE stream the publisher's goroutine writes, the stream having caught up
// before each publish): the stream has that publish's message while the
// answer waits. Once the publisher reads, every publish has its answer, in
// order.
func TestTakeOver_FullAnswerSocket(t *testing.T) {
	f := newFullSocket(t)
	conn, id := f.conn, f.id
	n, _ := f.untilAnswerWaits(func(i uint64) {
		if _, err := io.WriteString(conn, publishReq(id, fmt.Sprintf(`"m%d"`, i), "")); err != nil {
			t.Fatal(err)
		}
	})

	// The publisher reads: each publish has its answer, in order.
	c := &rawConn{t: t, c: conn, br: bufio.NewReader(conn)}
	for i := range n {
		wantOffset(t, c.answer(), float64(i+1))
	}
	if got := f.ch.Offset(); got != n {
		t.Errorf("channel offset %d, want %d (one message per publish)", got, n)
	}
}

// fullSocket is the set-up of the tests of a full answer socket: a
// server that takes connections over, its channel id read by an SSE
// stream (seen), and a publisher's connection with small buffers on both
// ends, so that the server's socket fills after some dozens of answers
// (with the kernel's own sizes its send buffer grows to hold ~15 000,
// each one exchange). No deadline: a loaded machine takes many times
// longer for the few hundred exchanges, and go test's -timeout bounds a
// hang.
type fullSocket struct {
	t    *testing.T
	e    *testEnv
	id   string
	addr string
	seen *sseReader
	ch   *halley.Channel
	conn net.Conn
}

func newFullSocket(t *testing.T) *fullSocket {
	t.Helper()
	e, id := takeOverEnv(t, halley.Config{}, httpapi.Options{})
	f := &fullSocket{t: t, e: e, id: id, addr: e.srv.Listener.Addr().String()}
	f.seen = sseOffsets(t, f.addr, id)
	var ok bool
	if f.ch, ok = e.hub.Channel(id); !ok {
		t.Fatal("no channel")
	}
	f.conn = dialSmall(t, e)
	t.Cleanup(func() { f.conn.Close() })
	return f
}

// untilAnswerWaits publishes (publish(i) sends the i-th) once the SSE
// stream has the last one, reading no answer, until the server must wait
// to write an answer, the k-th publish's. The server writes the streams
// a publish woke before it waits: the SSE stream then has message k,
// which this waits for. It returns how many were sent, and k.
func (f *fullSocket) untilAnswerWaits(publish func(i uint64)) (n, k uint64) {
	t, seen := f.t, f.seen
	t.Helper()
	for k == 0 {
		n++
		publish(n)
		for k == 0 && seen.last.Load() < n {
			select {
			case <-seen.news:
			case a := <-answerWaits:
				if a == f.addr {
					k = f.ch.Offset()
				}
			case <-seen.ended:
				t.Fatalf("the stream ended before message %d", n)
			}
		}
	}
	for seen.last.Load() < k {
		select {
		case <-seen.news:
		case <-seen.ended:
			t.Fatalf("the stream ended before message %d, whose answer waits", k)
		}
	}
	return n, k
}

// dialSmall connects to e's server with small socket buffers on both
// ends (4 KiB asked), set before the connection is made (an accepted
// socket has its listener's).
func dialSmall(t *testing.T, e *testEnv) net.Conn {
	t.Helper()
	small := func(opt int) func(syscall.RawConn) error {
		return func(rc syscall.RawConn) error {
			var err error
			if cerr := rc.Control(func(fd uintptr) {
				err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, opt, 4096)
			}); cerr != nil {
				return cerr
			}
			return err
		}
	}
	lrc, err := e.srv.Listener.(*net.TCPListener).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	if err := small(syscall.SO_SNDBUF)(lrc); err != nil {
		t.Fatal(err)
	}
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error { return small(syscall.SO_RCVBUF)(rc) }}
	conn, err := d.Dial("tcp", e.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return conn
}

// sseReader is an SSE stream read on a goroutine of its own, as fast as
// it comes: the offset of the last message it had, news of each, and the
// end of the stream.
type sseReader struct {
	last  atomic.Uint64
	news  chan struct{} // a message came (at most one pending)
	ended chan struct{}
}

// sseOffsets opens an SSE stream of channel id on the server at addr and,
// once it has subscribed, reads it until the stream or the test ends.
func sseOffsets(t *testing.T, addr, id string) *sseReader {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	// No deadline (a slow machine is no failure): the cleanup's close
	// ends the reader, go test's -timeout a hang.
	if _, err := fmt.Fprintf(conn, "GET /sse?channel=%s HTTP/1.1\r\nHost: x\r\n\r\n", id); err != nil {
		t.Fatal(err)
	}
	s := &sseReader{news: make(chan struct{}, 1), ended: make(chan struct{})}
	subscribed := make(chan struct{})
	t.Cleanup(func() {
		conn.Close()
		<-s.ended
	})
	go func() {
		defer close(s.ended)
		r := bufio.NewReader(conn)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			var f struct {
				Type   string `json:"type"`
				Offset uint64 `json:"offset"`
			}
			if data, ok := strings.CutPrefix(line, "data: "); !ok || json.Unmarshal([]byte(data), &f) != nil || f.Type != "msg" {
				if f.Type == "subscribed" {
					close(subscribed)
				}
				continue
			}
			s.last.Store(f.Offset)
			select {
			case s.news <- struct{}{}:
			default:
			}
		}
	}()
	select {
	case <-subscribed:
	case <-s.ended:
		t.Fatal("the stream ended before it subscribed")
	}
	return s
}
