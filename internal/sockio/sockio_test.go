package sockio_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/halleyhq/halley/internal/sockio"
)

// pair returns the two ends of a loopback TCP connection.
func pair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// sock returns c's descriptor; it skips the test where sockio does not
// apply.
func sock(t *testing.T, c net.Conn) int {
	t.Helper()
	rc := sockio.Of(c)
	if rc == nil {
		if runtime.GOOS == "windows" || runtime.GOOS == "plan9" || runtime.GOOS == "js" || runtime.GOOS == "wasip1" {
			t.Skipf("sockio does not apply on %s", runtime.GOOS)
		}
		t.Fatal("a TCP connection has no socket")
	}
	return sockio.FD(rc)
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestReadWrite(t *testing.T) {
	client, server := pair(t)
	sock(t, server)
	rc := sockio.NewConn(server)
	msg := bytes.Repeat([]byte("halley "), 1000)
	go func() { _, _ = client.Write(msg) }()
	got := make([]byte, 0, len(msg))
	buf := make([]byte, 1500)
	for len(got) < len(msg) {
		n, err := rc.Read(buf)
		if err != nil {
			t.Fatalf("Read after %d bytes: %v", len(got), err)
		}
		got = append(got, buf[:n]...)
	}
	if !bytes.Equal(got, msg) {
		t.Fatal("Read returned other bytes than were sent")
	}
	if n, err := rc.Write(msg); n != len(msg) || err != nil {
		t.Fatalf("Write: %d, %v", n, err)
	}
	back := make([]byte, len(msg))
	if _, err := io.ReadFull(client, back); err != nil || !bytes.Equal(back, msg) {
		t.Fatalf("the client read %v", err)
	}
	client.Close()
	if n, err := rc.Read(buf); n != 0 || err != io.EOF {
		t.Fatalf("Read after the peer closed: %d, %v; want io.EOF", n, err)
	}
}

func TestReadDeadline(t *testing.T) {
	_, server := pair(t)
	sock(t, server)
	rc := sockio.NewConn(server)
	_ = server.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
	_, err := rc.Read(make([]byte, 10))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read past the deadline: %v, want a timeout", err)
	}
}

// TestTryWriteFull: TryWrite never waits, it says how much the socket
// took (0 once it is full), and Write waits for room under the write
// deadline.
func TestTryWriteFull(t *testing.T) {
	_, server := pair(t)
	fd := sock(t, server)
	chunk := make([]byte, 64<<10)
	total := 0
	for {
		n, err := sockio.TryWrite(fd, chunk)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if total += n; total > 256<<20 {
			t.Fatal("the socket never filled")
		}
	}
	if n, err := sockio.NewConn(server).WriteNow(chunk); n != 0 || err != nil {
		t.Fatalf("WriteNow to a full socket: %d, %v; want 0, nil", n, err)
	}
	_ = server.SetWriteDeadline(time.Now().Add(10 * time.Millisecond))
	n, err := sockio.NewConn(server).Write(chunk)
	if n == len(chunk) || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Write to a full socket: %d, %v; want the deadline's error", n, err)
	}
}

func TestNoSocket(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if sockio.Of(a) != nil {
		t.Fatal("a pipe has a socket")
	}
	if sockio.NewConn(a) != nil {
		t.Fatal("a pipe has a Conn")
	}
	if sockio.Of(struct{ net.Conn }{a}) != nil {
		t.Fatal("a wrapper without SyscallConn has a socket")
	}
}
