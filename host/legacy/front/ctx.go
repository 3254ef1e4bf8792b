package front

import (
	"context"
	"net"
	"sync"
	"syscall"
	"time"
)

// connCtx is the context of every request on one connection: cancelled when the
// client is gone or the connection is closed.
//
// Why not context.WithCancel and a reader goroutine, as net/http does: that goroutine
// is started and stopped on every request (~6 µs of CPU in the legacy proxy's profile).
// Nobody needs to be woken the moment a client leaves; the legacy proxy's watchdog asks
// Err every tick while the site works on a request, so Err looks at the socket then:
// a non-blocking MSG_PEEK that sees the client's FIN or a reset. Done is closed by
// that look (or when the connection is closed): it is not a wake-up on its own.
type connCtx struct {
	rc   syscall.RawConn
	done chan struct{}
	once sync.Once
}

func newConnCtx(nc *net.TCPConn) *connCtx {
	x := &connCtx{done: make(chan struct{})}
	x.rc, _ = nc.SyscallConn()
	return x
}

func (x *connCtx) Deadline() (time.Time, bool) { return time.Time{}, false }
func (x *connCtx) Done() <-chan struct{}       { return x.done }
func (x *connCtx) Value(any) any               { return nil }

func (x *connCtx) Err() error {
	select {
	case <-x.done:
		return context.Canceled
	default:
	}
	if x.peerGone() {
		x.cancel()
		return context.Canceled
	}
	return nil
}

func (x *connCtx) cancel() { x.once.Do(func() { close(x.done) }) }

// peerGone reports whether the client closed or reset the connection. Bytes waiting to
// be read (a pipelined request) mean it is still there.
func (x *connCtx) peerGone() bool {
	if x.rc == nil {
		return false
	}
	gone := false
	// Control, not Read: it does not wait for the read lock a blocked body read holds.
	err := x.rc.Control(func(fd uintptr) {
		var b [1]byte
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		gone = (err == nil && n == 0) || (err != nil && err != syscall.EAGAIN && err != syscall.EINTR)
	})
	return gone || err != nil
}

var _ context.Context = (*connCtx)(nil)
