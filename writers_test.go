//go:build unix

package halley

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/halleyhq/halley/internal/wire/frame"
)

// poolEvents records the writers' hand-backs and rests (testHookPool)
// for one test, and signals the first of each.
type poolEvents struct {
	mu       sync.Mutex
	count    map[string]int
	handback chan struct{}
	rest     chan struct{}
	park     chan struct{}
	parks    chan struct{} // one send per park (up to 64 pending)
	idle     chan struct{} // one send per writer going idle
}

func watchPool(t *testing.T) *poolEvents {
	ev := &poolEvents{count: map[string]int{}, handback: make(chan struct{}), rest: make(chan struct{}), park: make(chan struct{}), parks: make(chan struct{}, 64), idle: make(chan struct{}, 64)}
	testHookPool = func(what string) {
		ev.mu.Lock()
		defer ev.mu.Unlock()
		ev.count[what]++
		if what == "idle" {
			select {
			case ev.idle <- struct{}{}:
			default:
			}
		}
		if what == "park" {
			select {
			case ev.parks <- struct{}{}:
			default:
			}
		}
		if ev.count[what] == 1 {
			switch what {
			case "handback":
				close(ev.handback)
			case "rest":
				close(ev.rest)
			case "park":
				close(ev.park)
			}
		}
	}
	t.Cleanup(func() { testHookPool = nil })
	return ev
}

// poolHub returns a hub and a server of its SSE transport, both stopped
// at the end of the test.
func poolHub(t *testing.T, cfg Config) (*Hub, *httptest.Server) {
	return hubServer(t, cfg, (*Hub).SSEHandler)
}

// rawSSE is an SSE client on a bare TCP connection, reading only when
// asked.
type rawSSE struct {
	conn net.Conn
	r    *bufio.Reader
}

func dialSSE(t *testing.T, srv *httptest.Server, query string) *rawSSE {
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := fmt.Fprintf(conn, "GET /sse?%s HTTP/1.1\r\nHost: x\r\n\r\n", query); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(time.Minute))
	return &rawSSE{conn: conn, r: bufio.NewReaderSize(conn, 1<<16)}
}

// frame returns the next data line's frame, skipping the head, ids and
// comments.
func (c *rawSSE) frame(t *testing.T) frame.Frame {
	t.Helper()
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the stream: %v", err)
		}
		if data, ok := strings.CutPrefix(line, "data: "); ok {
			f, err := frame.Decode([]byte(strings.TrimSuffix(data, "\n")))
			if err != nil {
				t.Fatalf("frame %q: %v", data, err)
			}
			return f
		}
	}
}

// expect reads frames up to one of type typ.
func (c *rawSSE) expect(t *testing.T, typ string) frame.Frame {
	t.Helper()
	for {
		if f := c.frame(t); f.Type == typ {
			return f
		}
	}
}

// TestPool_FullSocketGoesToOwner: a client that stops reading fills its
// socket; the writers hand its stream back to its goroutine, which waits
// on the socket, and when the client reads again it gets every message
// once and in order, with no gap.
func TestPool_FullSocketGoesToOwner(t *testing.T) {
	ev := watchPool(t)
	const n, size = 200, 64 << 10
	h, srv := poolHub(t, Config{WriteTimeout: time.Minute})
	c, err := h.NewChannel(context.Background(), ChannelOptions{Name: "big", Size: n})
	if err != nil {
		t.Fatal(err)
	}
	cl := dialSSE(t, srv, "channel=big")
	cl.expect(t, frame.TypeSubscribed)
	ctx := context.Background()
	<-ev.park // the writers have the stream from now on
	payload := strings.Repeat("x", size)
	for i := 1; i <= n; i++ {
		if _, err := c.Write(ctx, []byte(fmt.Sprintf("%q", fmt.Sprint(i, payload)))); err != nil {
			t.Fatal(err)
		}
	}
	// 12.8 MiB do not fit in a loopback socket's buffers: the writers
	// hand the stream back before the client reads anything.
	<-ev.handback
	for i := 1; i <= n; i++ {
		f := cl.frame(t)
		if f.Type != frame.TypeMsg || f.Offset == nil || *f.Offset != uint64(i) {
			t.Fatalf("frame %d: %+v, want message %d", i, f, i)
		}
	}
}

// parkedNews returns a hub of cfg with a channel "news", and an SSE
// client of it whose stream the writers have (parked).
func parkedNews(t *testing.T, cfg Config) (*Hub, *Channel, *rawSSE, *poolEvents) {
	t.Helper()
	ev := watchPool(t)
	h, srv := poolHub(t, cfg)
	c, err := h.NewChannel(context.Background(), ChannelOptions{Name: "news"})
	if err != nil {
		t.Fatal(err)
	}
	cl := dialSSE(t, srv, "channel=news")
	cl.expect(t, frame.TypeSubscribed)
	<-ev.park
	return h, c, cl, ev
}

// TestPool_IdleWriter: a writer out of work waits for the next wake-up
// instead of ending, so that a stream woken now and then does not start a
// goroutine per write; the hub's shutdown ends it.
func TestPool_IdleWriter(t *testing.T) {
	h, c, cl, ev := parkedNews(t, Config{})
	for i := uint64(1); i <= 3; i++ {
		if _, err := c.Write(context.Background(), []byte(`"m"`)); err != nil {
			t.Fatal(err)
		}
		if f := cl.expect(t, frame.TypeMsg); *f.Offset != i {
			t.Fatalf("message %d: %+v", i, f)
		}
		<-ev.idle // the writer is done with it
	}
	ev.mu.Lock()
	spawned := ev.count["spawn"]
	ev.mu.Unlock()
	if spawned != 1 {
		t.Fatalf("%d writers started for 3 messages one after the other, want 1", spawned)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown with an idle writer: %v", err)
	}
	if p := &h.pool; p.idle || p.running != 0 {
		t.Fatalf("after shutdown: idle %v, %d writers running", p.idle, p.running)
	}
}

// TestPool_BusyStreamRests: a stream whose write gathers several
// messages rests the write delay after it; a hub shutting down ends the
// rest at once, and the stream gets its close frame.
func TestPool_BusyStreamRests(t *testing.T) {
	h, c, cl, ev := parkedNews(t, Config{WriteDelay: time.Hour})
	ctx := context.Background()
	// Two messages before any writer runs (every writer slot taken): the
	// stream's one write carries both.
	p := &h.pool
	p.mu.Lock()
	saved := p.running
	p.running = p.max
	p.mu.Unlock()
	for _, m := range []string{`"a"`, `"b"`} {
		if _, err := c.Write(ctx, []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	p.mu.Lock()
	p.running = saved
	p.spawnLocked()
	p.mu.Unlock()
	for i := uint64(1); i <= 2; i++ {
		if f := cl.expect(t, frame.TypeMsg); *f.Offset != i {
			t.Fatalf("message %d: %+v", i, f)
		}
	}
	<-ev.rest
	if _, err := c.Write(ctx, []byte(`"c"`)); err != nil {
		t.Fatal(err)
	}
	// Resting an hour: the third message waits. Shutdown ends the rest.
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := h.Shutdown(sctx); err != nil {
		t.Fatalf("shutdown with a resting stream: %v", err)
	}
	if f := cl.expect(t, frame.TypeClose); f.Reason != "shutdown" {
		t.Fatalf("close frame %+v", f)
	}
	if wc := h.WriteCounts(); wc.Gathered < 1 {
		t.Fatalf("WriteCounts %+v: the write of two messages is not counted gathered", wc)
	}
}

// TestSSE_UnpooledStreams: a stream whose connection has no socket of
// its own to write (TLS, HTTP/2) is written by its goroutine, as before
// the writers: it gets every message in order, then the channel's end.
func TestSSE_UnpooledStreams(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(map[bool]string{false: "TLS", true: "HTTP2"}[h2], func(t *testing.T) {
			h, err := New(Config{})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewUnstartedServer(h.SSEHandler())
			srv.EnableHTTP2 = h2
			srv.StartTLS()
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_ = h.Shutdown(ctx)
				srv.Close()
			})
			ctx := context.Background()
			c, err := h.NewChannel(ctx, ChannelOptions{Name: "news"})
			if err != nil {
				t.Fatal(err)
			}
			res, err := srv.Client().Get(srv.URL + "/sse?channel=news")
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			if (res.ProtoMajor == 2) != h2 {
				t.Fatalf("protocol %s", res.Proto)
			}
			cl := &rawSSE{r: bufio.NewReader(res.Body)}
			cl.expect(t, frame.TypeSubscribed)
			if err := c.WaitListeners(ctx, 1); err != nil {
				t.Fatal(err)
			}
			const n = 50
			for i := 1; i <= n; i++ {
				if _, err := c.Write(ctx, []byte(fmt.Sprint(i))); err != nil {
					t.Fatal(err)
				}
			}
			for i := 1; i <= n; i++ {
				if f := cl.frame(t); f.Type != frame.TypeMsg || *f.Offset != uint64(i) {
					t.Fatalf("frame %d: %+v", i, f)
				}
			}
			if err := c.Close(ctx); err != nil {
				t.Fatal(err)
			}
			if f := cl.expect(t, frame.TypeEnded); f.Channel != "news" {
				t.Fatalf("ended frame %+v", f)
			}
		})
	}
}
