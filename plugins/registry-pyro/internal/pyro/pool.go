package pyro

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Pool keeps up to Size connections to one daemon address and hands them out one call
// at a time. Connections that broke are dropped, idle ones the daemon closed (restart)
// are detected before reuse, and new ones are dialled on demand: after a daemon restart
// the next call reconnects by itself. A call never retries: once a request may have
// reached the daemon, only the caller knows whether repeating it is safe.
type Pool struct {
	addr string
	key  []byte

	slots chan struct{} // one token per connection in use or idle: bounds the size

	mu     sync.Mutex
	idle   []*Conn
	closed bool
}

// DefaultPoolSize matches a multiplex daemon's taste: it serves one request at a time
// anyway, a few sockets only hide connection setup.
const DefaultPoolSize = 4

// NewPool returns a pool for the daemon at addr (host:port); size <= 0 means
// DefaultPoolSize. It dials nothing until the first call.
func NewPool(addr string, hmacKey []byte, size int) *Pool {
	if size <= 0 {
		size = DefaultPoolSize
	}
	return &Pool{addr: addr, key: append([]byte(nil), hmacKey...), slots: make(chan struct{}, size)}
}

// Call runs one call on a pooled connection; see Conn.Call.
func (p *Pool) Call(ctx context.Context, objectID, method string, args []any, kwargs map[string]any) (any, error) {
	return p.call(ctx, false, objectID, method, args, kwargs)
}

func (p *Pool) call(ctx context.Context, retried bool, objectID, method string, args []any, kwargs map[string]any) (any, error) {
	c, err := p.get(ctx, retried)
	if err != nil {
		return nil, err
	}
	v, err := c.Call(ctx, objectID, method, args, kwargs)
	p.put(c)
	return v, err
}

// Batch runs calls on a pooled connection; see Conn.Batch.
func (p *Pool) Batch(ctx context.Context, objectID string, calls []BatchCall) ([]any, error) {
	return p.batch(ctx, false, objectID, calls)
}

func (p *Pool) batch(ctx context.Context, retried bool, objectID string, calls []BatchCall) ([]any, error) {
	c, err := p.get(ctx, retried)
	if err != nil {
		return nil, err
	}
	v, err := c.Batch(ctx, objectID, calls)
	p.put(c)
	return v, err
}

// probeAfter is how long a connection may sit idle before a call that its caller retries
// probes it (see Proxy.CallRetried); calls that are not retried always probe.
const probeAfter = time.Second

// Proxy returns a handle that calls the object at uri through this pool. uri must be on
// the pool's address.
func (p *Pool) Proxy(uri URI) (*Proxy, error) {
	if uri.Addr != p.addr {
		return nil, fmt.Errorf("pyro: uri %s is not on pool address %s", uri, p.addr)
	}
	return &Proxy{pool: p, object: uri.Object}, nil
}

// get hands out an idle connection that still looks open, or dials one. retried says the
// caller repeats the call if the connection turns out dead (ErrConnectionBroken): then a
// connection used within probeAfter is handed out without the liveness probe, a syscall
// per call that measured a few percent of a call's client CPU.
func (p *Pool) get(ctx context.Context, retried bool) (*Conn, error) {
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("pyro: wait for a connection to %s: %w", p.addr, ctx.Err())
	}
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			<-p.slots
			return nil, ErrPoolClosed
		}
		var c *Conn
		if n := len(p.idle); n > 0 {
			c = p.idle[n-1]
			p.idle = p.idle[:n-1]
		}
		p.mu.Unlock()
		if c == nil {
			break
		}
		if c.alive(retried) {
			return c, nil
		}
		_ = c.Close() // the daemon went away since; try the next idle one or dial
	}
	c, err := Dial(ctx, p.addr, p.key)
	if err != nil {
		<-p.slots
		return nil, err
	}
	return c, nil
}

func (p *Pool) put(c *Conn) {
	defer func() { <-p.slots }()
	if c.Broken() != nil {
		_ = c.Close()
		return
	}
	c.idleSince = time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		_ = c.Close()
		return
	}
	p.idle = append(p.idle, c)
}

// Close closes the idle connections and makes later calls fail with ErrPoolClosed;
// connections in use are closed when their call returns.
func (p *Pool) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	var errs []error
	for _, c := range p.idle {
		errs = append(errs, c.Close())
	}
	p.idle = nil
	return errors.Join(errs...)
}

// Proxy calls one remote object through a Pool, like a Pyro4.Proxy.
type Proxy struct {
	pool   *Pool
	object string
}

// Call invokes method on the proxy's object.
func (x *Proxy) Call(ctx context.Context, method string, args []any, kwargs map[string]any) (any, error) {
	return x.pool.call(ctx, false, x.object, method, args, kwargs)
}

// CallRetried is Call for a caller that repeats the call, on a fresh connection, when it
// fails with ErrConnectionBroken: only calls that are safe to run twice (reads). It may
// skip the check that a recently used idle connection is still open, so a daemon that
// closed it between calls shows up as that error instead of a silent redial.
func (x *Proxy) CallRetried(ctx context.Context, method string, args []any, kwargs map[string]any) (any, error) {
	return x.pool.call(ctx, true, x.object, method, args, kwargs)
}

// Batch runs calls on the proxy's object in one request; see Conn.Batch.
func (x *Proxy) Batch(ctx context.Context, calls []BatchCall) ([]any, error) {
	return x.pool.batch(ctx, false, x.object, calls)
}

// BatchRetried is Batch under CallRetried's terms.
func (x *Proxy) BatchRetried(ctx context.Context, calls []BatchCall) ([]any, error) {
	return x.pool.batch(ctx, true, x.object, calls)
}

// Object is the remote object id.
func (x *Proxy) Object() string { return x.object }
