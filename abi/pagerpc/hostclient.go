package pagerpc

import (
	"context"
	"fmt"
	"strings"

	"github.com/gnrhost/gnrhost/abi"
	pb "github.com/gnrhost/gnrhost/abi/pagepb"
)

// hostClient is the plugin side of one call's PageHost: RPCs to the host's PageHost
// service, tagged with the call's id.
type hostClient struct {
	rpc    pb.PageHostClient // nil when the host offered no callbacks
	callID uint64
}

var _ abi.PageHost = (*hostClient)(nil)

var errNoHost = fmt.Errorf("pagerpc: the host offered no callbacks for this call: %w", abi.ErrUnavailable)

func (h *hostClient) UserGet(ctx context.Context, key string) ([]byte, bool, error) {
	if h.rpc == nil {
		return nil, false, errNoHost
	}
	resp, err := h.rpc.UserGet(ctx, &pb.UserGetRequest{CallId: h.callID, Key: key})
	if err != nil {
		return nil, false, fromStatus(ctx, "UserGet", err)
	}
	return resp.GetValue(), resp.GetFound(), nil
}

func (h *hostClient) UserSet(ctx context.Context, key string, value []byte) error {
	if h.rpc == nil {
		return errNoHost
	}
	_, err := h.rpc.UserSet(ctx, &pb.UserSetRequest{CallId: h.callID, Key: key, Value: value})
	return fromStatus(ctx, "UserSet", err)
}

func (h *hostClient) GlobalGet(ctx context.Context, key string) ([]byte, bool, error) {
	if h.rpc == nil {
		return nil, false, errNoHost
	}
	resp, err := h.rpc.GlobalGet(ctx, &pb.GlobalGetRequest{CallId: h.callID, Key: key})
	if err != nil {
		return nil, false, fromStatus(ctx, "GlobalGet", err)
	}
	return resp.GetValue(), resp.GetFound(), nil
}

func (h *hostClient) GlobalSet(ctx context.Context, key string, value []byte) error {
	if h.rpc == nil {
		return errNoHost
	}
	_, err := h.rpc.GlobalSet(ctx, &pb.GlobalSetRequest{CallId: h.callID, Key: key, Value: value})
	return fromStatus(ctx, "GlobalSet", err)
}

// Log is best effort, like a log line: a failure to deliver it is not the call's failure.
func (h *hostClient) Log(ctx context.Context, level int, msg string) {
	if h.rpc == nil {
		return
	}
	// A proto string must be UTF-8 (marshalling fails otherwise): a line with a stray
	// byte should arrive mangled rather than not at all.
	_, _ = h.rpc.Log(ctx, &pb.LogRequest{CallId: h.callID, Level: int32(level), Message: strings.ToValidUTF8(msg, "\uFFFD")})
}
