package uring_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/halleyhq/halley/internal/uring"
)

// newBatch returns a batch, skipping where io_uring is not available
// (failing in CI, whose machines have it).
// flush runs b's sends and returns their results and unsent bytes.
func flush(b *uring.Batch) ([]uring.Result, [][]byte) {
	var res []uring.Result
	var rests [][]byte
	b.Flush(func(i int, r uring.Result, rest []byte) {
		res = append(res, r)
		rests = append(rests, append([]byte(nil), rest...))
	})
	return res, rests
}

func newBatch(t *testing.T) *uring.Batch {
	t.Helper()
	b, err := uring.New()
	if errors.Is(err, uring.ErrUnavailable) {
		if os.Getenv("CI") != "" {
			t.Fatal("io_uring is not available in CI")
		}
		t.Skip("SKIP: io_uring is not available on this machine")
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

// pair returns the two ends of a loopback TCP connection, the first as
// its descriptor.
func pair(t *testing.T) (int, net.Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	fd := -1
	rc.Control(func(f uintptr) { fd = int(f) })
	return fd, c, s
}

// TestBatch sends to several sockets in one flush: each gets its runs, in
// order, the runs of one socket added one after the other made one send.
func TestBatch(t *testing.T) {
	b := newBatch(t)
	type end struct {
		fd   int
		peer net.Conn
		want []byte
	}
	var ends []end
	for range 5 {
		fd, c, s := pair(t)
		_ = c
		ends = append(ends, end{fd: fd, peer: s})
	}
	for round := range 3 {
		for i := range ends {
			e := &ends[i]
			for part := range 2 {
				p := []byte{byte('a' + i), byte('0' + round), byte('0' + part), '\n'}
				if _, ok := b.Add(e.fd, p); !ok {
					t.Fatal("no room")
				}
				e.want = append(e.want, p...)
			}
		}
		if b.Len() != len(ends) {
			t.Fatalf("%d runs, want %d (one per socket)", b.Len(), len(ends))
		}
		res, _ := flush(b)
		for i, r := range res {
			if r.Errno != 0 || r.N != 8 {
				t.Fatalf("run %d: %+v, want 8 bytes sent", i, r)
			}
		}
	}
	for i, e := range ends {
		got := make([]byte, len(e.want))
		if _, err := io.ReadFull(e.peer, got); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, e.want) {
			t.Errorf("socket %d got %q, want %q", i, got, e.want)
		}
	}
}

// TestBatch_Full: a socket that takes only part of a run says how much
// (the rest is the caller's); then one that takes nothing says 0, without
// an error.
func TestBatch_Full(t *testing.T) {
	b := newBatch(t)
	fd, _, peer := pair(t)
	p := bytes.Repeat([]byte("x"), uring.BufferSize/2)
	sent := 0
	for {
		if _, ok := b.Add(fd, p); !ok {
			t.Fatal("no room")
		}
		res, rests := flush(b)
		r := res[0]
		if r.Errno != 0 {
			t.Fatalf("send: %v", r.Errno)
		}
		if r.N+len(rests[0]) != len(p) {
			t.Fatalf("sent %d, %d left, of %d", r.N, len(rests[0]), len(p))
		}
		sent += r.N
		if r.N == 0 {
			break
		}
		if sent > 64<<20 {
			t.Fatal("the socket never filled")
		}
	}
	got, err := io.ReadAll(io.LimitReader(peer, int64(sent)))
	if err != nil || len(got) != sent {
		t.Fatalf("read %d bytes (%v), want the %d sent", len(got), err, sent)
	}
}

// TestBatch_Errors: a send to a connection its peer reset fails with the
// socket's error, not a signal; a descriptor that is not a socket is
// written; a batch without room says so.
func TestBatch_Errors(t *testing.T) {
	b := newBatch(t)
	fd, _, peer := pair(t)
	peer.(*net.TCPConn).SetLinger(0)
	peer.Close()
	var errno syscall.Errno
	for range 100 { // the reset arrives with the first send's answer
		b.Add(fd, []byte("hello"))
		if res, _ := flush(b); res[0].Errno != 0 {
			errno = res[0].Errno
			break
		}
	}
	if errno != syscall.EPIPE && errno != syscall.ECONNRESET {
		t.Errorf("send to a reset connection: %v, want EPIPE or ECONNRESET", errno)
	}

	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	b.Add(int(w.Fd()), []byte("to a pipe"))
	if res, _ := flush(b); res[0].Errno != 0 || res[0].N != 9 {
		t.Errorf("write to a pipe: %+v, want 9 bytes", res)
	}
	got := make([]byte, 9)
	if _, err := io.ReadFull(r, got); err != nil || string(got) != "to a pipe" {
		t.Errorf("pipe read %q, %v", got, err)
	}

	if _, ok := b.Add(fd, make([]byte, uring.BufferSize+1)); ok {
		t.Error("a run larger than the buffer was queued")
	}
	// Negative descriptors, each its own run, which no open file can be.
	for i := range uring.MaxRuns {
		if _, ok := b.Add(-1-i, []byte("x")); !ok {
			t.Fatalf("run %d refused", i)
		}
	}
	if _, ok := b.Add(fd, []byte("x")); ok {
		t.Error("a run past MaxRuns was queued")
	}
	res, _ := flush(b)
	for _, res := range res {
		if res.Errno != syscall.EBADF {
			t.Fatalf("send to no descriptor: %+v, want EBADF", res)
		}
	}
}
