//go:build unix

package pyro

import (
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
)

// peekClosed checks, without blocking and without consuming anything, whether the peer
// closed nc or sent unexpected data. A read with an already-expired deadline would not
// do: Go returns the timeout before asking the kernel, so it never sees the EOF.
func peekClosed(nc net.Conn) error {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var n int
	var rerr error
	var buf [1]byte
	err = rc.Read(func(fd uintptr) bool {
		n, _, rerr = syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return true // never wait for readiness: we only want the current state
	})
	switch {
	case err != nil:
		return err
	case errors.Is(rerr, syscall.EAGAIN) || errors.Is(rerr, syscall.EWOULDBLOCK):
		return nil
	case rerr != nil:
		return rerr
	case n == 0:
		return io.EOF
	default:
		return fmt.Errorf("%w: unsolicited data from daemon", ErrProtocol)
	}
}
