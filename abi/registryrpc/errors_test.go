package registryrpc

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/gnrhost/gnrhost/abi"
)

var sentinels = []error{abi.ErrNotFound, abi.ErrInvalid, abi.ErrLockHeld, abi.ErrUnavailable}

// TestErrorsOverGRPC checks that a backend error keeps both its sentinel (errors.Is) and
// its message across the process boundary, for unary calls and for the stream.
func TestErrorsOverGRPC(t *testing.T) {
	f := newFake()
	reg, _, _ := connect(t, f)
	ctx := t.Context()
	ref := abi.ItemRef{Register: abi.RegisterPage, ID: "p"}

	calls := map[string]func() error{
		"Ping":    func() error { return reg.Ping(ctx) },
		"AddItem": func() error { return reg.AddItem(ctx, fullItem()) },
		"GetItem": func() error { _, err := reg.GetItem(ctx, ref, true); return err },
		"LockItem": func() error {
			_, err := reg.LockItem(ctx, ref, "mine", 0)
			return err
		},
		"WatchDbEvents": func() error {
			ch, err := reg.WatchDbEvents(ctx)
			if ch != nil {
				t.Errorf("WatchDbEvents returned a channel with error %v", err)
			}
			return err
		},
	}

	for _, sentinel := range slices.Concat(sentinels, []error{nil}) {
		backendErr := fmt.Errorf("fake backend: item %s/%s: %w", ref.Register, ref.ID, sentinel)
		if sentinel == nil {
			backendErr = errors.New("fake backend: disk on fire")
		}
		set(f, &f.fail, backendErr)
		for name, call := range calls {
			err := call()
			if err == nil {
				t.Fatalf("%s with backend error %q: no error", name, backendErr)
			}
			if !strings.Contains(err.Error(), backendErr.Error()) {
				t.Errorf("%s: message %q lost the backend's %q", name, err, backendErr)
			}
			if !strings.Contains(err.Error(), name) {
				t.Errorf("%s: message %q does not name the call", name, err)
			}
			for _, s := range sentinels {
				if got, want := errors.Is(err, s), s == sentinel; got != want {
					t.Errorf("%s: errors.Is(%q, %v) = %v, want %v", name, err, s, got, want)
				}
			}
		}
	}
}

func TestNotFoundFromBackend(t *testing.T) {
	reg, _, _ := connect(t, newFake())
	_, err := reg.GetItem(t.Context(), abi.ItemRef{Register: abi.RegisterUser, ID: "nobody"}, false)
	if !errors.Is(err, abi.ErrNotFound) {
		t.Fatalf("GetItem(missing) = %v, want ErrNotFound", err)
	}
	if !strings.Contains(err.Error(), "fake: get user/nobody") {
		t.Fatalf("message lost: %q", err)
	}
}

func TestToStatusCodes(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want codes.Code
	}{
		{fmt.Errorf("x: %w", abi.ErrNotFound), codes.NotFound},
		{fmt.Errorf("x: %w", abi.ErrInvalid), codes.InvalidArgument},
		{fmt.Errorf("x: %w", abi.ErrLockHeld), codes.FailedPrecondition},
		{fmt.Errorf("x: %w", abi.ErrUnavailable), codes.Unavailable},
		{fmt.Errorf("x: %w", context.Canceled), codes.Canceled},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), codes.DeadlineExceeded},
		{errors.New("boom"), codes.Internal},
		// A status inside a backend error is not a sentinel: it does not choose the code.
		{fmt.Errorf("x: %w", status.Error(codes.NotFound, "inner")), codes.Internal},
		{fmt.Errorf("%w: %w", abi.ErrNotFound, status.Error(codes.Unavailable, "u")), codes.NotFound},
	} {
		s, _ := status.FromError(toStatus(tc.err))
		if s.Code() != tc.want {
			t.Errorf("toStatus(%q) code = %v, want %v", tc.err, s.Code(), tc.want)
		}
		if s.Message() != tc.err.Error() {
			t.Errorf("toStatus(%q) message = %q", tc.err, s.Message())
		}
	}
	if toStatus(nil) != nil {
		t.Error("toStatus(nil) != nil")
	}
}

func TestFromStatus(t *testing.T) {
	live := context.Background()
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()

	for _, tc := range []struct {
		name string
		ctx  context.Context
		err  error
		want error // nil: no sentinel, no context error
	}{
		{"not found", live, status.Error(codes.NotFound, "m"), abi.ErrNotFound},
		{"invalid", live, status.Error(codes.InvalidArgument, "m"), abi.ErrInvalid},
		{"lock held", live, status.Error(codes.FailedPrecondition, "m"), abi.ErrLockHeld},
		{"unavailable", live, status.Error(codes.Unavailable, "m"), abi.ErrUnavailable},
		{"internal", live, status.Error(codes.Internal, "m"), nil},
		{"unknown", live, status.Error(codes.Unknown, "m"), nil},
		{"caller cancelled", cancelled, status.Error(codes.Canceled, "m"), context.Canceled},
		// gRPC cancels calls on a closing ClientConn: the plugin is being torn down.
		{"conn closing", live, status.Error(codes.Canceled, "grpc: the client connection is closing"), abi.ErrUnavailable},
		{"remote deadline", live, status.Error(codes.DeadlineExceeded, "m"), context.DeadlineExceeded},
		{"not a status", live, errors.New("broken pipe"), abi.ErrUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := fromStatus(tc.ctx, "M", tc.err)
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("fromStatus = %q, want it to wrap %v", err, tc.want)
			}
			for _, s := range slices.Concat(sentinels, []error{context.Canceled, context.DeadlineExceeded}) {
				if s != tc.want && errors.Is(err, s) {
					t.Fatalf("fromStatus = %q wraps %v too", err, s)
				}
			}
			if !strings.HasPrefix(err.Error(), "registryrpc: M: ") {
				t.Fatalf("fromStatus = %q, want the call named", err)
			}
		})
	}
	if fromStatus(live, "M", nil) != nil {
		t.Fatal("fromStatus(nil) != nil")
	}
}
