package pagerpc

import (
	"context"
	"sync"

	"github.com/gnrhost/gnrhost/abi"
)

// calls is the host's table of running calls, by call id: where a PageHost callback
// from the plugin finds the PageHost (and context) of the call it belongs to.
type calls struct {
	mu   sync.Mutex
	next uint64
	m    map[uint64]*activeCall
}

// activeCall is one running call. A callback holds mu for reading while it uses host;
// end takes it for writing, so once end returns no callback is using host and none will:
// a call's PageHost is never touched after the call has returned to the host.
type activeCall struct {
	ctx  context.Context
	host abi.PageHost

	mu    sync.RWMutex
	ended bool
}

// add registers a call and returns its id. Ids are never reused in the life of the
// connection, so a late callback of an old call cannot reach a new one.
func (t *calls) add(ctx context.Context, host abi.PageHost) (uint64, *activeCall) {
	c := &activeCall{ctx: ctx, host: host}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = map[uint64]*activeCall{}
	}
	t.next++
	t.m[t.next] = c
	return t.next, c
}

// end unregisters call id, waiting for callbacks still running on it (the caller
// cancels their context first, so the wait is short).
func (t *calls) end(id uint64, c *activeCall) {
	t.mu.Lock()
	delete(t.m, id)
	t.mu.Unlock()
	c.mu.Lock()
	c.ended = true
	c.mu.Unlock()
}

// enter finds call id for a callback and holds it until the returned release is called.
// ctx is the callback RPC's; the returned context also ends when the call's does.
func (t *calls) enter(ctx context.Context, id uint64) (context.Context, abi.PageHost, func(), error) {
	t.mu.Lock()
	c := t.m[id]
	t.mu.Unlock()
	if c == nil {
		return nil, nil, nil, errCallEnded
	}
	c.mu.RLock()
	if c.ended {
		c.mu.RUnlock()
		return nil, nil, nil, errCallEnded
	}
	cctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(c.ctx, cancel)
	return cctx, c.host, func() {
		stop()
		cancel()
		c.mu.RUnlock()
	}, nil
}
