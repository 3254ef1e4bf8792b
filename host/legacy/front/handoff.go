package front

import (
	"io"
	"net"
	"sync"
	"syscall"
)

// handoffListener is the net/http server's listener: Accept returns the connections the
// front hands over.
type handoffListener struct {
	addr net.Addr
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func newHandoffListener() *handoffListener {
	return &handoffListener{ch: make(chan net.Conn), done: make(chan struct{})}
}

func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *handoffListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *handoffListener) Addr() net.Addr { return l.addr }

// hand gives c to the net/http server; once its listener is closed, c is closed instead.
func (l *handoffListener) hand(c net.Conn) bool {
	select {
	case l.ch <- c:
		return true
	case <-l.done:
		_ = c.Close()
		return false
	}
}

// handedConn is a connection handed over after the front read from it: the bytes it
// read come first. net/http's first read takes them all (its buffer is 4 KB, the
// front's too), so code that later writes to the socket directly (the WebSocket
// server, through SyscallConn) misses nothing.
type handedConn struct {
	*net.TCPConn
	pending []byte
}

func (c *handedConn) Read(p []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		if len(c.pending) == 0 {
			c.pending = nil
		}
		return n, nil
	}
	return c.TCPConn.Read(p)
}

// WriteTo copies what the client sends to w (io.Copy from a hijacked connection uses
// it): the pending bytes first, or the socket's splice path would skip them.
func (c *handedConn) WriteTo(w io.Writer) (int64, error) {
	var n int64
	if len(c.pending) > 0 {
		m, err := w.Write(c.pending)
		n += int64(m)
		c.pending = c.pending[m:]
		if err != nil {
			return n, err
		}
		c.pending = nil
	}
	m, err := c.TCPConn.WriteTo(w)
	return n + m, err
}

// The other methods of *net.TCPConn are the socket's: ReadFrom keeps the sendfile
// path of net/http's answers, SyscallConn and SetWriteBuffer serve the WebSocket
// server (writes and options, never reads).
var _ interface {
	io.ReaderFrom
	syscall.Conn
	SetWriteBuffer(int) error
	CloseWrite() error
} = (*handedConn)(nil)
