package pagerpc

import (
	"context"
	"fmt"
	"sync"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/gnrhost/gnrhost/abi"
	pb "github.com/gnrhost/gnrhost/abi/pagepb"
)

// client is the host side: an abi.PageHandler whose calls are RPCs to the plugin, and
// the server of the calls' PageHost callbacks. It does not own the connection: go-plugin
// does, and closes it when the plugin is killed.
type client struct {
	rpc    pb.PageHandlerClient
	broker *plugin.GRPCBroker
	// done ends when the plugin process has exited (go-plugin's context).
	done  context.Context
	calls calls

	mu       sync.Mutex
	brokerID uint32 // 0 until the PageHost service is offered on the broker
}

func newClient(done context.Context, broker *plugin.GRPCBroker, conn grpc.ClientConnInterface) *client {
	return &client{rpc: pb.NewPageHandlerClient(conn), broker: broker, done: done}
}

var _ abi.PageHandler = (*client)(nil)

// errExited is what calls return once the plugin process is gone.
var errExited = fmt.Errorf("pagerpc: the plugin process has exited: %w", abi.ErrUnavailable)

func (c *client) Features(ctx context.Context) (uint64, error) {
	if c.done.Err() != nil {
		return 0, errExited
	}
	resp, err := c.rpc.Features(ctx, &pb.FeaturesRequest{})
	if err != nil {
		return 0, fromStatus(ctx, "Features", err)
	}
	return resp.GetFeatures(), nil
}

// hostService offers the PageHost service on the broker once per connection and returns
// its broker id. It is started on the first call rather than at dispense: go-plugin's
// broker drops a connection offer the other side has not picked up within 5 s, and the
// plugin only learns the id from a call.
func (c *client) hostService() uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.brokerID == 0 {
		id := c.broker.NextId()
		srv := &hostServer{calls: &c.calls}
		// AcceptAndServe returns when the broker closes (the plugin is killed).
		go c.broker.AcceptAndServe(id, func(opts []grpc.ServerOption) *grpc.Server {
			s := newGRPCServer(opts)
			pb.RegisterPageHostServer(s, srv)
			return s
		})
		c.brokerID = id
	}
	return c.brokerID
}

// Call sends the call to the plugin with the caller's ctx (gRPC carries its deadline to
// the plugin and cancels the call there when ctx ends) and serves host's callbacks for
// as long as the call runs.
func (c *client) Call(ctx context.Context, call abi.PageCall, host abi.PageHost) (abi.PageResult, error) {
	if c.done.Err() != nil {
		return abi.PageResult{}, errExited
	}
	// Callbacks run under a context that ends with the call, so a registry operation
	// started by a callback stops when the call returns instead of outliving it.
	cbCtx, cancel := context.WithCancel(ctx)
	id, active := c.calls.add(cbCtx, host)
	defer func() {
		cancel()
		c.calls.end(id, active)
	}()
	req, err := callToPB(call, c.hostService(), id)
	if err != nil {
		return abi.PageResult{}, err
	}
	resp, err := c.rpc.Call(ctx, req)
	if err != nil {
		if c.done.Err() != nil {
			// The process died under the call; say so rather than how gRPC noticed.
			return abi.PageResult{}, fmt.Errorf("%w (%w)", errExited, fromStatus(ctx, "Call", err))
		}
		return abi.PageResult{}, fromStatus(ctx, "Call", err)
	}
	return resultFromPB(resp), nil
}
