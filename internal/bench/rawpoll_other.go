//go:build !linux

package bench

import (
	"errors"
	"sync"
	"syscall"
)

// rawPolling says whether this system has the poller: only Linux does;
// elsewhere each raw subscriber reads with a goroutine of its own.
const rawPolling = false

type rawPoller struct{}

func newRawPoller(func(error), *sync.WaitGroup) (*rawPoller, error) {
	return nil, errors.ErrUnsupported
}

func (p *rawPoller) close() {}

func (p *rawPoller) add(int, int, func([]byte) error, func(error)) error {
	return errors.ErrUnsupported
}

func detach(syscall.Conn, interface{ Close() error }) (int, error) { return -1, errors.ErrUnsupported }
