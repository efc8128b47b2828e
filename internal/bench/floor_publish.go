package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The floor of an HTTP publish (FloorConfig.Publishers): what the
// publish-2k case's work costs with nothing of a server around it. This
// process plays the server, as plainly as Go allows: each publisher's
// connection has a goroutine that reads a request of the bench's shape,
// writes a fixed answer, then writes the message's event to one of the
// subscribers' connections (publisher j's messages to connections j,
// j+publishers, …, as the bench's channels go). The sink process plays
// the publishers, through Go's HTTP client as the bench's, each one
// request at a time on a kept-alive connection, and the subscribers,
// which it reads and drops as the bench reads raw ones (ServeSink). The CPU figure is this process's: two
// loopback writes and a read per publish, with Go's poller around them.

// floorBody returns the body each floor publisher posts: the bench's
// publication of a payload of size bytes.
func floorBody(size int) []byte {
	return []byte(`{"channel":"bench-1234","data":"` + string(appendPayload(nil, 1, time.Now().UnixNano(), size)) + `"}`)
}

// floorAnswerBody is the body of the floor server's answer to each
// request, and floorAnswer the whole answer, with the head the API's
// publish answer has.
const floorAnswerBody = `{"offset":1234,"delivered":1}` + "\n"

var floorAnswer = []byte("HTTP/1.1 200 OK\r\nCache-Control: no-store\r\nContent-Type: application/json\r\n" +
	"X-Content-Type-Options: nosniff\r\nDate: Wed, 02 Dec 2026 11:00:00 GMT\r\nContent-Length: " +
	strconv.Itoa(len(floorAnswerBody)) + "\r\n\r\n" + floorAnswerBody)

// floorPublish runs the publish floor over conns, the subscribers'
// connections to the sink, whose stdin and stdout are in and out.
func floorPublish(ctx context.Context, cfg FloorConfig, conns []net.Conn, event []byte, in io.Writer, out *bufio.Reader) (FloorResult, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return FloorResult{}, err
	}
	// The sink's answer, once asked for: on an early return it is
	// waited for last, once the publishers' connections are closed
	// (the sink's publishers then fail and it answers, or ctx's end
	// kills it).
	var done chan error
	defer func() {
		if done != nil {
			<-done
		}
	}()
	var wg sync.WaitGroup
	defer wg.Wait() // after the listener and the connections close
	defer ln.Close()
	pubs := make([]net.Conn, 0, cfg.Publishers)
	var mu sync.Mutex
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range pubs {
			c.Close()
		}
	}()
	// The first failure of a publisher's connection (a clean end is
	// none: the sink's publishers close theirs when done).
	errs := make(chan error, 1)
	fail := func(err error) {
		select {
		case errs <- err:
		default:
		}
	}
	wg.Go(func() {
		for j := range cfg.Publishers {
			c, err := ln.Accept()
			if err != nil {
				fail(err)
				return
			}
			mu.Lock()
			pubs = append(pubs, c)
			mu.Unlock()
			wg.Go(func() {
				if err := floorServe(c, conns, event, j, cfg.Publishers); err != nil {
					fail(err)
				}
			})
		}
	})

	c0, err := readFloorClock()
	if err != nil {
		return FloorResult{}, err
	}
	if _, err := fmt.Fprintf(in, "publish %s %d %d %d\n", ln.Addr(), cfg.Publishers, cfg.Messages, cfg.Size); err != nil {
		return FloorResult{}, fmt.Errorf("floor: sink: %w", err)
	}
	done = make(chan error, 1)
	go func() {
		line, err := out.ReadString('\n')
		if err == nil && strings.TrimSpace(line) != "done" {
			err = fmt.Errorf("sink: %s", strings.TrimSpace(line))
		}
		done <- err
	}()
	select {
	case err = <-done:
		done = nil
	case err = <-errs:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		return FloorResult{}, fmt.Errorf("floor: %w", err)
	}
	c1, err := readFloorClock()
	if err != nil {
		return FloorResult{}, err
	}
	used := float64((c1.cpu - c0.cpu).Microseconds())
	return FloorResult{
		Connections:         len(conns),
		Writes:              2 * cfg.Messages,
		WritesPerS:          float64(2*cfg.Messages) / c1.at.Sub(c0.at).Seconds(),
		CPUUSPerWrite:       used / float64(2*cfg.Messages),
		Publishes:           cfg.Messages,
		CPUUSPerPublish:     used / float64(cfg.Messages),
		CPUUserUSPerPublish: float64((c1.user - c0.user).Microseconds()) / float64(cfg.Messages),
		HostStealPct:        stealPct(c0.m, c1.m),
	}, nil
}

// maxFloorHeadLines bounds the lines of a request's head that the floor
// server reads (each at most bufio's 4 KiB).
const maxFloorHeadLines = 64

// floorServe serves publisher j's connection: a request (its head read
// to the empty line, then its Content-Length's worth of body), the
// answer, then event (the same bytes each time: the floor measures the
// system calls, not encoding) to the next of its subscribers'
// connections, until the connection ends (nil: the sink's publisher is
// done) or a request is malformed or a write fails.
func floorServe(c net.Conn, conns []net.Conn, event []byte, j, publishers int) error {
	br := bufio.NewReader(c)
	for k := j; ; k += publishers {
		n := -1
		for lines := 0; ; lines++ {
			if lines == maxFloorHeadLines {
				return errors.New("publish floor: a request's head is too long")
			}
			line, err := br.ReadSlice('\n')
			if err != nil {
				if len(line) == 0 && n < 0 && errors.Is(err, io.EOF) {
					return nil
				}
				return fmt.Errorf("publish floor: a request's head: %w", err)
			}
			if len(line) <= 2 {
				break
			}
			if v, ok := bytes.CutPrefix(line, []byte("Content-Length: ")); ok {
				if n, err = strconv.Atoi(string(bytes.TrimSpace(v))); err != nil || n < 0 || n > 1<<20 {
					return errors.New("publish floor: a bad Content-Length")
				}
			}
		}
		if _, err := br.Discard(max(n, 0)); err != nil {
			return fmt.Errorf("publish floor: a request's body: %w", err)
		}
		if _, err := c.Write(floorAnswer); err != nil {
			return err
		}
		if _, err := conns[k%len(conns)].Write(event); err != nil {
			return err
		}
	}
}

// sinkPublish is the sink's side of the publish floor, told by a line
// "publish ADDR PUBLISHERS COUNT SIZE" on its stdin: COUNT POSTs in all
// to ADDR, from PUBLISHERS goroutines through Go's HTTP client (as the
// bench publishes), each one at a time on a kept-alive connection. It
// writes "done" to stdout when all are answered, or the error.
func sinkPublish(line string, stdout io.Writer) {
	f := strings.Fields(line)
	var p, n, size int
	var err error
	if len(f) != 5 {
		err = errors.New("bad publish line")
	} else {
		p, err = strconv.Atoi(f[2])
		if err == nil {
			n, err = strconv.Atoi(f[3])
		}
		if err == nil {
			size, err = strconv.Atoi(f[4])
		}
	}
	if err == nil {
		err = sinkPublishers("http://"+f[1]+"/api/publish", p, n, floorBody(size))
	}
	if err != nil {
		fmt.Fprintln(stdout, strings.ReplaceAll(err.Error(), "\n", "; "))
		return
	}
	fmt.Fprintln(stdout, "done")
}

func sinkPublishers(url string, p, n int, body []byte) error {
	tr := &http.Transport{MaxIdleConnsPerHost: p, MaxConnsPerHost: p}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	var wg sync.WaitGroup
	errs := make([]error, p)
	for j := range p {
		wg.Go(func() {
			for k := j; k < n; k += p {
				req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
				if err != nil {
					errs[j] = err
					return
				}
				req.Header.Set("Content-Type", "application/json")
				res, err := hc.Do(req)
				if err != nil {
					errs[j] = err
					return
				}
				_, err = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if err == nil && res.StatusCode != http.StatusOK {
					err = fmt.Errorf("status %d", res.StatusCode)
				}
				if err != nil {
					errs[j] = err
					return
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
