package front

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// Connection states, for Shutdown.
const (
	stateActive int32 = iota // reading or answering a request
	stateIdle                // waiting for the next request
)

// bufSize is the read and write buffer of a connection: a request head longer than
// this is handed over. net/http's read buffer has the same size, so its first read
// takes all the bytes the front read.
const bufSize = 4 << 10

var (
	readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, bufSize) }}
	writerPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, bufSize) }}
)

// conn is one client connection served by the front, with what it reuses from one
// request to the next.
type conn struct {
	s     *Server
	nc    *net.TCPConn
	state atomic.Int32

	br *bufio.Reader
	bw *bufio.Writer

	closeOnce sync.Once
	ctx       *connCtx
	req       *http.Request // reused: its context is ctx for the life of the connection
	url       url.URL       // reused as req.URL for plain targets (parsePlainTarget)
	w         response
	body      body
	// wmu orders the 100 Continue, written by whoever reads the body first, and the
	// answer's head.
	wmu sync.Mutex
	// deadline tells whether a read deadline is set, and deadlineAt when it falls.
	deadline   bool
	deadlineAt time.Time
	handed     bool // the connection is net/http's now
}

var (
	errHeadTooLong = errors.New("front: request head over the buffer")
	errBareLF      = errors.New("front: request head with bare LF line endings")
)

func (c *conn) close() {
	c.closeOnce.Do(func() {
		c.ctx.cancel()
		_ = c.nc.Close()
	})
}

// serve reads and answers requests until the connection ends or is handed over.
func (c *conn) serve() {
	c.br = readerPool.Get().(*bufio.Reader)
	c.br.Reset(c.nc)
	c.bw = writerPool.Get().(*bufio.Writer)
	c.bw.Reset(c.nc)
	c.req = new(http.Request).WithContext(c.ctx)
	c.req.Header = make(http.Header, 16)
	c.req.RemoteAddr = c.nc.RemoteAddr().String()
	c.w.c, c.body.c = c, c
	defer func() {
		if v := recover(); v != nil {
			c.s.logger.Error("front: panic serving a connection", "remote", c.req.RemoteAddr, "panic", v, "stack", string(debug.Stack()))
		}
		if !c.handed {
			c.close()
		}
		c.release()
		c.s.forget(c)
	}()
	cfg := &c.s.cfg
	for first := true; ; first = false {
		if c.br.Buffered() == 0 {
			// Idle for Shutdown until a byte comes, a new connection too: a client
			// may open one it never uses (http.Transport dials spares), and a drain
			// must not wait out its header timeout.
			c.state.Store(stateIdle)
			if c.s.closing.Load() {
				return
			}
			if first {
				c.setDeadline(cfg.ReadHeaderTimeout)
			} else {
				c.setDeadline(cfg.IdleTimeout)
			}
			if _, err := c.br.Peek(1); err != nil {
				return // gone, idle too long, or closed by Shutdown
			}
			c.state.Store(stateActive)
		}
		n, err := c.readHead(!first)
		switch {
		case errors.Is(err, errHeadTooLong) || errors.Is(err, errBareLF):
			c.handOver()
			return
		case err != nil:
			return // slowloris (header timeout), gone client
		}
		if !c.serveRequest(n) {
			return
		}
	}
}

// setDeadline bounds the next read (d 0: no bound).
//
// A deadline already set that falls a little (up to d/16) before now+d is kept: moving
// it costs a timer update in the runtime poller, twice per request when it was set for
// the idle wait and cleared for the handler, which was 3% of the front's CPU under
// bench/legacy.sh. So an idle or header timeout may end up to 1/16 short, and a request
// without a body keeps the deadline of its head while it is served (the handler does
// not read the connection then; clearDeadline is for bodies).
func (c *conn) setDeadline(d time.Duration) {
	if d <= 0 {
		c.clearDeadline()
		return
	}
	want := time.Now().Add(d)
	if c.deadline && !c.deadlineAt.After(want) && c.deadlineAt.After(want.Add(-d/16)) {
		return
	}
	_ = c.nc.SetReadDeadline(want)
	c.deadline, c.deadlineAt = true, want
}

// clearDeadline lifts the read deadline: reading a request body is not bounded.
func (c *conn) clearDeadline() {
	if c.deadline {
		_ = c.nc.SetReadDeadline(time.Time{})
		c.deadline = false
	}
}

// readHead waits for a whole request head in the read buffer and returns its length.
// The header timeout starts with the head's first byte after an idle wait (arm).
func (c *conn) readHead(arm bool) (int, error) {
	scanned := 0
	for {
		buf, _ := c.br.Peek(c.br.Buffered())
		if i := bytes.Index(buf[scanned:], headEnd); i >= 0 {
			return scanned + i + len(headEnd), nil
		}
		if bytes.Contains(buf, []byte("\n\n")) {
			return 0, errBareLF
		}
		if len(buf) >= c.br.Size() {
			return 0, errHeadTooLong
		}
		scanned = max(len(buf)-len(headEnd)+1, 0)
		if arm {
			c.setDeadline(c.s.cfg.ReadHeaderTimeout)
			arm = false
		}
		if _, err := c.br.Peek(len(buf) + 1); err != nil {
			return 0, err
		}
	}
}

// handOver gives the connection, with the bytes read and not consumed, to net/http
// (which closes it if its server is gone).
func (c *conn) handOver() {
	pending, _ := c.br.Peek(c.br.Buffered())
	hc := &handedConn{TCPConn: c.nc, pending: bytes.Clone(pending)}
	c.clearDeadline()
	c.handed = true
	c.s.handoff.hand(hc)
}

// release returns the buffers to their pools.
func (c *conn) release() {
	c.br.Reset(nil)
	readerPool.Put(c.br)
	c.bw.Reset(nil)
	writerPool.Put(c.bw)
	c.br, c.bw = nil, nil
}

// serveRequest answers the request whose head is the first n buffered bytes, and
// reports whether the connection goes on to the next one.
func (c *conn) serveRequest(n int) bool {
	head, _ := c.br.Peek(n)
	r := c.req
	resetRequest(r)
	ri, v := c.parseHead(head, r)
	switch v {
	case handOver:
		c.handOver()
		return false
	case reject:
		c.badRequest(ri.why)
		return false
	}
	route, ok := c.s.cfg.Router.Route(r)
	if !ok {
		c.handOver()
		return false
	}
	// Done once the answer is out, before any lingering close: a swap waits for it.
	left := false
	leave := func() {
		if !left {
			left = true
			c.s.cfg.Router.Done(route)
		}
	}
	defer leave()
	_, _ = c.br.Discard(n)
	c.body.reset(r, &ri, route.MaxBodyBytes)
	if !c.body.complete() {
		c.clearDeadline()
	}
	c.w.reset(r, &ri, c.s.cfg.Header)
	if route.MaxBodyBytes > 0 && r.ContentLength > route.MaxBodyBytes {
		c.w.tooLarge(route.MaxBodyBytes)
	} else if !c.runHandler(route.Handler) {
		_ = c.bw.Flush() // what the handler flushed before it aborted, and no more
		return false
	}
	err := c.w.finish()
	leave()
	if err != nil {
		return false
	}
	if !c.body.complete() {
		c.lingeringClose()
		return false
	}
	return !c.w.closeAfter
}

// runHandler calls h and reports whether it returned normally: a handler that panics
// (the legacy proxy aborts with http.ErrAbortHandler when the site's body is cut)
// leaves the answer incomplete, and the connection is cut to say so.
func (c *conn) runHandler(h http.Handler) (ok bool) {
	defer func() {
		if v := recover(); v != nil {
			if v != http.ErrAbortHandler {
				c.s.logger.Error("front: handler panic", "path", c.req.URL.Path, "panic", v, "stack", string(debug.Stack()))
			}
			ok = false
		}
	}()
	h.ServeHTTP(&c.w, c.req)
	return true
}

// resetRequest clears what the previous request left in r.
func resetRequest(r *http.Request) {
	if len(r.Header) > 0 {
		clear(r.Header)
	}
	r.Method, r.URL, r.Proto, r.ProtoMajor, r.ProtoMinor = "", nil, "", 0, 0
	r.Body, r.GetBody, r.ContentLength, r.TransferEncoding = nil, nil, 0, nil
	r.Close, r.Host, r.Form, r.PostForm, r.MultipartForm = false, "", nil, nil, nil
	r.Trailer, r.RequestURI, r.TLS, r.Response, r.Pattern = nil, "", nil, nil, ""
}

// badRequest answers a request the front refuses, as net/http words it, and closes.
func (c *conn) badRequest(why string) {
	c.s.logger.Debug("front: bad request", "remote", c.req.RemoteAddr, "why", why)
	fmt.Fprintf(c.bw, "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request: %s", why)
	if c.bw.Flush() == nil {
		c.lingeringClose()
	}
}

// lingerTime bounds how long a connection that is closed with a request body unread
// is drained first (net/http waits 500 ms too): closing with unread bytes resets the
// connection, and the client could lose the answer.
const lingerTime = 500 * time.Millisecond

func (c *conn) lingeringClose() {
	_ = c.nc.CloseWrite()
	_ = c.nc.SetReadDeadline(time.Now().Add(lingerTime))
	_, _ = io.CopyN(io.Discard, c.nc, 256<<10)
}
