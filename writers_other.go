//go:build !unix

package halley

import "net"

// rawSock is the socket of a connection; only unix systems write one
// without waiting, elsewhere every stream is written by its own goroutine.
type rawSock struct{}

func sockOf(net.Conn) *rawSock { return nil }

func (*rawSock) try(b []byte) (int, error) { return 0, nil }
