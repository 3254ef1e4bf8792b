package pagerpc

import (
	"context"

	"github.com/gnrhost/gnrhost/abi"
	pb "github.com/gnrhost/gnrhost/abi/pagepb"
)

// hostServer is the PageHost service the host serves to the plugin through the broker:
// each callback is routed by its call id to the PageHost of a running call.
type hostServer struct {
	pb.UnimplementedPageHostServer
	calls *calls
}

var _ pb.PageHostServer = (*hostServer)(nil)

// with runs fn on the PageHost of call id, or fails with errCallEnded.
func (s *hostServer) with(ctx context.Context, id uint64, fn func(context.Context, abi.PageHost) error) error {
	cctx, host, release, err := s.calls.enter(ctx, id)
	if err != nil {
		return toStatus(err)
	}
	defer release()
	return toStatus(fn(cctx, host))
}

func (s *hostServer) UserGet(ctx context.Context, req *pb.UserGetRequest) (*pb.UserGetResponse, error) {
	resp := &pb.UserGetResponse{}
	err := s.with(ctx, req.GetCallId(), func(ctx context.Context, h abi.PageHost) (err error) {
		resp.Value, resp.Found, err = h.UserGet(ctx, req.GetKey())
		return err
	})
	if err != nil {
		return nil, err
	}
	return resp, nil
}

func (s *hostServer) UserSet(ctx context.Context, req *pb.UserSetRequest) (*pb.UserSetResponse, error) {
	err := s.with(ctx, req.GetCallId(), func(ctx context.Context, h abi.PageHost) error {
		return h.UserSet(ctx, req.GetKey(), req.GetValue())
	})
	if err != nil {
		return nil, err
	}
	return &pb.UserSetResponse{}, nil
}

func (s *hostServer) GlobalGet(ctx context.Context, req *pb.GlobalGetRequest) (*pb.GlobalGetResponse, error) {
	resp := &pb.GlobalGetResponse{}
	err := s.with(ctx, req.GetCallId(), func(ctx context.Context, h abi.PageHost) (err error) {
		resp.Value, resp.Found, err = h.GlobalGet(ctx, req.GetKey())
		return err
	})
	if err != nil {
		return nil, err
	}
	return resp, nil
}

func (s *hostServer) GlobalSet(ctx context.Context, req *pb.GlobalSetRequest) (*pb.GlobalSetResponse, error) {
	err := s.with(ctx, req.GetCallId(), func(ctx context.Context, h abi.PageHost) error {
		return h.GlobalSet(ctx, req.GetKey(), req.GetValue())
	})
	if err != nil {
		return nil, err
	}
	return &pb.GlobalSetResponse{}, nil
}

func (s *hostServer) Log(ctx context.Context, req *pb.LogRequest) (*pb.LogResponse, error) {
	err := s.with(ctx, req.GetCallId(), func(ctx context.Context, h abi.PageHost) error {
		h.Log(ctx, int(req.GetLevel()), req.GetMessage())
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &pb.LogResponse{}, nil
}
