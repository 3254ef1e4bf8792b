package mailbox

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/gnrhost/gnrhost/abi"
	"github.com/gnrhost/gnrhost/host/session"
	registrymem "github.com/gnrhost/gnrhost/plugins/registry-mem"
)

// Two processes share one registry (registry-mem standing in for gnrdaemon): a dbevent
// process 1 notifies reaches process 2's watcher through its mailbox, naming only
// process 2's pages; process 1 gets no letter of its own; a mailbox dropped behind the
// processes' back (a registry restart) is opened again.
func TestLettersCrossProcesses(t *testing.T) {
	ctx := t.Context()
	shared := registrymem.New(registrymem.Config{}, slog.New(slog.DiscardHandler))
	t.Cleanup(func() { _ = shared.Close() })
	open := func(n int) *Registry {
		t.Helper()
		r, err := New(ctx, shared, Options{Process: session.Process(n), Poll: 10 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Shutdown(context.Background()) })
		return r
	}
	p1, p2 := open(1), open(2)
	if err := shared.AddItem(ctx, abi.Item{Register: abi.RegisterConnection, ID: "c", User: "u"}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"AAAAAAAAAAAAAAAAAAAAAA|p01", "BBBBBBBBBBBBBBBBBBBBBB|p02", "CCCCCCCCCCCCCCCCCCCCCC|p02"} {
		if err := shared.AddItem(ctx, abi.Item{Register: abi.RegisterPage, ID: id, ConnectionID: "c", User: "u", PageName: "todo"}); err != nil {
			t.Fatal(err)
		}
		if err := shared.SubscribeTable(ctx, id, "todo.item", true); err != nil {
			t.Fatal(err)
		}
	}
	watch1, err := p1.WatchDbEvents(ctx)
	if err != nil {
		t.Fatal(err)
	}
	watch2, err := p2.WatchDbEvents(ctx)
	if err != nil {
		t.Fatal(err)
	}
	next := func(ch <-chan abi.DbEventNotice, what string) abi.DbEventNotice {
		t.Helper()
		select {
		case n := <-ch:
			return n
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: no notice", what)
			return abi.DbEventNotice{}
		}
	}
	for round := range 2 {
		if _, err := p1.NotifyDbEvents(ctx, []abi.DbEvent{{Table: "todo.item", Action: "I", PKey: "k"}}, "", "test"); err != nil {
			t.Fatal(err)
		}
		// Both see the inner registry's own notice (all three pages): a shared registry's
		// watchers are every process's.
		if n := next(watch1, "process 1, registry notice"); len(n.PageIDs) != 3 {
			t.Fatalf("round %d: process 1's registry notice names %v", round, n.PageIDs)
		}
		if n := next(watch2, "process 2, registry notice"); len(n.PageIDs) != 3 {
			t.Fatalf("round %d: process 2's registry notice names %v", round, n.PageIDs)
		}
		letter := next(watch2, "process 2, letter")
		if len(letter.PageIDs) != 2 || letter.Table != "todo.item" || letter.Events[0].PKey != "k" {
			t.Fatalf("round %d: process 2's letter %+v, want its two pages", round, letter)
		}
		select {
		case n := <-watch1:
			t.Fatalf("round %d: process 1 got a letter %+v", round, n)
		case <-time.After(50 * time.Millisecond):
		}
		// The mailbox goes (a registry restart would lose it): it is opened again.
		if err := shared.DropItem(ctx, abi.ItemRef{Register: abi.RegisterPage, ID: ItemID(2)}, false); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			if ok, _ := shared.Exists(ctx, abi.ItemRef{Register: abi.RegisterPage, ID: ItemID(2)}); ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("process 2's mailbox was not opened again")
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

func TestNeedsAProcessNumber(t *testing.T) {
	shared := registrymem.New(registrymem.Config{}, slog.New(slog.DiscardHandler))
	defer shared.Close()
	if _, err := New(t.Context(), shared, Options{}); err == nil {
		t.Fatal("a mailbox without a process number was opened")
	}
}
