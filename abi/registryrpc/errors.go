package registryrpc

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/gnrhost/gnrhost/abi"
)

// The abi sentinels cannot cross a process boundary as values, so the server turns them
// into gRPC status codes and the client turns the codes back into errors that wrap the
// same sentinels. The status message carries the backend's full error text, so the
// host logs the same message in-process and out-of-process.

// codeOf picks the status code for a backend error. The order matters only for an error
// that wraps several sentinels; context errors come first so that a call the caller gave
// up on is reported as such, not as whatever the backend happened to return with it.
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
	case errors.Is(err, abi.ErrLockHeld):
		return codes.FailedPrecondition
	case errors.Is(err, abi.ErrUnavailable):
		return codes.Unavailable
	default:
		return codes.Internal
	}
}

// toStatus converts a backend error for the wire. nil stays nil.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	// Only the sentinels choose the code. A status wrapped inside err (a backend that
	// itself talks gRPC) is deliberately not forwarded: its NotFound or Unavailable would
	// come out on the host as abi.ErrNotFound or abi.ErrUnavailable, a claim the backend
	// never made.
	return status.Error(codeOf(err), err.Error())
}

// remoteError is a backend error received over gRPC: its text is the backend's message,
// and it wraps the abi sentinel (or context error) its status code stands for.
type remoteError struct {
	msg  string
	kind error // nil for codes without a sentinel (Internal, Unknown, ...)
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.kind }

// fromStatus converts an error returned by a gRPC call into one the abi callers expect.
// method names the call, for context in the message. ctx is the caller's: it tells a
// call the caller cancelled apart from a connection the plugin's death cancelled.
func fromStatus(ctx context.Context, method string, err error) error {
	if err == nil {
		return nil
	}
	s, ok := status.FromError(err)
	if !ok {
		// Not a status at all: something below gRPC failed (dial, closed conn).
		return fmt.Errorf("registryrpc: %s: %w: %w", method, abi.ErrUnavailable, err)
	}
	var kind error
	switch s.Code() {
	case codes.NotFound:
		kind = abi.ErrNotFound
	case codes.InvalidArgument:
		kind = abi.ErrInvalid
	case codes.FailedPrecondition:
		kind = abi.ErrLockHeld
	case codes.Unavailable:
		// Both a backend that said so and a transport failure (plugin process gone,
		// connection refused or reset) arrive here.
		kind = abi.ErrUnavailable
	case codes.Canceled, codes.DeadlineExceeded:
		if ctxErr := ctx.Err(); ctxErr != nil {
			kind = ctxErr
		} else if s.Code() == codes.DeadlineExceeded {
			// A deadline the backend applied on its own side.
			kind = context.DeadlineExceeded
		} else {
			// Canceled while the caller's ctx is live: gRPC cancels calls on a
			// ClientConn that is closing, i.e. go-plugin is tearing the plugin down.
			kind = abi.ErrUnavailable
		}
	}
	return fmt.Errorf("registryrpc: %s: %w", method, &remoteError{msg: s.Message(), kind: kind})
}

// errClosed is what every call returns after Close.
var errClosed = fmt.Errorf("registryrpc: client closed: %w", abi.ErrUnavailable)
