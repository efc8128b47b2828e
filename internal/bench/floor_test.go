package bench_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/halleyhq/halley/internal/bench"
)

// TestFloor writes to a sink process (this test binary, see TestMain):
// every write is counted, with this process's CPU per write.
func TestFloor(t *testing.T) {
	t.Setenv(sinkEnv, "1")
	res, err := bench.Floor(t.Context(), bench.FloorConfig{Connections: 5, Messages: 40, Sink: []string{os.Args[0]}})
	os.Unsetenv(sinkEnv)
	if err != nil {
		t.Fatal(err)
	}
	if res.Connections != 5 || res.Writes != 200 || res.WritesPerS <= 0 || res.CPUUSPerWrite < 0 {
		t.Fatalf("floor %+v: want 200 writes to 5 connections", res)
	}
	if _, err := bench.Floor(t.Context(), bench.FloorConfig{Messages: 1, Sink: []string{os.Args[0]}}); !errors.Is(err, bench.ErrConfig) {
		t.Fatalf("no connections: %v, want ErrConfig", err)
	}
}

// TestFloor_Publish runs the publish floor: the sink's publishers post
// through Go's HTTP client and must get every answer, each followed by
// an event to a subscriber's connection.
func TestFloor_Publish(t *testing.T) {
	t.Setenv(sinkEnv, "1")
	res, err := bench.Floor(t.Context(), bench.FloorConfig{Connections: 3, Messages: 30, Publishers: 2, Sink: []string{os.Args[0]}})
	os.Unsetenv(sinkEnv)
	if err != nil {
		t.Fatal(err)
	}
	if res.Connections != 3 || res.Publishes != 30 || res.Writes != 60 || res.CPUUSPerPublish < 0 {
		t.Fatalf("publish floor %+v: want 30 publishes to 3 connections, 60 writes", res)
	}
	if _, err := os.Stat("/proc/stat"); err == nil && res.HostStealPct == nil {
		t.Error("no steal figure, with a /proc/stat to read it from")
	}
}

// TestServeSink reads and drops what its connections send, more than
// their sockets' buffers hold (so the writes end only if it reads), and
// ends when its input does, its connections closed.
func TestServeSink(t *testing.T) {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	served := make(chan error, 1)
	go func() { served <- bench.ServeSink(inR, outW); outW.Close() }()
	t.Cleanup(func() { inW.Close() }) // the sink ends on a failure too
	out := bufio.NewReader(outR)
	addr, err := out.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	for range 3 {
		c, err := net.Dial("tcp", strings.TrimSpace(addr))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	chunk := make([]byte, 1<<20)
	for _, c := range conns {
		for range 16 {
			if _, err := c.Write(chunk); err != nil {
				t.Fatal(err)
			}
		}
	}
	inW.Close()
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	for i, c := range conns {
		if n, err := c.Read(make([]byte, 1)); err == nil {
			t.Fatalf("connection %d: read %d bytes after the sink ended, want its end", i, n)
		}
	}
}
