package pyro

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	ogórek "github.com/kisielk/og-rek"
)

// handshakeTimeout bounds CONNECT when the caller's context has no deadline, so a peer
// that accepts but never answers (not a Pyro daemon, or a wedged one) cannot hang us.
const handshakeTimeout = 5 * time.Second

// Conn is one connection to a Pyro4 daemon. Pyro4 answers requests on a connection in
// order and matches them by sequence number, so a Conn runs one call at a time; use a
// Pool for concurrency.
type Conn struct {
	addr string
	key  []byte

	mu     sync.Mutex // one call at a time on the socket
	nc     net.Conn
	w      *wire     // framing buffers and HMAC state, used under mu
	dec    unpickler // reply decoder with its interned strings, used under mu
	seq    uint16
	broken error // set once the stream is out of sync; the Conn is then unusable

	idleSince time.Time // when the pool got it back; only the pool touches it
}

// Dial connects to the daemon at addr (host:port) and performs Pyro4's CONNECT
// handshake, signing messages with hmacKey (empty: no HMAC, like a daemon without key).
func Dial(ctx context.Context, addr string, hmacKey []byte) (*Conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("pyro: dial %s: %w: %w", addr, ErrUnavailable, err)
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true) // Pyro4 sets SOCK_NODELAY too: small request/reply messages
	}
	c := &Conn{addr: addr, key: append([]byte(nil), hmacKey...), nc: nc, w: newWire(hmacKey),
		dec: unpickler{strs: map[string]any{}}}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, handshakeTimeout)
		defer cancel()
	}
	if err := c.handshake(ctx); err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

// handshake sends CONNECT with the pickled {"handshake": "hello"} (Pyro4's default
// _pyroHandshake, METADATA off so no object id and no FLAGS_META_ON_CONNECT) with the
// current sequence number (0), and expects CONNECTOK.
func (c *Conn) handshake(ctx context.Context) error {
	reply, err := c.roundTrip(ctx, MsgConnect, 0, map[string]any{"handshake": "hello"})
	if err != nil {
		return fmt.Errorf("pyro: connect %s: %w", c.addr, err)
	}
	switch reply.Type {
	case MsgConnectOK:
		return nil
	case MsgConnectFail:
		return &ConnectFailedError{Reason: failReason(reply)}
	default:
		return fmt.Errorf("pyro: connect %s: %w: reply type %d", c.addr, ErrProtocol, reply.Type)
	}
}

// failReason decodes CONNECTFAIL's data: the error string, pickled when the daemon got as
// far as the client's serializer, marshalled when it failed before.
func failReason(m *message) string {
	data, err := m.payload()
	if err != nil {
		return err.Error()
	}
	switch m.Serializer {
	case SerializerPickle:
		if v, err := Unpickle(data); err == nil {
			return fmt.Sprint(v)
		}
	case SerializerMarshal:
		if s, ok := unmarshalString(data); ok {
			return s
		}
	}
	return fmt.Sprintf("%q", data)
}

// Call invokes method on the object objectID with positional args and keyword kwargs
// (either may be nil) and returns the decoded result. A Python exception comes back as a
// *RemoteError; the connection stays usable after it. The context's deadline and
// cancellation apply to the network I/O; when they interrupt a call, the Conn is broken
// (the reply may still arrive) and must be closed.
func (c *Conn) Call(ctx context.Context, objectID, method string, args []any, kwargs map[string]any) (any, error) {
	if args == nil {
		args = []any{}
	}
	if kwargs == nil {
		kwargs = map[string]any{}
	}
	// Pyro4's call payload: the tuple (objectId, method, vargs tuple, kwargs dict).
	v, err := c.invoke(ctx, ogórek.Tuple{objectID, method, ogórek.Tuple(args), kwargs}, 0)
	if err != nil {
		return nil, fmt.Errorf("pyro: %s.%s: %w", objectID, method, err)
	}
	return v, nil
}

// BatchCall is one call of a Batch.
type BatchCall struct {
	Method string
	Args   []any
	Kwargs map[string]any
}

// Batch runs calls on objectID in one request, as Pyro4's BatchProxy does: the daemon runs
// them in order and stops at the first exception. A multiplex daemon (gnrdaemon's site
// register is one) serves one request at a time, so a batch also runs without other
// clients' calls in between: that is what makes read-after-write pairs atomic there.
// The results are in call order; an exception in call i returns the results before it
// and an error wrapping a *RemoteError.
func (c *Conn) Batch(ctx context.Context, objectID string, calls []BatchCall) ([]any, error) {
	list := make([]any, len(calls))
	for i, bc := range calls {
		args, kwargs := bc.Args, bc.Kwargs
		if args == nil {
			args = []any{}
		}
		if kwargs == nil {
			kwargs = map[string]any{}
		}
		list[i] = ogórek.Tuple{bc.Method, ogórek.Tuple(args), kwargs}
	}
	// The daemon iterates the vargs of a "<batch>" invoke as (method, vargs, kwargs).
	v, err := c.invoke(ctx, ogórek.Tuple{objectID, "<batch>", list, nil}, FlagBatch)
	if err != nil {
		return nil, fmt.Errorf("pyro: %s <batch>: %w", objectID, err)
	}
	results, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("pyro: %s <batch>: %w: result is %T, not a list", objectID, ErrProtocol, v)
	}
	for i, r := range results {
		if obj, ok := r.(*Object); ok && obj.Class.Name == "_ExceptionWrapper" {
			exc, _ := obj.Attr("exception")
			return results[:i], fmt.Errorf("pyro: %s.%s (batched): %w", objectID, calls[i].Method, remoteErrorFrom(exc))
		}
	}
	if len(results) != len(calls) {
		return results, fmt.Errorf("pyro: %s <batch>: %w: %d results for %d calls", objectID, ErrProtocol, len(results), len(calls))
	}
	return results, nil
}

// invoke sends one INVOKE with the pickled payload and returns the decoded result. The
// reply's data lives in the connection's read buffer, so it is decoded under c.mu
// (Unpickle copies what it keeps).
func (c *Conn) invoke(ctx context.Context, payload ogórek.Tuple, flags uint16) (any, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++ // Pyro4 increments before sending; the handshake used 0
	reply, err := c.roundTrip(ctx, MsgInvoke, flags, payload)
	if err != nil {
		return nil, err
	}
	if reply.Type != MsgResult {
		c.breakWith(fmt.Errorf("%w: reply type %d to invoke", ErrProtocol, reply.Type))
		return nil, c.broken
	}
	if reply.Serializer != SerializerPickle {
		return nil, fmt.Errorf("%w: reply serializer %d", ErrProtocol, reply.Serializer)
	}
	if reply.Flags&FlagItemStreamResult != 0 {
		return nil, fmt.Errorf("streamed (iterator) results are not supported")
	}
	body, err := reply.payload()
	if err != nil {
		return nil, err
	}
	v, err := c.dec.decode(body)
	if err != nil {
		return nil, fmt.Errorf("decode result: %w", err)
	}
	if reply.Flags&FlagException != 0 {
		return nil, remoteErrorFrom(v)
	}
	return v, nil
}

// roundTrip sends a message of type typ with sequence number c.seq and the pickle of v
// as data, and reads one reply with the same sequence number, under the context's
// deadline. Any I/O or framing failure breaks the connection: after it the stream
// position is unknown. Called with c.mu held (or before c is shared).
func (c *Conn) roundTrip(ctx context.Context, typ, flags uint16, v any) (*message, error) {
	if c.broken != nil {
		return nil, c.broken
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	raw, err := c.w.encode(typ, flags, c.seq, v)
	if err != nil {
		return nil, err
	}
	deadline, _ := ctx.Deadline() // zero: no deadline
	if err := c.nc.SetDeadline(deadline); err != nil {
		return nil, c.breakWith(err)
	}
	// Cancellation without a deadline: wake the blocked I/O by moving the deadline.
	stop := context.AfterFunc(ctx, func() { _ = c.nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := c.nc.Write(raw); err != nil {
		return nil, c.ioError(ctx, "write", err)
	}
	reply, err := c.w.read(c.nc)
	if err != nil {
		if errors.Is(err, ErrHMACMismatch) {
			return nil, c.breakWith(err)
		}
		return nil, c.ioError(ctx, "read", err)
	}
	if reply.Seq != c.seq {
		return nil, c.breakWith(fmt.Errorf("%w: reply sequence %d, want %d", ErrProtocol, reply.Seq, c.seq))
	}
	return reply, nil
}

// ioError breaks the connection and reports the context's error when it caused the
// failure, so callers can match context.DeadlineExceeded / context.Canceled.
func (c *Conn) ioError(ctx context.Context, op string, err error) error {
	cerr := ctx.Err()
	if dl, ok := ctx.Deadline(); cerr == nil && ok && !time.Now().Before(dl) {
		// The socket deadline can fire a moment before the context's own timer.
		cerr = context.DeadlineExceeded
	}
	if cerr != nil && (errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, net.ErrClosed)) {
		c.breakWith(fmt.Errorf("%w: %s interrupted: %w", ErrConnectionBroken, op, cerr))
		return fmt.Errorf("%s interrupted: %w", op, cerr)
	}
	return c.breakWith(fmt.Errorf("%w: %s %s: %w", ErrConnectionBroken, op, c.addr, err))
}

func (c *Conn) breakWith(err error) error {
	if c.broken == nil {
		c.broken = err
		_ = c.nc.Close()
	}
	return err
}

// Broken reports why the connection can no longer be used, or nil.
func (c *Conn) Broken() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.broken
}

// Close closes the connection.
func (c *Conn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.broken == nil {
		c.broken = net.ErrClosed
	}
	return c.nc.Close()
}

// alive reports whether an idle connection still looks open: the daemon sends nothing
// unprompted, so "no data yet" means alive, and EOF or an error means the daemon closed
// it (it exited or restarted). This keeps a pool from sending a non-idempotent call into
// a dead socket. Only for idle connections (no call running). With retried (the caller
// repeats the call on ErrConnectionBroken) a connection idle for less than probeAfter is
// taken as open without asking the kernel.
func (c *Conn) alive(retried bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.broken != nil {
		return false
	}
	if retried && time.Since(c.idleSince) < probeAfter {
		return true
	}
	if err := peekClosed(c.nc); err != nil {
		c.breakWith(fmt.Errorf("%w: idle connection: %w", ErrConnectionBroken, err))
		return false
	}
	return true
}
