package registryrpc

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/gnrhost/gnrhost/abi"
)

func TestWatchDeliversNotices(t *testing.T) {
	f := newFake()
	reg, _, _ := connect(t, f)
	ctx := t.Context()

	ch, err := reg.WatchDbEvents(ctx)
	if err != nil {
		t.Fatalf("WatchDbEvents: %v", err)
	}
	// No sleep here on purpose: WatchDbEvents returning means the backend watch is
	// registered, so a notice sent right away must arrive.
	want := []abi.DbEventNotice{fullNotice(), {Table: "todo.list"}}
	set(f, &f.notices, want)
	if _, err := reg.NotifyDbEvents(ctx, nil, "p0", "save"); err != nil {
		t.Fatalf("NotifyDbEvents: %v", err)
	}
	for i, w := range want {
		select {
		case got, ok := <-ch:
			if !ok {
				t.Fatalf("channel closed before notice %d", i)
			}
			mustEqual(t, "notice", got, w)
		case <-time.After(5 * time.Second):
			t.Fatalf("notice %d never arrived", i)
		}
	}
}

// TestWatchCancelNoLeak checks that cancelling ctx closes the channel and leaves no
// goroutine behind, on the host (reader) or in the plugin (stream handler).
func TestWatchCancelNoLeak(t *testing.T) {
	f := newFake()
	reg, _, _ := connect(t, f)
	if err := reg.Ping(t.Context()); err != nil { // let the connection settle first
		t.Fatalf("Ping: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	ch, err := reg.WatchDbEvents(ctx)
	if err != nil {
		t.Fatalf("WatchDbEvents: %v", err)
	}
	cancel()
	waitClosed(t, ch)
	waitWatchEnded(t, f)
	waitNoWatchGoroutines(t)
}

// A consumer that stopped reading must not keep the reader goroutine alive once ctx ends.
func TestWatchCancelWhileBlocked(t *testing.T) {
	f := newFake()
	reg, _, _ := connect(t, f)
	if err := reg.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	ch, err := reg.WatchDbEvents(ctx)
	if err != nil {
		t.Fatalf("WatchDbEvents: %v", err)
	}
	// Fill the client buffer and then some, without reading.
	set(f, &f.notices, []abi.DbEventNotice{{Table: "t"}})
	for range watchBuffer + 20 {
		if _, err := reg.NotifyDbEvents(t.Context(), nil, "", ""); err != nil {
			t.Fatalf("NotifyDbEvents: %v", err)
		}
	}
	cancel()
	// Nobody reads ch: the reader goroutine must leave on ctx alone, not on a drain.
	waitWatchEnded(t, f)
	waitNoWatchGoroutines(t)
	waitClosed(t, ch)
}

func TestWatchBackendClose(t *testing.T) {
	f := newFake()
	reg, _, _ := connect(t, f)
	ch, err := reg.WatchDbEvents(t.Context())
	if err != nil {
		t.Fatalf("WatchDbEvents: %v", err)
	}
	f.closeWatches()
	waitClosed(t, ch)
}

func TestWatchServerGone(t *testing.T) {
	reg, _, gs := connect(t, newFake())
	ch, err := reg.WatchDbEvents(t.Context())
	if err != nil {
		t.Fatalf("WatchDbEvents: %v", err)
	}
	gs.Stop()
	waitClosed(t, ch)
}

func TestWatchError(t *testing.T) {
	f := newFake()
	set(f, &f.fail, errors.Join(errors.New("fake: watchers full"), abi.ErrUnavailable))
	reg, _, _ := connect(t, f)
	ch, err := reg.WatchDbEvents(t.Context())
	if !errors.Is(err, abi.ErrUnavailable) || ch != nil {
		t.Fatalf("WatchDbEvents = %v, %v; want nil, ErrUnavailable", ch, err)
	}
}

// waitClosed drains ch until it is closed.
func waitClosed(t *testing.T, ch <-chan abi.DbEventNotice) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("watch channel not closed")
		}
	}
}

// waitWatchEnded waits for the backend to see the end of a watch's ctx: the plugin side
// let go of it too.
func waitWatchEnded(t *testing.T, f *fake) {
	t.Helper()
	select {
	case <-f.watchEnded:
	case <-time.After(5 * time.Second):
		t.Fatal("backend watch ctx never ended")
	}
}

// waitNoWatchGoroutines waits until no goroutine runs the watch code of this package, on
// either side. It looks for our frames rather than diffing all goroutines (goleak-style)
// because go-plugin starts its broker stream asynchronously, which such a diff would
// blame on us.
func waitNoWatchGoroutines(t *testing.T) {
	t.Helper()
	ours := [][]byte{
		[]byte("abi/registryrpc.(*client).WatchDbEvents"),
		[]byte("abi/registryrpc.(*server).WatchDbEvents"),
	}
	var stacks []byte
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		buf := make([]byte, 1<<20)
		stacks = buf[:runtime.Stack(buf, true)]
		leaked := false
		for _, g := range bytes.Split(stacks, []byte("\n\n")) {
			for _, frame := range ours {
				if bytes.Contains(g, frame) {
					leaked = true
				}
			}
		}
		if !leaked {
			return
		}
	}
	t.Fatalf("watch goroutines still running:\n%s", stacks)
}
