package pagerpc

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"sync"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/gnrhost/gnrhost/abi"
	pb "github.com/gnrhost/gnrhost/abi/pagepb"
)

// server exposes an abi.PageHandler as the gRPC PageHandler service; it runs in the
// plugin process. Each call gets a PageHost that calls back into the host over the
// broker connection the request names, tagged with the request's call id.
type server struct {
	pb.UnimplementedPageHandlerServer
	impl   abi.PageHandler
	broker *plugin.GRPCBroker

	mu    sync.Mutex
	conns map[uint32]*grpc.ClientConn // host callback connections by broker id
}

func newServer(impl abi.PageHandler, broker *plugin.GRPCBroker) *server {
	return &server{impl: impl, broker: broker, conns: map[uint32]*grpc.ClientConn{}}
}

var _ pb.PageHandlerServer = (*server)(nil)

func (s *server) Features(ctx context.Context, _ *pb.FeaturesRequest) (*pb.FeaturesResponse, error) {
	f, err := s.impl.Features(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.FeaturesResponse{Features: f}, nil
}

// hostConn returns the connection to the host's PageHost service at broker id, dialing
// it on first use. A connection is dialed once and kept: the broker hands out an id's
// address only once, and gRPC reconnects the connection by itself if it drops.
func (s *server) hostConn(id uint32) (*grpc.ClientConn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if conn := s.conns[id]; conn != nil {
		return conn, nil
	}
	if s.broker == nil {
		return nil, fmt.Errorf("pagerpc: no broker to reach the host's callbacks: %w", abi.ErrUnavailable)
	}
	// Holding mu while dialing makes concurrent first calls wait for the one dial rather
	// than race for the broker's single offer of the address.
	conn, err := s.broker.DialWithOptions(id, grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessageBytes)))
	if err != nil {
		return nil, fmt.Errorf("pagerpc: dial host callbacks (broker id %d): %w: %w", id, abi.ErrUnavailable, err)
	}
	s.conns[id] = conn
	return conn, nil
}

func (s *server) Call(ctx context.Context, req *pb.CallRequest) (*pb.CallResponse, error) {
	call, err := callFromPB(req)
	if err != nil {
		return nil, toStatus(err)
	}
	host := &hostClient{callID: req.GetCallId()}
	if req.GetBrokerId() != 0 {
		conn, err := s.hostConn(req.GetBrokerId())
		if err != nil {
			return nil, toStatus(err)
		}
		host.rpc = pb.NewPageHostClient(conn)
	}
	res, err := s.run(ctx, call, host)
	if err != nil {
		return nil, toStatus(err)
	}
	return resultToPB(res), nil
}

// run calls the handler, turning a panic into an error: one bad call fails with 500
// instead of taking the process, and every other page of the route, down with it.
func (s *server) run(ctx context.Context, call abi.PageCall, host abi.PageHost) (res abi.PageResult, err error) {
	defer func() {
		if r := recover(); r != nil {
			// The stack goes to stderr as one JSON line, which the host's log bridge logs
			// as one error record; the error returned to the host stays short.
			slog.New(slog.NewJSONHandler(os.Stderr, nil)).Error("page handler panic",
				"entry", call.Entry, "method", call.Method, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = fmt.Errorf("pagerpc: page handler panicked on %s: %v", call.Entry, r)
		}
	}()
	return s.impl.Call(ctx, call, host)
}
