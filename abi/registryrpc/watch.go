package registryrpc

import (
	"context"
	"fmt"

	"github.com/gnrhost/gnrhost/abi"
	pb "github.com/gnrhost/gnrhost/abi/registrypb"
)

// watchBuffer is the client-side buffer between the stream and the caller's channel. Past
// it, gRPC flow control pushes back to the plugin's send loop, and the backend's own
// bounded buffer drops notices, so a slow watcher never stalls NotifyDbEvents.
const watchBuffer = 64

// WatchDbEvents (server side) subscribes to the backend for the lifetime of the stream,
// tells the client it is subscribed, then forwards notices until the client goes away
// (stream context done) or the backend closes the watch (channel closed, stream ends OK).
func (s *server) WatchDbEvents(_ *pb.WatchDbEventsRequest, stream pb.Registry_WatchDbEventsServer) error {
	ctx := stream.Context()
	notices, err := s.impl.WatchDbEvents(ctx)
	if err != nil {
		return toStatus(err)
	}
	ready := &pb.WatchDbEventsResponse{Event: &pb.WatchDbEventsResponse_Ready{Ready: &pb.WatchReady{}}}
	if err := stream.Send(ready); err != nil {
		return err // the client is gone; nothing to report to it
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case n, ok := <-notices:
			if !ok {
				return nil
			}
			msg := &pb.WatchDbEventsResponse{Event: &pb.WatchDbEventsResponse_Notice{Notice: noticeToPB(n)}}
			if err := stream.Send(msg); err != nil {
				return err
			}
		}
	}
}

// WatchDbEvents (client side) opens the stream and waits for the server's ready message
// before returning, so that notices sent after it returns are not missed while the stream
// is being set up. A goroutine then copies notices into the returned channel; it ends,
// closing the channel, when the stream ends, ctx is cancelled or the client is closed.
func (c *client) WatchDbEvents(ctx context.Context) (<-chan abi.DbEventNotice, error) {
	const method = "WatchDbEvents"
	if c.isClosed() {
		return nil, errClosed
	}
	// The stream lives on its own context so the goroutine can end it on every exit path,
	// and so that Close ends it too.
	sctx, cancel := context.WithCancel(ctx)
	stopOnClose := context.AfterFunc(c.closedCtx, cancel)

	fail := func(err error) (<-chan abi.DbEventNotice, error) {
		stopOnClose()
		cancel()
		if c.isClosed() {
			return nil, errClosed
		}
		return nil, err
	}
	stream, err := c.rpc.WatchDbEvents(sctx, &pb.WatchDbEventsRequest{})
	if err != nil {
		return fail(fromStatus(ctx, method, err))
	}
	// Errors from the backend's WatchDbEvents arrive here, on the first Recv.
	first, err := stream.Recv()
	if err != nil {
		return fail(fromStatus(ctx, method, err))
	}
	if first.GetReady() == nil {
		return fail(fmt.Errorf("registryrpc: %s: protocol error: first message is not ready", method))
	}

	out := make(chan abi.DbEventNotice, watchBuffer)
	go func() {
		defer close(out)
		defer stopOnClose()
		defer cancel() // releases the stream if we leave before it ended
		for {
			msg, err := stream.Recv()
			if err != nil {
				// io.EOF (backend closed the watch), cancellation or a dead plugin: the
				// contract has no error channel, a closed channel is the whole signal.
				return
			}
			n := msg.GetNotice()
			if n == nil {
				continue // a message kind this client does not know: skip, stay compatible
			}
			select {
			case out <- noticeFromPB(n):
			case <-sctx.Done():
				return
			}
		}
	}()
	return out, nil
}
