package dbwatch

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/gnrhost/gnrhost/abi"
)

func notice(table string) abi.DbEventNotice {
	return abi.DbEventNotice{Table: table, Events: []abi.DbEvent{{Table: table, Action: "I", Data: json.RawMessage(`{"a":1}`)}},
		PageIDs: []string{"p1"}}
}

// Watchers whose context ends are removed (their channel closes), so a long-lived
// registry does not accumulate them.
func TestWatcherRemovedOnCancel(t *testing.T) {
	var f Fanout
	for range 100 {
		ctx, cancel := context.WithCancel(t.Context())
		ch, ok := f.Add(ctx)
		if !ok {
			t.Fatal("Add refused on an open fan-out")
		}
		cancel()
		for range ch {
		}
	}
	f.mu.RLock()
	n := len(f.set)
	f.mu.RUnlock()
	if n != 0 {
		t.Errorf("%d watchers left after their contexts ended", n)
	}
}

// A full watcher loses notices, counted, without blocking the broadcast or the others;
// each watcher gets its own copy.
func TestBroadcastDropsAndCopies(t *testing.T) {
	var f Fanout
	slow, _ := f.Add(t.Context())
	fast, _ := f.Add(t.Context())
	const extra = 5
	for i := range Buffer + extra {
		f.Broadcast([]abi.DbEventNotice{notice("t.x")})
		if i < Buffer {
			got := <-fast
			got.Events[0].Data[2] = 'X'
			got.PageIDs[0] = "changed"
		}
	}
	if got := f.Dropped(); got != extra {
		t.Errorf("Dropped() = %d, want %d", got, extra)
	}
	n := <-slow
	if string(n.Events[0].Data) != `{"a":1}` || n.PageIDs[0] != "p1" {
		t.Errorf("a watcher's change leaked into another's notice: %+v", n)
	}
}

// Close ends every watcher and refuses new ones.
func TestClose(t *testing.T) {
	var f Fanout
	ch, _ := f.Add(context.Background())
	f.Close()
	if _, open := <-ch; open {
		t.Error("watcher channel still open after Close")
	}
	if _, ok := f.Add(context.Background()); ok {
		t.Error("Add accepted after Close")
	}
	f.Broadcast([]abi.DbEventNotice{notice("t.y")}) // must not panic on closed channels
}
