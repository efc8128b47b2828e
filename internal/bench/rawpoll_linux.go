package bench

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
)

// rawPoller reads sockets with epoll, a few loops for all of them: the
// raw subscribers' (Config.Raw), so that the load tool's own cost per
// delivery (which takes CPU from the server on a small machine, and adds
// to the latency it measures) is one read of a socket that has data, no
// goroutine to wake, no read that finds nothing; and the floor's sink's,
// so that a floor's writes wake their reader as a case's do (a reader
// asleep in epoll costs its sender a wake-up that one in Go's poller, often
// awake for another socket, does not). Each loop has its own epoll set and
// its share of the sockets; a socket is read once per wake-up (epoll is
// level-triggered), into the loop's buffer.
type rawPoller struct {
	fail  func(error) // a loop's own failure; nil: none is reported
	loops []*rawLoop
	stop  [2]int // a pipe: closing its write end wakes every loop to end
	once  sync.Once
	ended atomic.Int32 // loops that ended: the last closes stop[0]
}

// rawLoop is one epoll loop and the streams it reads.
type rawLoop struct {
	p       *rawPoller
	epfd    int
	mu      sync.Mutex
	streams map[int32]*rawStream // by file descriptor
}

// rawStream is a socket and what takes what it reads.
type rawStream struct {
	fd int
	// feed takes what each read brought; nil drops it.
	feed func([]byte) error
	// done, if not nil, learns why the stream was dropped: its read or
	// its feed failed, or the peer closed.
	done func(error)
}

// rawPolling says whether this system has the poller.
const rawPolling = true

// newRawPoller starts the loops, one per processor; they run in wg until
// close. fail, if not nil, learns of a loop's own failure (its epoll
// wait's), after which that loop reads no more.
func newRawPoller(fail func(error), wg *sync.WaitGroup) (*rawPoller, error) {
	p := &rawPoller{fail: fail}
	if err := syscall.Pipe2(p.stop[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		return nil, fmt.Errorf("bench: poller: %w", err)
	}
	for range runtime.GOMAXPROCS(0) {
		epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
		if err == nil {
			err = syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, p.stop[0], &syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(p.stop[0])})
		}
		if err != nil {
			for _, l := range p.loops {
				syscall.Close(l.epfd)
			}
			syscall.Close(epfd)
			syscall.Close(p.stop[0])
			syscall.Close(p.stop[1])
			return nil, fmt.Errorf("bench: poller: %w", err)
		}
		l := &rawLoop{p: p, epfd: epfd, streams: make(map[int32]*rawStream)}
		p.loops = append(p.loops, l)
	}
	for _, l := range p.loops {
		wg.Go(l.run)
	}
	return p, nil
}

// close makes the loops end; each closes its sockets as it goes.
func (p *rawPoller) close() {
	p.once.Do(func() { syscall.Close(p.stop[1]) })
}

// add gives socket fd (non-blocking, the poller's from now on: it closes
// it, on failure too) to loop key%loops, its reads to feed and its end
// to done (rawStream).
func (p *rawPoller) add(key, fd int, feed func([]byte) error, done func(error)) error {
	st := &rawStream{fd: fd, feed: feed, done: done}
	l := p.loops[key%len(p.loops)]
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.streams == nil {
		syscall.Close(fd)
		return errors.New("the run ended")
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: int32(fd)}
	if err := syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
		syscall.Close(fd)
		return err
	}
	l.streams[int32(fd)] = st
	return nil
}

// run reads the loop's sockets until the poller closes.
func (l *rawLoop) run() {
	defer l.end()
	events := make([]syscall.EpollEvent, 256)
	buf := make([]byte, 64<<10)
	for {
		n, err := syscall.EpollWait(l.epfd, events, -1)
		if err != nil {
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			if l.p.fail != nil {
				l.p.fail(fmt.Errorf("bench: poller: %w", err))
			}
			return
		}
		l.mu.Lock()
		for _, ev := range events[:n] {
			if int(ev.Fd) == l.p.stop[0] {
				l.mu.Unlock()
				return
			}
			st := l.streams[ev.Fd]
			if st == nil {
				continue
			}
			if err := st.read(buf); err != nil {
				l.drop(st)
				if st.done != nil {
					st.done(err)
				}
			}
		}
		l.mu.Unlock()
	}
}

// read reads the socket once and feeds what came.
func (st *rawStream) read(buf []byte) error {
	n, err := syscall.Read(st.fd, buf)
	switch {
	case errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EINTR):
		return nil
	case err != nil:
		return err
	case n == 0:
		return errors.New("the server closed the connection")
	case st.feed == nil:
		return nil
	}
	return st.feed(buf[:n])
}

// drop stops reading st and closes its socket. l.mu is held.
func (l *rawLoop) drop(st *rawStream) {
	_ = syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_DEL, st.fd, nil)
	syscall.Close(st.fd)
	delete(l.streams, int32(st.fd))
}

// end closes the loop's sockets and its epoll set.
func (l *rawLoop) end() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, st := range l.streams {
		syscall.Close(st.fd)
	}
	l.streams = nil
	syscall.Close(l.epfd)
	if int(l.p.ended.Add(1)) == len(l.p.loops) {
		syscall.Close(l.p.stop[0])
	}
}

// detach takes the socket of c from the Go runtime: a duplicate of its
// descriptor (non-blocking, as the runtime left it) outlives c, which
// closes.
func detach(c syscall.Conn, closer interface{ Close() error }) (int, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	var dupErr error
	err = raw.Control(func(s uintptr) {
		r, _, errno := syscall.Syscall(syscall.SYS_FCNTL, s, syscall.F_DUPFD_CLOEXEC, 0)
		if errno != 0 {
			dupErr = errno
			return
		}
		fd = int(r)
	})
	if err == nil {
		err = dupErr
	}
	closer.Close()
	return fd, err
}
