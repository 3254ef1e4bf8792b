package executor

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/gnrhost/gnrhost/host/metrics"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRunsTasksAndReturnsErrors(t *testing.T) {
	p := New(2, 4, metrics.New())
	defer p.Close(context.Background())
	var n atomic.Int32
	for range 10 {
		if err := p.Do(context.Background(), func(context.Context) error { n.Add(1); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if n.Load() != 10 {
		t.Fatalf("ran %d tasks, want 10", n.Load())
	}
	want := errors.New("boom")
	if err := p.Do(context.Background(), func(context.Context) error { return want }); !errors.Is(err, want) {
		t.Fatalf("err = %v, want %v", err, want)
	}
	if err := p.Do(context.Background(), func(context.Context) error { panic("oops") }); err == nil {
		t.Fatal("panic not turned into an error")
	}
}

// With every worker blocked and the queue full, the next task is refused at once.
func TestQueueLimit(t *testing.T) {
	m := metrics.New()
	p := New(1, 1, m)
	release := make(chan struct{})
	started := make(chan struct{})
	errs := make(chan error, 2)
	go func() {
		errs <- p.Do(context.Background(), func(context.Context) error { close(started); <-release; return nil })
	}()
	<-started
	go func() { errs <- p.Do(context.Background(), func(context.Context) error { return nil }) }()
	// Wait until the second task sits in the queue.
	deadline := time.Now().Add(5 * time.Second)
	for len(p.queue) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("second task never queued")
		}
		time.Sleep(time.Millisecond)
	}
	if err := p.Do(context.Background(), func(context.Context) error { return nil }); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("err = %v, want ErrQueueFull", err)
	}
	close(release)
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := p.Do(context.Background(), func(context.Context) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: err = %v, want ErrClosed", err)
	}
}

func TestCallerContextEndsWait(t *testing.T) {
	p := New(1, 1, nil)
	ctx, cancel := context.WithCancel(context.Background())
	err := p.Do(ctx, func(ctx context.Context) error { cancel(); <-ctx.Done(); return ctx.Err() })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}
