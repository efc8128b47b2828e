//go:build linux && (amd64 || arm64)

package uring

import (
	"sync/atomic"
	"syscall"
	"unsafe"
)

// The kernel's interface (linux/io_uring.h).
const (
	sysSetup = 425 // the same number on every architecture
	sysEnter = 426

	opSend        = 26 // IORING_OP_SEND
	enterGetEvent = 1  // IORING_ENTER_GETEVENTS

	setupSubmitAll   = 1 << 7 // IORING_SETUP_SUBMIT_ALL (5.18)
	setupCoopTaskrun = 1 << 8 // IORING_SETUP_COOP_TASKRUN (5.19)

	offSQRing      = 0
	offSQEs        = 0x10000000
	featSingleMmap = 1 << 0
)

type sqOffsets struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
	userAddr                                                        uint64
}

type cqOffsets struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
	userAddr                                                        uint64
}

type params struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFD uint32
	resv                                                                   [3]uint32
	sq                                                                     sqOffsets
	cq                                                                     cqOffsets
}

// sqe is a submission (64 bytes).
type sqe struct {
	opcode, flags    uint8
	ioprio           uint16
	fd               int32
	off, addr        uint64
	len, msgFlags    uint32
	userData         uint64
	bufIndex, person uint16
	spliceFD         int32
	addr3, pad       uint64
}

// cqe is a completion (16 bytes).
type cqe struct {
	userData uint64
	res      int32
	flags    uint32
}

// Batch is a ring and the runs queued for its next submission.
type Batch struct {
	fd           int
	rings, sqMem []byte
	sqTail       *uint32
	sqMask       uint32
	sqArray      []uint32
	sqes         []sqe
	cqHead       *uint32
	cqTail       *uint32
	cqMask       uint32
	cqes         []cqe

	buf  []byte // the runs' bytes, never grown: the submissions point in it
	runs []run
	res  []Result
	// broken: the ring failed; the batch takes nothing more.
	broken bool
}

// run is one queued send.
type run struct {
	fd         int
	start, end int // in buf
}

// New returns a batch with its ring, or ErrUnavailable.
func New() (*Batch, error) {
	var p params
	p.flags = setupSubmitAll | setupCoopTaskrun
	fd, errno := setup(MaxRuns, &p)
	if errno == syscall.EINVAL { // a kernel before 5.19
		p = params{}
		fd, errno = setup(MaxRuns, &p)
	}
	if errno != 0 || p.features&featSingleMmap == 0 {
		if errno == 0 {
			syscall.Close(fd)
		}
		return nil, ErrUnavailable
	}
	b := &Batch{fd: fd, buf: make([]byte, 0, BufferSize), runs: make([]run, 0, MaxRuns), res: make([]Result, 0, MaxRuns)}
	size := max(int(p.sq.array+p.sqEntries*4), int(p.cq.cqes+p.cqEntries*uint32(unsafe.Sizeof(cqe{}))))
	var err error
	if b.rings, err = syscall.Mmap(fd, offSQRing, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED|syscall.MAP_POPULATE); err != nil {
		syscall.Close(fd)
		return nil, ErrUnavailable
	}
	if b.sqMem, err = syscall.Mmap(fd, offSQEs, int(p.sqEntries)*int(unsafe.Sizeof(sqe{})), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED|syscall.MAP_POPULATE); err != nil {
		syscall.Munmap(b.rings)
		syscall.Close(fd)
		return nil, ErrUnavailable
	}
	base := unsafe.Pointer(unsafe.SliceData(b.rings))
	b.sqTail = (*uint32)(unsafe.Add(base, p.sq.tail))
	b.sqMask = *(*uint32)(unsafe.Add(base, p.sq.ringMask))
	b.sqArray = unsafe.Slice((*uint32)(unsafe.Add(base, p.sq.array)), p.sqEntries)
	b.sqes = unsafe.Slice((*sqe)(unsafe.Pointer(unsafe.SliceData(b.sqMem))), p.sqEntries)
	b.cqHead = (*uint32)(unsafe.Add(base, p.cq.head))
	b.cqTail = (*uint32)(unsafe.Add(base, p.cq.tail))
	b.cqMask = *(*uint32)(unsafe.Add(base, p.cq.ringMask))
	b.cqes = unsafe.Slice((*cqe)(unsafe.Add(base, p.cq.cqes)), p.cqEntries)
	if !b.nowaitHonored() {
		b.Close() // closing the ring ends a send it left waiting
		return nil, ErrUnavailable
	}
	return b, nil
}

func setup(entries uint32, p *params) (int, syscall.Errno) {
	r, _, e := syscall.RawSyscall(sysSetup, uintptr(entries), uintptr(unsafe.Pointer(p)), 0)
	return int(r), e
}

// Close lets the ring go. The batch must have nothing queued.
func (b *Batch) Close() {
	syscall.Munmap(b.sqMem)
	syscall.Munmap(b.rings)
	syscall.Close(b.fd)
}

// Len returns how many runs are queued.
func (b *Batch) Len() int { return len(b.runs) }

// Add queues a send of p to socket fd, or appends p to the last run when
// that is fd's, and returns the run's index. It reports false, queuing
// nothing, when the batch has no room for p: Flush, then Add again (a p
// larger than BufferSize never fits), and after the ring failed.
func (b *Batch) Add(fd int, p []byte) (int, bool) {
	if b.broken || len(b.buf)+len(p) > cap(b.buf) {
		return 0, false
	}
	if n := len(b.runs); n > 0 && b.runs[n-1].fd == fd {
		b.buf = append(b.buf, p...)
		b.runs[n-1].end = len(b.buf)
		return n - 1, true
	}
	if len(b.runs) == MaxRuns {
		return 0, false
	}
	start := len(b.buf)
	b.buf = append(b.buf, p...)
	b.runs = append(b.runs, run{fd: fd, start: start, end: len(b.buf)})
	return len(b.runs) - 1, true
}

// Flush sends the queued runs, each with one send that does not wait,
// all with one system call, and tells done what each did, by index, with
// the bytes of the run the socket did not take (valid during the call).
// A run to a descriptor that is not a socket is written with write(2)
// instead. An error of the ring itself is each run's error.
func (b *Batch) Flush(done func(i int, r Result, rest []byte)) {
	n := len(b.runs)
	b.res = b.res[:0]
	if n == 0 {
		return
	}
	b.prepare()
	for toSubmit, done := n, 0; done < n; {
		r, _, e := syscall.RawSyscall6(sysEnter, uintptr(b.fd), uintptr(toSubmit), uintptr(n-done), enterGetEvent, 0, 0)
		if e == 0 {
			toSubmit -= int(r)
		} else if e != syscall.EINTR && e != syscall.EAGAIN && e != syscall.EBUSY {
			b.broken = true // each run not completed keeps EIO
			break
		}
		done += b.reap()
	}
	for i, r := range b.res {
		p := b.buf[b.runs[i].start:b.runs[i].end]
		if r.Errno == syscall.ENOTSOCK {
			r = writeFile(b.runs[i].fd, p)
		}
		var rest []byte
		if r.Errno == 0 && r.N < len(p) {
			rest = p[r.N:]
		}
		done(i, r, rest)
	}
	b.buf, b.runs = b.buf[:0], b.runs[:0]
}

// prepare puts the queued runs in the submission ring, each result EIO
// until its completion says otherwise.
func (b *Batch) prepare() {
	for range b.runs {
		b.res = append(b.res, Result{Errno: syscall.EIO})
	}
	tail := atomic.LoadUint32(b.sqTail)
	for i, r := range b.runs {
		idx := (tail + uint32(i)) & b.sqMask
		b.sqes[idx] = sqe{
			opcode:   opSend,
			fd:       int32(r.fd),
			addr:     uint64(uintptr(unsafe.Pointer(&b.buf[r.start]))),
			len:      uint32(r.end - r.start),
			msgFlags: syscall.MSG_DONTWAIT | syscall.MSG_NOSIGNAL,
			userData: uint64(i),
		}
		b.sqArray[idx] = idx
	}
	atomic.StoreUint32(b.sqTail, tail+uint32(len(b.runs)))
}

// nowaitHonored reports whether this kernel completes a send that cannot
// go (MSG_DONTWAIT, a full socket) at once with EAGAIN, as Flush needs:
// an older one waits for the socket instead, which would hold a writer on
// one slow client. It tries one on a full socket pair, without waiting.
func (b *Batch) nowaitHonored() bool {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer syscall.Close(fds[0])
	defer syscall.Close(fds[1])
	fill := make([]byte, 64<<10)
	for {
		if _, err := syscall.Write(fds[0], fill); err == syscall.EAGAIN {
			break
		} else if err != nil {
			return false
		}
	}
	if _, ok := b.Add(fds[0], []byte{1}); !ok {
		return false
	}
	b.res = b.res[:0]
	b.prepare()
	defer func() { b.buf, b.runs, b.res = b.buf[:0], b.runs[:0], b.res[:0] }()
	if _, _, e := syscall.RawSyscall6(sysEnter, uintptr(b.fd), 1, 0, 0, 0, 0); e != 0 {
		return false
	}
	return b.reap() == 1 && b.res[0] == Result{} // EAGAIN: nothing sent, no error
}

// reap takes the completions there are and returns how many.
func (b *Batch) reap() int {
	head := atomic.LoadUint32(b.cqHead)
	tail := atomic.LoadUint32(b.cqTail)
	for h := head; h != tail; h++ {
		c := b.cqes[h&b.cqMask]
		if i := int(c.userData); i < len(b.res) {
			switch {
			case c.res >= 0:
				b.res[i] = Result{N: int(c.res)}
			case syscall.Errno(-c.res) == syscall.EAGAIN:
				b.res[i] = Result{}
			default:
				b.res[i] = Result{Errno: syscall.Errno(-c.res)}
			}
		}
	}
	atomic.StoreUint32(b.cqHead, tail)
	return int(tail - head)
}

// writeFile writes p to fd, a descriptor that is not a socket, once.
func writeFile(fd int, p []byte) Result {
	n, err := syscall.Write(fd, p)
	switch {
	case err == nil:
		return Result{N: n}
	case err == syscall.EAGAIN:
		return Result{}
	default:
		return Result{Errno: err.(syscall.Errno)}
	}
}
