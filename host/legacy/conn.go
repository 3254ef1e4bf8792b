package legacy

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// upConn is one connection to the site with its buffers. It is recycled through
// upConnPool: gunicorn's sync workers close every connection, so the buffers, not the
// connections, are what gets reused there.
type upConn struct {
	c      siteConn
	br     *bufio.Reader
	bw     *bufio.Writer
	idleAt time.Time
	reused bool

	// mu orders arming and clearing the response-header deadline: with a body sent on a
	// goroutine of its own, the wait for the head starts when that goroutine is done,
	// and the site may have answered already.
	mu       sync.Mutex
	headDone bool
	deadline time.Duration // on the watchdog's clock; 0: not waiting for a head

	// Owned by the watchdog's mutex while the exchange is watched.
	ctx        context.Context
	prev, next *upConn
	killed     bool        // the watchdog closed the connection
	timedOut   atomic.Bool // ... because the head was late
}

// siteConn is a connection to the site: a socket made by dialUnix, or a net.Conn.
type siteConn interface {
	io.ReadWriteCloser
	SyscallConn() (syscall.RawConn, error)
}

var upConnPool = sync.Pool{New: func() any {
	return &upConn{br: bufio.NewReaderSize(nil, 8<<10), bw: bufio.NewWriterSize(nil, 4<<10)}
}}

// probeAfter is how long a connection may sit idle before it is probed for liveness
// before reuse. gunicorn closes idle keep-alive connections after 2s by default; under
// load connections are reused well within this and the probe costs nothing.
const probeAfter = time.Second

// conn returns an idle connection to the site or a new one. probe makes it check that an
// idle connection is still open (one non-blocking recv) for requests that cannot be
// replayed if it is not.
func (p *Proxy) conn(ctx context.Context, probe bool) (*upConn, error) {
	for {
		p.mu.Lock()
		n := len(p.idle)
		if n == 0 {
			p.mu.Unlock()
			break
		}
		uc := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		idle := time.Since(uc.idleAt)
		if idle > p.idleTimeout || ((probe || idle > probeAfter) && !alive(uc)) {
			p.discard(uc)
			continue
		}
		uc.reused, uc.headDone, uc.deadline = true, false, 0
		return uc, nil
	}
	return p.dial(ctx)
}

func (p *Proxy) dial(ctx context.Context) (*upConn, error) {
	var c siteConn
	if p.unixPath != "" {
		f, err := dialUnix(p.unixPath)
		if err != nil {
			return nil, err
		}
		c = f
	} else {
		tc, err := p.dialer.DialContext(ctx, "tcp", p.tcpAddr)
		if err != nil {
			return nil, err
		}
		c = tc.(*net.TCPConn)
	}
	uc := upConnPool.Get().(*upConn)
	uc.c = c
	uc.br.Reset(c)
	uc.bw.Reset(c)
	uc.reused, uc.headDone, uc.deadline = false, false, 0
	return uc, nil
}

// putIdle keeps uc for reuse, dropping the oldest idle connection once it has outlived
// the idle timeout (no reaper goroutine: the pool is small and touched on every request).
func (p *Proxy) putIdle(uc *upConn) {
	uc.idleAt = time.Now()
	var stale *upConn
	p.mu.Lock()
	if len(p.idle) >= p.maxIdle {
		p.mu.Unlock()
		p.discard(uc)
		return
	}
	if len(p.idle) > 0 && uc.idleAt.Sub(p.idle[0].idleAt) > p.idleTimeout {
		stale = p.idle[0]
		copy(p.idle, p.idle[1:])
		p.idle[len(p.idle)-1] = nil
		p.idle = p.idle[:len(p.idle)-1]
	}
	p.idle = append(p.idle, uc)
	p.mu.Unlock()
	if stale != nil {
		p.discard(stale)
	}
}

// discard closes uc and recycles its buffers.
func (p *Proxy) discard(uc *upConn) {
	_ = uc.c.Close()
	uc.c = nil
	uc.br.Reset(nil)
	uc.bw.Reset(nil)
	upConnPool.Put(uc)
}

// CloseIdle closes the idle keep-alive connections (for tests and shutdown).
func (p *Proxy) CloseIdle() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, uc := range idle {
		p.discard(uc)
	}
}

// armHeaderTimeout starts the wait for the response head, which the watchdog ends at
// the deadline (on its clock), unless the head is read already.
func (uc *upConn) armHeaderTimeout(deadline time.Duration) {
	uc.mu.Lock()
	if !uc.headDone {
		uc.deadline = deadline
	}
	uc.mu.Unlock()
}

// headerRead ends the wait for the response head: the body may take as long as it takes.
func (uc *upConn) headerRead() {
	uc.mu.Lock()
	uc.headDone = true
	uc.deadline = 0
	uc.mu.Unlock()
}

// alive reports whether an idle connection is still open and silent.
func alive(uc *upConn) bool {
	if uc.br.Buffered() > 0 {
		return false // bytes nobody asked for
	}
	rc, err := uc.c.SyscallConn()
	if err != nil {
		return false
	}
	open := false
	var b [1]byte
	err = rc.Read(func(fd uintptr) bool {
		_, _, rerr := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		open = rerr == syscall.EAGAIN
		return true // never wait: this is a probe
	})
	return open && err == nil
}

// isConnDead tells errors of a connection the site had already closed.
func isConnDead(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// bodySender sends a large or chunked request body on a goroutine of its own while the
// handler waits for the answer.
type bodySender struct {
	done      chan struct{}
	err       error // writing to the site
	clientErr error // reading from the client
}

func startBody(uc *upConn, r *http.Request, buf []byte, wd *watchdog, headerTimeout time.Duration) *bodySender {
	s := &bodySender{done: make(chan struct{})}
	go func() {
		defer close(s.done)
		cb := clientBody{r: r.Body}
		// The head goes first: a client that trickles its body should not keep the
		// site from seeing the request.
		err := uc.bw.Flush()
		if err == nil {
			if r.ContentLength > 0 {
				err = copyBody(uc.bw, &cb, r.ContentLength, buf)
			} else {
				err = copyChunked(uc.bw, &cb, buf)
			}
		}
		if err == nil && cb.err == nil {
			err = uc.bw.Flush()
		}
		s.err, s.clientErr = err, cb.err
		switch {
		case cb.err != nil:
			// The site would wait for the rest of the body forever: cut it off.
			_ = uc.c.Close()
		case err == nil:
			uc.armHeaderTimeout(wd.now() + headerTimeout)
		}
		// A failed write is left alone: the site may have answered and closed before
		// reading everything, and that answer is still to be read.
	}()
	return s
}

// finished reports whether the body is sent (or failed) without waiting.
func (s *bodySender) finished() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// wait waits for the sender and returns what went wrong, if anything.
func (s *bodySender) wait() error {
	<-s.done
	if s.clientErr != nil {
		return s.clientErr
	}
	return s.err
}
