package pagerpc

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/gnrhost/gnrhost/abi"
)

// Errors cross the process boundary as gRPC status codes chosen by the abi sentinels
// they wrap, and come back wrapping the same sentinels, so errors.Is works on both
// sides: the host tells "plugin unreachable" (503) from "handler failed" (500), and a
// plugin tells "key unset" from "registry down" in a callback. The mapping follows
// abi/registryrpc's, plus abi.ErrTooLarge and abi.ErrNotPermitted of the page contract.

// codeOf picks the status code for an error. Context errors come first so that a call
// the caller gave up on is reported as such, whatever else it wraps.
func codeOf(err error) codes.Code {
	switch {
	case errors.Is(err, context.Canceled):
		return codes.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		return codes.DeadlineExceeded
	case errors.Is(err, abi.ErrNotFound):
		return codes.NotFound
	case errors.Is(err, abi.ErrInvalid):
		return codes.InvalidArgument
	case errors.Is(err, abi.ErrTooLarge):
		return codes.ResourceExhausted
	case errors.Is(err, abi.ErrNotPermitted):
		return codes.PermissionDenied
	case errors.Is(err, abi.ErrUnavailable):
		return codes.Unavailable
	case errors.Is(err, errCallEnded):
		return codes.FailedPrecondition
	default:
		return codes.Internal
	}
}

// toStatus converts an error for the wire; nil stays nil. Only the sentinels choose the
// code: a gRPC status wrapped inside err is not forwarded, so a handler that talks gRPC
// to something else cannot make the host believe the plugin itself is unavailable.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	return status.Error(codeOf(err), err.Error())
}

// errCallEnded: a PageHost callback named a call that is not running (unknown id, or the
// call has returned). It is a plugin bug (a goroutine outliving its call), not an outage.
var errCallEnded = errors.New("pagerpc: the call is not running (unknown id, or it has returned)")

// remoteError is an error received over gRPC: the other side's message, wrapping the
// sentinel (or context error) its status code stands for.
type remoteError struct {
	msg  string
	kind error // nil for codes without a sentinel (Internal, Unknown, ...)
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.kind }

// fromStatus converts an error returned by a gRPC call. method names the call for the
// message; ctx is the caller's, to tell a call the caller cancelled from a connection
// torn down under it.
func fromStatus(ctx context.Context, method string, err error) error {
	if err == nil {
		return nil
	}
	s, ok := status.FromError(err)
	if !ok {
		// Not a status at all: something below gRPC failed (dial, closed conn).
		return fmt.Errorf("pagerpc: %s: %w: %w", method, abi.ErrUnavailable, err)
	}
	var kind error
	switch s.Code() {
	case codes.NotFound:
		kind = abi.ErrNotFound
	case codes.InvalidArgument:
		kind = abi.ErrInvalid
	case codes.ResourceExhausted:
		// Also what gRPC says of a message over the receiver's size bound.
		kind = abi.ErrTooLarge
	case codes.PermissionDenied:
		kind = abi.ErrNotPermitted
	case codes.FailedPrecondition:
		kind = errCallEnded
	case codes.Unavailable:
		// Both a side that said so and a transport failure (process gone, connection
		// refused or reset) arrive here.
		kind = abi.ErrUnavailable
	case codes.Canceled, codes.DeadlineExceeded:
		if ctxErr := ctx.Err(); ctxErr != nil {
			kind = ctxErr
		} else if s.Code() == codes.DeadlineExceeded {
			kind = context.DeadlineExceeded
		} else {
			// Canceled while the caller's ctx is live: gRPC cancels the calls of a
			// ClientConn that is closing, i.e. go-plugin is tearing the plugin down.
			kind = abi.ErrUnavailable
		}
	}
	return fmt.Errorf("pagerpc: %s: %w", method, &remoteError{msg: s.Message(), kind: kind})
}
