package ws

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"

	"github.com/gnrhost/gnrhost/host/pages"
	"github.com/gnrhost/gnrhost/host/session"
)

// maxRPCTime bounds an RPC made over the socket (the handler's own timeout is shorter).
const maxRPCTime = 60 * time.Second

type conn struct {
	s  *Server
	nc net.Conn
	// raw writes pushes without blocking (nil when the socket does not offer it: then
	// every push round runs on a flusher goroutine).
	raw    syscall.RawConn
	rd     io.Reader
	id     session.Identity
	pageID string
	stream *pages.PushStream

	// wmu serializes writes to the socket: the reader (hello, results, pongs), push
	// rounds and the close frame.
	wmu sync.Mutex
	// rest is the unsent tail of a push round the socket did not take at once (guarded by
	// wmu). Whoever holds wmu sends it before anything else, so frames never interleave.
	rest []byte
	rw   rawWrite
	// sent is the last push sequence handed to the socket; only the holder of the push
	// token (pushing) moves it.
	sent atomic.Uint64
	// pushing is the push token: whoever sets it writes pushes until none are left.
	// again asks the holder for another round (a push arrived meanwhile).
	pushing atomic.Bool
	again   atomic.Bool
	closed  atomic.Bool
	ping    *time.Timer
}

// run serves the connection until it ends: hello (and resume), then frames in, pushes out.
func (c *conn) run(ctx context.Context, epoch string, lastSeq uint64) {
	defer c.closeWith(CloseNormal, "")
	st := c.stream
	resumed := false
	if epoch != "" {
		if epoch != st.Epoch() {
			c.reload("the host no longer has this page's pushes (it restarted); reload the page")
			return
		}
		if _, complete := st.Since(lastSeq); !complete {
			c.reload("pushes missed while disconnected are no longer kept; reload the page")
			return
		}
		c.sent.Store(lastSeq)
		resumed = true
	}
	hello, _ := json.Marshal(helloFrame{Type: "hello", PageID: c.pageID, Epoch: st.Epoch(), LastSeq: st.Last(), Resumed: resumed})
	if err := c.writeText(hello); err != nil {
		return
	}
	unsubscribe := st.OnPush(c.kick)
	defer unsubscribe()
	c.kick() // whatever is buffered past c.sent
	c.armPing()
	defer c.ping.Stop()
	c.readLoop(ctx)
}

func (c *conn) reload(reason string) {
	msg, _ := json.Marshal(reloadFrame{Type: "reload", Reason: reason})
	_ = c.writeText(msg)
	c.closeWith(CloseReload, "reload")
}

// closeWith sends a close frame (best effort, bounded) and closes the socket; only the
// first call counts.
func (c *conn) closeWith(code int, reason string) {
	if !c.closed.CompareAndSwap(false, true) {
		return
	}
	if m := c.s.cfg.Metrics; m != nil {
		m.WSClosed.WithLabelValues(strconv.Itoa(code)).Inc()
		if code == CloseSlowConsumer {
			m.WSSlowConsumers.Inc()
		}
	}
	// The deadline also bounds a write in progress (a full socket), so waiting for wmu
	// takes at most a second; writers that start later see closed and stop.
	_ = c.nc.SetWriteDeadline(time.Now().Add(time.Second))
	c.wmu.Lock()
	// Again under the lock: the writer we waited for may have cleared it.
	_ = c.nc.SetWriteDeadline(time.Now().Add(time.Second))
	// The tail of a push frame the socket had not taken goes first: a close frame in
	// the middle of another frame would be garbage.
	if len(c.rest) > 0 {
		if _, err := c.nc.Write(c.rest); err == nil {
			c.rest = nil
		}
	}
	if len(c.rest) == 0 {
		_ = ws.WriteFrame(c.nc, ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusCode(code), reason)))
	}
	c.wmu.Unlock()
	_ = c.nc.Close()
}

func (c *conn) writeFrame(f ws.Frame) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closed.Load() {
		return net.ErrClosed
	}
	// Header and payload in one write: one syscall, and no frame is ever half-queued
	// behind another writer.
	w := &sliceWriter{b: make([]byte, 0, ws.HeaderSize(f.Header)+len(f.Payload))}
	if err := ws.WriteHeader(w, f.Header); err != nil {
		return err
	}
	w.b = append(w.b, f.Payload...)
	if err := c.writeBlocking(w.b); err != nil {
		return err
	}
	if m := c.s.cfg.Metrics; m != nil && f.Header.OpCode.IsData() {
		m.WSMessagesSent.Inc()
	}
	return nil
}

// writeBlocking writes b after whatever an earlier push round left unsent, waiting for
// the socket up to the write timeout. The caller holds wmu. The deadline is cleared
// afterwards: the non-blocking push writes would otherwise fail once it passed.
func (c *conn) writeBlocking(b []byte) error {
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.s.cfg.WriteTimeout))
	var err error
	if len(c.rest) > 0 {
		if _, err = c.nc.Write(c.rest); err == nil {
			c.rest = nil
		}
	}
	if err == nil && len(b) > 0 {
		_, err = c.nc.Write(b)
	}
	if err != nil {
		c.fail()
		return err
	}
	_ = c.nc.SetWriteDeadline(time.Time{})
	return nil
}

// tryWrite writes as much of b as the socket takes now, without waiting: a push to a
// client that keeps up costs one write syscall and no goroutine. The caller holds wmu.
func (c *conn) tryWrite(b []byte) (int, error) {
	w := &c.rw
	if w.fn == nil {
		w.fn = w.write // made once per connection: a closure per write would be garbage
	}
	w.b, w.n, w.err = b, 0, nil
	err := c.raw.Write(w.fn)
	n := w.n
	if err == nil {
		err = w.err
	}
	w.b, w.err = nil, nil
	return n, err
}

// rawWrite is the state of one tryWrite (guarded by wmu).
type rawWrite struct {
	b   []byte
	n   int
	err error
	fn  func(fd uintptr) bool
}

func (w *rawWrite) write(fd uintptr) bool {
	for w.n < len(w.b) {
		k, e := syscall.Write(int(fd), w.b[w.n:])
		if k > 0 {
			w.n += k
		}
		if e == syscall.EINTR {
			continue
		}
		if e != nil {
			if e != syscall.EAGAIN {
				w.err = e
			}
			break
		}
		if k <= 0 {
			w.err = io.ErrShortWrite
			break
		}
	}
	return true // never wait for the socket here: a flusher goroutine does that
}

type sliceWriter struct{ b []byte }

func (w *sliceWriter) Write(p []byte) (int, error) { w.b = append(w.b, p...); return len(p), nil }

func (c *conn) writeText(p []byte) error { return c.writeFrame(ws.NewTextFrame(p)) }

// armPing schedules the next keepalive ping; the read deadline (idle_timeout) ends a
// connection whose client stopped answering.
func (c *conn) armPing() {
	c.ping = time.AfterFunc(c.s.cfg.Settings.PingInterval.D(), func() {
		if c.closed.Load() {
			return
		}
		if err := c.writeFrame(ws.NewPingFrame(nil)); err != nil {
			return
		}
		c.ping.Reset(c.s.cfg.Settings.PingInterval.D())
	})
}

// What a push round ended with.
type roundResult int

const (
	roundDone    roundResult = iota // everything pending was handed to the socket
	roundBlocked                    // the socket is full: c.rest holds what is left
	roundGone                       // the connection is closed (or a write failed)
	roundReload                     // the page is gone: tell the client to reload
	roundSlow                       // the client fell too far behind
)

// kick makes sure the page's new pushes get written; it is called after every push of
// the page, on the goroutine that made it, and never blocks: it writes what the socket
// takes at once, and hands anything else to a flusher goroutine.
func (c *conn) kick() {
	if c.closed.Load() {
		return
	}
	// again before the token: a holder that releases the token after this sees again and
	// takes another round, so no push is left behind.
	c.again.Store(true)
	if !c.pushing.CompareAndSwap(false, true) {
		return
	}
	c.drive(false)
}

// drive writes push rounds while holding the push token, until no push is left; then it
// gives the token back. With block false it only writes what the socket takes at once
// and passes the token to a flusher goroutine (which may wait) when that is not enough.
func (c *conn) drive(block bool) {
	for {
		c.again.Store(false)
		var r roundResult
		switch {
		case block:
			c.wmu.Lock()
			r = c.pushRound(true)
			c.wmu.Unlock()
		case c.raw != nil && c.wmu.TryLock():
			r = c.pushRound(false)
			c.wmu.Unlock()
		default:
			// Another write is in progress (an RPC result, a pong) and may wait for the
			// socket: a flusher waits for it instead.
			r = roundBlocked
		}
		if !block && (r == roundBlocked || r == roundReload || r == roundSlow) {
			// Waiting for the socket, or writing a reload or close frame to a client that
			// may not read, is for a flusher goroutine: this one made a push and must not
			// wait. The flusher takes the round again, blocking.
			if c.s.goFlush(func() { c.drive(true) }) {
				return // the flusher holds the token now
			}
			c.pushing.Store(false) // the server is closing this socket anyway
			return
		}
		switch r {
		case roundReload:
			c.reload("the page was closed; reload it")
			c.pushing.Store(false)
			return
		case roundSlow:
			c.slow()
			c.pushing.Store(false)
			return
		case roundGone:
			c.pushing.Store(false)
			return
		}
		c.pushing.Store(false)
		if !c.again.Load() || !c.pushing.CompareAndSwap(false, true) {
			return
		}
	}
}

// pushRound hands the pushes after c.sent to the socket: every pending frame in one
// write. The caller holds wmu and the push token. With block it waits for the socket
// (up to the write timeout); without, what the socket does not take stays in c.rest.
func (c *conn) pushRound(block bool) roundResult {
	if c.closed.Load() {
		return roundGone
	}
	// What the socket did not take last time goes first.
	if len(c.rest) > 0 {
		if block {
			if c.writeBlocking(nil) != nil {
				return roundGone
			}
		} else {
			n, err := c.tryWrite(c.rest)
			if !writeWouldBlock(err) {
				c.fail()
				return roundGone
			}
			if c.rest = c.rest[n:]; len(c.rest) > 0 {
				return roundBlocked
			}
			c.rest = nil
		}
	}
	set := c.s.cfg.Settings
	bp := framePool.Get().(*[]byte)
	buf := (*bp)[:0]
	last := c.sent.Load()
	b := c.stream.Each(last, set.QueueMessages, set.QueueBytes, func(p pages.Push) {
		buf = appendPushFrame(buf, p)
		last = p.Seq
	})
	defer func() {
		if cap(buf) <= maxPooledFrame {
			*bp = buf
			framePool.Put(bp)
		}
	}()
	switch {
	case b.Closed:
		return roundReload
	case b.N == 0:
		return roundDone
	case !b.Complete || b.N > set.QueueMessages || b.Bytes > set.QueueBytes:
		return roundSlow
	}
	if block {
		if err := c.writeBlocking(buf); err != nil {
			return roundGone
		}
	} else {
		n, err := c.tryWrite(buf)
		if !writeWouldBlock(err) {
			c.fail()
			return roundGone
		}
		if n < len(buf) {
			c.rest = append([]byte(nil), buf[n:]...)
		}
	}
	c.sent.Store(last)
	if m := c.s.cfg.Metrics; m != nil {
		m.WSMessagesSent.Add(float64(b.N))
	}
	if len(c.rest) > 0 {
		return roundBlocked
	}
	return roundDone
}

// writeWouldBlock: a non-blocking write succeeded (err nil), or failed only because it
// would have had to wait (a full socket, or a write deadline left over from a close).
func writeWouldBlock(err error) bool {
	return err == nil || errors.Is(err, syscall.EAGAIN) || errors.Is(err, os.ErrDeadlineExceeded)
}

// fail ends a connection whose socket failed under a write: the stream may hold half a
// frame, so nothing more can follow.
func (c *conn) fail() {
	c.closed.Store(true)
	_ = c.nc.Close()
}

// framePool holds the buffers push rounds encode their frames into.
var framePool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// maxPooledFrame keeps the pool from holding on to a large round's buffer.
const maxPooledFrame = 64 << 10

func (c *conn) slow() {
	c.s.cfg.Logger.Info("websocket client too slow; closing", "page_id", c.pageID, "sent", c.sent.Load())
	c.closeWith(CloseSlowConsumer, "slow consumer")
}

var errProtocol = errors.New("protocol error")

// readLoop reads messages until the connection ends, answering each as RFC 6455 says.
func (c *conn) readLoop(ctx context.Context) {
	limit := int64(c.s.cfg.Settings.MaxMessageBytes)
	var msg []byte
	var msgOp ws.OpCode
	fragmented := false
	for {
		_ = c.nc.SetReadDeadline(time.Now().Add(c.s.cfg.Settings.IdleTimeout.D()))
		h, err := ws.ReadHeader(c.rd)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				c.closeWith(CloseIdle, "idle")
			} else if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				c.closeWith(CloseProtocol, "bad frame header")
			}
			return
		}
		state := ws.StateServerSide
		if fragmented {
			state = state.Set(ws.StateFragmented)
		}
		if err := ws.CheckHeader(h, state); err != nil {
			c.closeWith(CloseProtocol, err.Error())
			return
		}
		if h.Length > limit || (!h.OpCode.IsControl() && int64(len(msg))+h.Length > limit) {
			c.closeWith(CloseTooBig, "message too big")
			return
		}
		payload := make([]byte, h.Length)
		if _, err := io.ReadFull(c.rd, payload); err != nil {
			return
		}
		ws.Cipher(payload, h.Mask, 0)
		switch h.OpCode {
		case ws.OpPing:
			if c.writeFrame(ws.NewPongFrame(payload)) != nil {
				return
			}
			continue
		case ws.OpPong:
			continue
		case ws.OpClose:
			c.answerClose(payload)
			return
		case ws.OpContinuation:
			if !fragmented {
				c.closeWith(CloseProtocol, "continuation without a message")
				return
			}
			msg = append(msg, payload...)
		default: // text or binary
			if fragmented {
				c.closeWith(CloseProtocol, "new message inside a fragmented one")
				return
			}
			msgOp, msg = h.OpCode, payload
		}
		fragmented = !h.Fin
		if fragmented {
			continue
		}
		if msgOp == ws.OpBinary {
			c.closeWith(CloseUnsupported, "binary messages are not supported")
			return
		}
		if !utf8.Valid(msg) {
			c.closeWith(CloseInvalidData, "invalid UTF-8")
			return
		}
		if m := c.s.cfg.Metrics; m != nil {
			m.WSMessagesReceived.Inc()
		}
		if !c.handle(ctx, msg) {
			return
		}
		msg = nil
	}
}

// answerClose echoes a valid close frame, or answers an invalid one with 1002.
func (c *conn) answerClose(payload []byte) {
	if len(payload) == 0 {
		c.closeWith(CloseNormal, "")
		return
	}
	if len(payload) == 1 {
		c.closeWith(CloseProtocol, "close frame body of one byte")
		return
	}
	code, reason := ws.ParseCloseFrameData(payload)
	if err := ws.CheckCloseFrameData(code, reason); err != nil {
		c.closeWith(CloseProtocol, "bad close frame")
		return
	}
	c.closeWith(int(code), "")
}

// handle runs one JSON message; false ends the connection.
func (c *conn) handle(ctx context.Context, msg []byte) bool {
	var in inbound
	if err := json.Unmarshal(msg, &in); err != nil {
		c.closeWith(CloseInvalidData, "frames are JSON objects")
		return false
	}
	switch in.Type {
	case "ping":
		out, _ := json.Marshal(map[string]any{"type": "pong", "id": in.ID})
		return c.writeText(out) == nil
	case "rpc":
		return c.rpc(ctx, in) == nil
	default:
		out, _ := json.Marshal(resultFrame{Type: "error", ID: in.ID, Error: errorBody{Code: "bad_frame", Message: "unknown frame type " + strconv.Quote(in.Type)}})
		return c.writeText(out) == nil
	}
}

func (c *conn) rpc(ctx context.Context, in inbound) error {
	params := in.Params
	if len(params) == 0 || string(params) == "null" {
		params = []byte("{}")
	}
	fail := func(code, msg string) error {
		out, _ := json.Marshal(resultFrame{Type: "error", ID: in.ID, Error: errorBody{Code: code, Message: msg}})
		return c.writeText(out)
	}
	if !pages.ValidMethod(in.Method) {
		return fail("bad_request", "method must be 1-64 characters: letters, digits, '_' and '.'")
	}
	if params[0] != '{' {
		return fail("bad_request", "params must be a JSON object")
	}
	ctx, cancel := context.WithTimeout(ctx, maxRPCTime)
	defer cancel()
	resp, err := c.s.cfg.Pages.RPC(ctx, c.id, c.pageID, in.Method, params)
	if err != nil {
		code, msg := pages.ErrorCode(err)
		if errors.Is(err, pages.ErrPageNotFound) {
			c.reload("the page is gone; reload it")
			return err
		}
		return fail(code, msg)
	}
	var out []byte
	if resp.Error != nil {
		out, _ = json.Marshal(resultFrame{Type: "error", ID: in.ID, Error: resp.Error, Datachanges: resp.Datachanges})
	} else {
		out, _ = json.Marshal(resultFrame{Type: "result", ID: in.ID, Result: resp.Result, Datachanges: resp.Datachanges})
	}
	// The call's pushes reach this client as push frames, in order, through the flusher.
	return c.writeText(out)
}

// appendPushFrame appends a push as a complete text frame (header and payload). The
// payload is encoded by hand: the data is JSON the runtime already checked, and
// encoding/json would validate and compact it again for every connection.
func appendPushFrame(b []byte, p pages.Push) []byte {
	var num [20]byte
	seq := strconv.AppendUint(num[:0], p.Seq, 10)
	n := len(pushHead) + len(seq) + len(pushData) + len(p.Data) + 1
	b = appendTextHeader(b, n)
	b = append(b, pushHead...)
	b = append(b, seq...)
	b = append(b, pushData...)
	b = append(b, p.Data...)
	return append(b, '}')
}

const (
	pushHead = `{"type":"push","seq":`
	pushData = `,"data":`
)

// appendTextHeader appends the header of a final, unmasked text frame of n bytes
// (RFC 6455 section 5.2: 7-bit, 16-bit or 64-bit length).
func appendTextHeader(b []byte, n int) []byte {
	const finText = 0x80 | byte(ws.OpText)
	switch {
	case n < 126:
		return append(b, finText, byte(n))
	case n <= 0xffff:
		return append(b, finText, 126, byte(n>>8), byte(n))
	default:
		return append(b, finText, 127, byte(n>>56), byte(n>>48), byte(n>>40), byte(n>>32), byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}
