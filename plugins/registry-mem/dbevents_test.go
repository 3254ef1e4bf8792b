package registrymem

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gnrhost/gnrhost/abi"
	"github.com/gnrhost/gnrhost/abi/dbwatch"
)

// A watcher that never reads loses notices past its buffer, counted, and never blocks
// NotifyDbEvents.
func TestWatcherDropsWhenFull(t *testing.T) {
	reg := newTestRegistry(t, Config{})
	ctx := t.Context()
	slow, err := reg.WatchDbEvents(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const extra = 10
	for i := range dbwatch.Buffer + extra {
		if _, err := reg.NotifyDbEvents(ctx, []abi.DbEvent{{Table: "t.t", PKey: string(rune('a' + i%26))}}, "", ""); err != nil {
			t.Fatalf("NotifyDbEvents %d: %v", i, err)
		}
	}
	if got := reg.Dropped(); got != extra {
		t.Errorf("Dropped() = %d, want %d", got, extra)
	}
	if got := len(slow); got != dbwatch.Buffer {
		t.Errorf("watcher holds %d notices, want %d", got, dbwatch.Buffer)
	}
}

func TestWatcherClosedOnClose(t *testing.T) {
	reg := New(Config{}, nil)
	ch, err := reg.WatchDbEvents(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case _, ok := <-ch:
		if ok {
			t.Error("got a notice, want a closed channel")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("watcher not closed by Close")
	}
	if err := reg.Close(); !errors.Is(err, abi.ErrUnavailable) {
		t.Errorf("second Close = %v, want ErrUnavailable", err)
	}
}
