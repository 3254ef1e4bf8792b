package registrytest

import (
	"testing"

	"github.com/gnrhost/gnrhost/abi"
)

func testSubscribePath(t *testing.T, reg abi.Registry, _ Options) {
	ctx := t.Context()
	ref := addPage(t, reg, "p1")
	other := addPage(t, reg, "p2")
	got, err := reg.SubscribedPaths(ctx, ref)
	must(t, err, "SubscribedPaths of a new item")
	wantStrings(t, got, nil, "SubscribedPaths of a new item")

	for _, p := range []string{"b", "a", "a.c", "a"} {
		must(t, reg.SubscribePath(ctx, ref, p, true), "SubscribePath "+p)
	}
	got, err = reg.SubscribedPaths(ctx, ref)
	must(t, err, "SubscribedPaths")
	wantStrings(t, got, []string{"a", "a.c", "b"}, "SubscribedPaths (sorted, no duplicates)")

	must(t, reg.SubscribePath(ctx, ref, "a", false), "unsubscribe a")
	must(t, reg.SubscribePath(ctx, ref, "never", false), "unsubscribe a path never subscribed")
	got, err = reg.SubscribedPaths(ctx, ref)
	must(t, err, "SubscribedPaths")
	wantStrings(t, got, []string{"a.c", "b"}, "SubscribedPaths after unsubscribing a")

	got, err = reg.SubscribedPaths(ctx, other)
	must(t, err, "SubscribedPaths(other)")
	wantStrings(t, got, nil, "another item's subscriptions")
}

func testSubscribeTable(t *testing.T, reg abi.Registry, _ Options) {
	ctx := t.Context()
	seed(t, reg)
	tables := func(id string) []string {
		t.Helper()
		it, err := reg.GetItem(ctx, pageRef(id), false)
		must(t, err, "GetItem "+id)
		return it.SubscribedTables
	}
	subscribers := func(table string) []string {
		t.Helper()
		got, err := reg.SubscribedPages(ctx, table)
		must(t, err, "SubscribedPages "+table)
		return got
	}

	for _, tbl := range []string{"todo.item", "todo.item", "todo.list", "adm.user", "todo.list"} {
		must(t, reg.SubscribeTable(ctx, "p1", tbl, true), "SubscribeTable p1 "+tbl)
	}
	wantStrings(t, tables("p1"), []string{"todo.item", "todo.list", "adm.user"}, "p1 tables (subscription order, once each)")
	must(t, reg.SubscribeTable(ctx, "p3", "todo.item", true), "SubscribeTable p3")
	wantStrings(t, subscribers("todo.item"), []string{"p1", "p3"}, "SubscribedPages(todo.item)")
	wantStrings(t, subscribers("todo.list"), []string{"p1"}, "SubscribedPages(todo.list)")
	wantStrings(t, subscribers("none.none"), nil, "SubscribedPages(none.none)")

	must(t, reg.SubscribeTable(ctx, "p1", "todo.item", false), "unsubscribe p1 todo.item")
	must(t, reg.SubscribeTable(ctx, "p1", "todo.item", false), "unsubscribe p1 todo.item again")
	wantStrings(t, tables("p1"), []string{"todo.list", "adm.user"}, "p1 tables after unsubscribing")
	wantStrings(t, subscribers("todo.item"), []string{"p3"}, "SubscribedPages(todo.item) after unsubscribing p1")
	must(t, reg.SubscribeTable(ctx, "p1", "todo.item", true), "resubscribe p1 todo.item")
	wantStrings(t, tables("p1"), []string{"todo.list", "adm.user", "todo.item"}, "p1 tables after resubscribing")

	// Tables given at AddItem count, once each.
	must(t, reg.AddItem(ctx, abi.Item{Register: abi.RegisterPage, ID: "p0", SubscribedTables: []string{"x.y", "todo.item", "x.y"}}), "AddItem p0")
	wantStrings(t, tables("p0"), []string{"x.y", "todo.item"}, "p0 tables")
	wantStrings(t, subscribers("todo.item"), []string{"p0", "p1", "p3"}, "SubscribedPages(todo.item) with p0")

	// Dropped pages are no longer subscribers, directly or by cascade.
	must(t, reg.DropItem(ctx, pageRef("p0"), false), "DropItem p0")
	must(t, reg.DropItem(ctx, connRef("c2"), true), "DropItem c2 (p3)")
	wantStrings(t, subscribers("todo.item"), []string{"p1"}, "SubscribedPages(todo.item) after drops")
	wantStrings(t, subscribers("x.y"), nil, "SubscribedPages(x.y) after dropping p0")
}
