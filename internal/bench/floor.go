package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"time"
)

// FloorConfig is a floor measurement: what writing the events a server
// delivers costs on this machine, with nothing of a server around it.
type FloorConfig struct {
	// Connections is the number of loopback TCP connections, each to a
	// sink process that reads and drops what comes.
	Connections int
	// Messages is the number of rounds: each writes one event to every
	// connection, one write each.
	Messages int
	// Rate, when positive, is the rounds per second; zero: as fast as
	// the writes go.
	Rate float64
	// Size is the payload's size; the event written is an SSE event of
	// the shape a server sends for it. Default: DefaultSize.
	Size int
	// Publishers, when positive, measures the floor of an HTTP publish
	// instead (floor_publish.go): Messages requests in all, from that
	// many publishers, each one at a time, and for each an answer and
	// one write of its event to one of the connections, this process
	// playing the server; Rate is not used.
	Publishers int
	// Sink is the command that runs the sink: it must listen on a
	// loopback port, print its address on a first line, and read its
	// connections until its standard input closes (ServeSink; for
	// Publishers, it also runs the publishers its standard input asks
	// for).
	Sink []string
}

// FloorResult is what a floor measurement found.
type FloorResult struct {
	Connections int     `json:"connections"`
	Writes      int     `json:"writes"`
	WritesPerS  float64 `json:"writes_per_s"`
	// CPUUSPerWrite is this process's CPU time over the writes divided
	// by them: the write system call and the kernel's loopback delivery,
	// which is charged to the sender.
	CPUUSPerWrite float64 `json:"cpu_us_per_write"`
	// Publishes and CPUUSPerPublish, for FloorConfig.Publishers: the
	// requests answered, and this process's CPU time per request (its
	// read, its answer and its event's write), to set beside a server's
	// CPU per publish.
	Publishes       int     `json:"publishes,omitempty"`
	CPUUSPerPublish float64 `json:"cpu_us_per_publish,omitempty"`
	// CPUUserUSPerPublish is the user part of CPUUSPerPublish (the rest
	// is the kernel's).
	CPUUserUSPerPublish float64 `json:"cpu_user_us_per_publish,omitempty"`
	// HostStealPct is Result's: the share of the machine's time its
	// host stole over the writes (nil: not known).
	HostStealPct *float64 `json:"host_steal_pct"`
}

// Floor measures the floor of a delivery: GOMAXPROCS goroutines write
// round-robin, each to its share of the connections, one write per
// connection per round, as a server's writers would with nothing to
// gather.
func Floor(ctx context.Context, cfg FloorConfig) (FloorResult, error) {
	if cfg.Connections < 1 || cfg.Messages < 1 || len(cfg.Sink) == 0 {
		return FloorResult{}, fmt.Errorf("%w: floor: want connections, messages and a sink", ErrConfig)
	}
	if cfg.Size <= 0 {
		cfg.Size = DefaultSize
	}
	sink := exec.CommandContext(ctx, cfg.Sink[0], cfg.Sink[1:]...)
	in, err := sink.StdinPipe()
	if err != nil {
		return FloorResult{}, err
	}
	out, err := sink.StdoutPipe()
	if err != nil {
		return FloorResult{}, err
	}
	if err := sink.Start(); err != nil {
		return FloorResult{}, fmt.Errorf("floor: sink: %w", err)
	}
	defer func() {
		in.Close()
		_ = sink.Wait()
	}()
	sinkOut := bufio.NewReader(out)
	line, err := sinkOut.ReadString('\n')
	if err != nil {
		return FloorResult{}, fmt.Errorf("floor: sink: %w", err)
	}
	addr := strings.TrimSpace(line)

	conns := make([]net.Conn, 0, cfg.Connections)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	var d net.Dialer
	for range cfg.Connections {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return FloorResult{}, fmt.Errorf("floor: %w", err)
		}
		conns = append(conns, c)
	}
	payload := appendPayload(nil, 1, time.Now().UnixNano(), cfg.Size)
	event := []byte(`id: bench-0:1:Xk3q9vQp2mRt8wYz1aBcDe` + "\n" +
		`data: {"type":"msg","channel":"bench-0","offset":1,"data":"` + string(payload) + `"}` + "\n\n")

	if cfg.Publishers > 0 {
		return floorPublish(ctx, cfg, conns, event, in, sinkOut)
	}
	writers := min(runtime.GOMAXPROCS(0), len(conns))
	c0, err := readFloorClock()
	if err != nil {
		return FloorResult{}, err
	}
	for round := range cfg.Messages {
		if cfg.Rate > 0 {
			due := c0.at.Add(time.Duration(float64(round) / cfg.Rate * float64(time.Second)))
			if wait := time.Until(due); wait > 0 {
				select {
				case <-time.After(wait):
				case <-ctx.Done():
					return FloorResult{}, ctx.Err()
				}
			}
		}
		var wg sync.WaitGroup
		errs := make([]error, writers)
		for w := range writers {
			wg.Go(func() {
				for i := w; i < len(conns); i += writers {
					if _, err := conns[i].Write(event); err != nil {
						errs[w] = err
						return
					}
				}
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return FloorResult{}, fmt.Errorf("floor: %w", err)
		}
	}
	c1, err := readFloorClock()
	if err != nil {
		return FloorResult{}, err
	}
	writes := cfg.Messages * len(conns)
	return FloorResult{
		Connections:   len(conns),
		Writes:        writes,
		WritesPerS:    float64(writes) / c1.at.Sub(c0.at).Seconds(),
		CPUUSPerWrite: float64((c1.cpu - c0.cpu).Microseconds()) / float64(writes),
		HostStealPct:  stealPct(c0.m, c1.m),
	}, nil
}

// floorClock is what a floor measurement reads before and after its
// work: the time, this process's CPU time and the machine's ticks.
type floorClock struct {
	at        time.Time
	cpu, user time.Duration
	m         cpu
}

func readFloorClock() (floorClock, error) {
	var c floorClock
	t, err := procTimes(os.Getpid())
	if err != nil {
		return c, err
	}
	c.cpu, c.user = t.user+t.system, t.user
	c.m.readMachine()
	c.at = time.Now()
	return c, nil
}

// ServeSink is the floor's sink: it listens on a loopback port, writes its
// address and a line end to stdout, and reads and drops what its
// connections send until stdin closes. A line "publish ADDR PUBLISHERS
// COUNT SIZE" on stdin runs the publish floor's publishers against ADDR
// (FloorConfig.Publishers) and writes "done" to stdout when they are.
//
// It reads its connections as the bench reads raw subscribers
// (Config.Raw): with the epoll loops of its poller where there is one,
// so that each write of a floor costs its sender the wake-up of a reader
// that a case's write costs it (the kernel charges a loopback reader's
// wake-up to the writer); elsewhere a goroutine reads each.
func ServeSink(stdin io.Reader, stdout io.Writer) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	if _, err := fmt.Fprintln(stdout, ln.Addr()); err != nil {
		return err
	}
	var wg sync.WaitGroup
	var p *rawPoller
	if rawPolling {
		if p, err = newRawPoller(nil, &wg); err != nil {
			return err
		}
	}
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for n := 0; ; n++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if p != nil {
				// A connection the poller cannot take is closed, and
				// the floor's write to it fails.
				if fd, err := detach(c.(*net.TCPConn), c); err == nil {
					_ = p.add(n, fd, nil, nil)
				}
				continue
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() { _, _ = io.Copy(io.Discard, c) })
		}
	})
	lines := bufio.NewScanner(stdin)
	for lines.Scan() {
		if line := lines.Text(); strings.HasPrefix(line, "publish ") {
			sinkPublish(line, stdout)
		}
	}
	ln.Close()
	mu.Lock()
	for _, c := range conns {
		c.Close()
	}
	mu.Unlock()
	if p != nil {
		p.close() // its loops close their sockets
	}
	wg.Wait()
	return nil
}
