package registryrpc

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gnrhost/gnrhost/abi"
)

// These tests cover what happens around the calls: context propagation, a plugin that is
// gone, a client that is closed.

func TestDeadlinePropagates(t *testing.T) {
	f := newFake()
	reg, _, _ := connect(t, f)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	want, _ := ctx.Deadline()

	if err := reg.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	got := seen(f, &f.lastDeadline)
	// gRPC sends the remaining time, so the server-side deadline is close, not identical.
	if got.IsZero() || got.Sub(want).Abs() > 5*time.Second {
		t.Fatalf("backend deadline = %v, want about %v", got, want)
	}
}

func TestCancellationPropagates(t *testing.T) {
	f := newFake()
	set(f, &f.block, true)
	reg, _, _ := connect(t, f)
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(50*time.Millisecond, cancel)

	err := reg.Ping(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Ping with cancelled ctx = %v, want context.Canceled", err)
	}
	if errors.Is(err, abi.ErrUnavailable) {
		t.Fatalf("a cancelled call is not an unavailable backend: %v", err)
	}
	select {
	case backendErr := <-f.pingCtxErr:
		if !errors.Is(backendErr, context.Canceled) {
			t.Fatalf("backend ctx ended with %v, want Canceled", backendErr)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("backend never saw the cancellation")
	}
}

func TestDeadlineExceeded(t *testing.T) {
	f := newFake()
	set(f, &f.block, true)
	reg, _, _ := connect(t, f)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()

	if err := reg.Ping(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Ping past deadline = %v, want context.DeadlineExceeded", err)
	}
	select {
	case <-f.pingCtxErr:
	case <-time.After(5 * time.Second):
		t.Fatal("backend never saw the deadline")
	}
}

func TestServerGoneIsUnavailable(t *testing.T) {
	reg, _, gs := connect(t, newFake())
	if err := reg.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	gs.Stop() // what the host sees when the plugin process dies

	err := reg.Ping(t.Context())
	if !errors.Is(err, abi.ErrUnavailable) {
		t.Fatalf("Ping to a stopped server = %v, want ErrUnavailable", err)
	}
	if _, err := reg.WatchDbEvents(t.Context()); !errors.Is(err, abi.ErrUnavailable) {
		t.Fatalf("WatchDbEvents to a stopped server = %v, want ErrUnavailable", err)
	}
}

func TestConnClosedIsUnavailable(t *testing.T) {
	reg, gc, _ := connect(t, newFake())
	// go-plugin closes the connection when the host kills the plugin.
	if err := gc.Conn.Close(); err != nil {
		t.Fatalf("close conn: %v", err)
	}
	if err := reg.Ping(t.Context()); !errors.Is(err, abi.ErrUnavailable) {
		t.Fatalf("Ping on a closed conn = %v, want ErrUnavailable", err)
	}
}

func TestClientClose(t *testing.T) {
	f := newFake()
	reg, _, _ := connect(t, f)
	ch, err := reg.WatchDbEvents(t.Context())
	if err != nil {
		t.Fatalf("WatchDbEvents: %v", err)
	}

	if err := reg.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := reg.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := reg.Ping(t.Context()); !errors.Is(err, abi.ErrUnavailable) {
		t.Fatalf("Ping after Close = %v, want ErrUnavailable", err)
	}
	if _, err := reg.Counters(t.Context()); !errors.Is(err, abi.ErrUnavailable) {
		t.Fatalf("Counters after Close = %v, want ErrUnavailable", err)
	}
	if _, err := reg.WatchDbEvents(t.Context()); !errors.Is(err, abi.ErrUnavailable) {
		t.Fatalf("WatchDbEvents after Close = %v, want ErrUnavailable", err)
	}
	waitClosed(t, ch)
	waitWatchEnded(t, f)
}
