package ws

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"

	"github.com/gnrhost/gnrhost/host/pages"
	"github.com/gnrhost/gnrhost/host/session"
)

// maxRPCTime bounds an RPC made over the socket (the handler's own timeout is shorter).
const maxRPCTime = 60 * time.Second

type conn struct {
	s      *Server
	nc     net.Conn
	rd     io.Reader
	id     session.Identity
	pageID string
	stream *pages.PushStream

	// wmu serializes frame writes: the reader (results, pongs) and the flusher (pushes).
	wmu sync.Mutex
	// sent is the last push sequence written; only the single active flusher moves it.
	sent atomic.Uint64
	// flushing is true while a flusher goroutine runs; again asks it for another round.
	flushing atomic.Bool
	again    atomic.Bool
	closed   atomic.Bool
	ping     *time.Timer
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
	_ = ws.WriteFrame(c.nc, ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusCode(code), reason)))
	c.wmu.Unlock()
	_ = c.nc.Close()
}

func (c *conn) writeFrame(f ws.Frame) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closed.Load() {
		return net.ErrClosed
	}
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.s.cfg.WriteTimeout))
	// Header and payload in one write: one syscall, and no frame is ever half-queued
	// behind another writer.
	buf := make([]byte, 0, ws.HeaderSize(f.Header)+len(f.Payload))
	w := &sliceWriter{b: buf}
	if err := ws.WriteHeader(w, f.Header); err != nil {
		return err
	}
	w.b = append(w.b, f.Payload...)
	if _, err := c.nc.Write(w.b); err != nil {
		c.closed.Store(true) // the stream may hold half a frame: nothing more can follow
		_ = c.nc.Close()
		return err
	}
	if m := c.s.cfg.Metrics; m != nil && f.Header.OpCode.IsData() {
		m.WSMessagesSent.Inc()
	}
	return nil
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

// kick makes sure a flusher runs; it is called after every push of the page and must
// not block.
func (c *conn) kick() {
	if c.closed.Load() {
		return
	}
	if !c.flushing.CompareAndSwap(false, true) {
		c.again.Store(true)
		return
	}
	c.s.wg.Add(1)
	go c.flush()
}

// flush writes the pushes past c.sent until none are left; it is the only writer of
// pushes for this connection while it runs.
func (c *conn) flush() {
	defer c.s.wg.Done()
	set := c.s.cfg.Settings
	for {
		c.again.Store(false)
		if c.stream.Closed() {
			c.reload("the page was closed; reload it")
			c.flushing.Store(false)
			return
		}
		sent := c.sent.Load()
		if n, bytes := c.stream.Pending(sent); n > set.QueueMessages || bytes > set.QueueBytes {
			c.slow()
			return
		}
		pushes, complete := c.stream.Since(sent)
		if !complete {
			c.slow()
			return
		}
		for _, p := range pushes {
			if err := c.writeText(pushJSON(p)); err != nil {
				c.flushing.Store(false)
				return
			}
			c.sent.Store(p.Seq)
		}
		c.flushing.Store(false)
		if !c.again.Load() || !c.flushing.CompareAndSwap(false, true) {
			return
		}
	}
}

func (c *conn) slow() {
	c.s.cfg.Logger.Info("websocket client too slow; closing", "page_id", c.pageID, "sent", c.sent.Load())
	c.closeWith(CloseSlowConsumer, "slow consumer")
	c.flushing.Store(false)
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

// pushJSON encodes a push frame by hand: the data is JSON the runtime already checked, and
// encoding/json would validate and compact it again for every connection.
func pushJSON(p pages.Push) []byte {
	b := make([]byte, 0, len(p.Data)+48)
	b = append(b, `{"type":"push","seq":`...)
	b = strconv.AppendUint(b, p.Seq, 10)
	b = append(b, `,"data":`...)
	b = append(b, p.Data...)
	return append(b, '}')
}
