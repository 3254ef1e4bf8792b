package host

import (
	"context"
	"fmt"
	"time"

	"github.com/gnrhost/gnrhost/abi"
	"github.com/gnrhost/gnrhost/host/pages"
	"github.com/gnrhost/gnrhost/host/session"
)

// runtimePages is the page layer as the Runtime's WebSocket endpoint sees it: whichever
// set is running. A socket opened under one set keeps working under the next; its calls
// count into the running set's in-flight requests, so a swap waits for them as for HTTP.
type runtimePages struct{ rt *Runtime }

func (p runtimePages) Stream(ctx context.Context, caller session.Identity, id string) (*pages.PushStream, error) {
	g, err := p.rt.enterPages(ctx)
	if err != nil {
		return nil, err
	}
	defer g.inflight.Done()
	return g.host.pages.Stream(ctx, caller, id)
}

func (p runtimePages) RPC(ctx context.Context, caller session.Identity, pageID, method string, params []byte) (*pages.RPCResponse, error) {
	g, err := p.rt.enterPages(ctx)
	if err != nil {
		return nil, err
	}
	defer g.inflight.Done()
	return g.host.pages.RPC(ctx, caller, pageID, method, params)
}

// enterPages enters the running generation for a page call, once its pages are there
// (the gate of a swap in progress). The caller calls g.inflight.Done.
func (rt *Runtime) enterPages(ctx context.Context) (*generation, error) {
	if err := rt.waitHold(ctx); err != nil {
		return nil, err
	}
	for {
		g := rt.cur.Load()
		if !g.enter() {
			if rt.cur.Load() == g {
				time.Sleep(time.Millisecond) // a failed swap is putting g back
			}
			continue
		}
		if gate := g.host.pagesGate; gate != nil {
			select {
			case <-gate:
			case <-ctx.Done():
				g.inflight.Done()
				return nil, ctx.Err()
			case <-time.After(gateTimeout):
				g.inflight.Done()
				return nil, fmt.Errorf("%w: the page state is still moving in from the previous plugin set", abi.ErrUnavailable)
			}
		}
		return g, nil
	}
}
