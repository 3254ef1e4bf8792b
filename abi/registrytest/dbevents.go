package registrytest

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/gnrhost/gnrhost/abi"
)

// wantDbChanges checks that a page received exactly the given tables' dbchanges, in order.
func wantDbChanges(t *testing.T, reg abi.Registry, pageID string, origin, reason string, byTable map[string][]abi.DbEvent, order []string) {
	t.Helper()
	got, err := reg.Datachanges(t.Context(), pageRef(pageID), false)
	must(t, err, "Datachanges "+pageID)
	if len(got) != len(order) {
		t.Errorf("page %s got %d datachanges %+v, want %d (tables %v)", pageID, len(got), got, len(order), order)
		return
	}
	for i, table := range order {
		c := got[i]
		if c.Path != abi.DbChangesPath(table) {
			t.Errorf("page %s change %d path = %q, want %q", pageID, i, c.Path, abi.DbChangesPath(table))
		}
		if c.Attributes["from_page_id"] != origin || c.Attributes["dbevent_reason"] != reason {
			t.Errorf("page %s change %d attributes = %v, want from_page_id=%q dbevent_reason=%q", pageID, i, c.Attributes, origin, reason)
		}
		var evs []abi.DbEvent
		if err := json.Unmarshal(c.Value, &evs); err != nil {
			t.Errorf("page %s change %d value %s is not a JSON list of events: %v", pageID, i, c.Value, err)
			continue
		}
		wantEvents(t, evs, byTable[table], "page "+pageID+" "+table+" events")
	}
}

func testNotifyDbEvents(t *testing.T, reg abi.Registry, _ Options) {
	ctx := t.Context()
	seed(t, reg)
	must(t, reg.SubscribeTable(ctx, "p1", "todo.item", true), "subscribe p1")
	must(t, reg.SubscribeTable(ctx, "p3", "todo.item", true), "subscribe p3")
	must(t, reg.SubscribeTable(ctx, "p2", "todo.list", true), "subscribe p2")
	if got := abi.DbChangesPath("todo.item"); got != "gnr.dbchanges.todo_item" {
		t.Fatalf("abi.DbChangesPath(todo.item) = %q", got)
	}

	events := []abi.DbEvent{
		{Table: "todo.item", Action: "I", PKey: "k1", Data: json.RawMessage(`{"title":"milk"}`)},
		{Table: "todo.item", Action: "U", PKey: "k2"},
	}
	notices, err := reg.NotifyDbEvents(ctx, events, "p1", "commit")
	must(t, err, "NotifyDbEvents")
	if len(notices) != 1 {
		t.Fatalf("got %d notices, want 1: %+v", len(notices), notices)
	}
	n := notices[0]
	if n.Table != "todo.item" || n.OriginPageID != "p1" || n.Reason != "commit" {
		t.Errorf("notice = table %q origin %q reason %q, want todo.item p1 commit", n.Table, n.OriginPageID, n.Reason)
	}
	wantStrings(t, n.PageIDs, []string{"p1", "p3"}, "notice PageIDs (the origin page is not excluded)")
	wantEvents(t, n.Events, events, "notice events")

	byTable := map[string][]abi.DbEvent{"todo.item": events}
	wantDbChanges(t, reg, "p1", "p1", "commit", byTable, []string{"todo.item"})
	wantDbChanges(t, reg, "p3", "p1", "commit", byTable, []string{"todo.item"})
	wantDbChanges(t, reg, "p2", "p1", "commit", byTable, nil)
	wantDbChanges(t, reg, "p4", "p1", "commit", byTable, nil)

	notices, err = reg.NotifyDbEvents(ctx, nil, "p1", "nothing")
	must(t, err, "NotifyDbEvents(no events)")
	if len(notices) != 0 {
		t.Errorf("NotifyDbEvents(no events) sent %d notices", len(notices))
	}
}

func testNotifyDbEventsTables(t *testing.T, reg abi.Registry, _ Options) {
	ctx := t.Context()
	seed(t, reg)
	must(t, reg.SubscribeTable(ctx, "p1", "todo.item", true), "subscribe p1 item")
	must(t, reg.SubscribeTable(ctx, "p1", "todo.list", true), "subscribe p1 list")
	must(t, reg.SubscribeTable(ctx, "p2", "todo.list", true), "subscribe p2 list")

	item1 := abi.DbEvent{Table: "todo.item", Action: "I", PKey: "i1", Data: json.RawMessage(`1`)}
	list1 := abi.DbEvent{Table: "todo.list", Action: "D", PKey: "l1"}
	item2 := abi.DbEvent{Table: "todo.item", Action: "U", PKey: "i2", Data: json.RawMessage(`{"a":[true]}`)}
	other := abi.DbEvent{Table: "adm.log", Action: "I", PKey: "x"}
	byTable := map[string][]abi.DbEvent{
		"todo.item": {item1, item2},
		"todo.list": {list1},
		"adm.log":   {other},
	}
	notices, err := reg.NotifyDbEvents(ctx, []abi.DbEvent{item1, list1, item2, other}, "", "batch")
	must(t, err, "NotifyDbEvents")
	if len(notices) != 3 {
		t.Fatalf("got %d notices, want one per table (3): %+v", len(notices), notices)
	}
	wantPages := map[string][]string{"todo.item": {"p1"}, "todo.list": {"p1", "p2"}, "adm.log": nil}
	seen := map[string]bool{}
	for _, n := range notices {
		if seen[n.Table] {
			t.Errorf("two notices for table %q", n.Table)
		}
		seen[n.Table] = true
		want, ok := byTable[n.Table]
		if !ok {
			t.Errorf("notice for unexpected table %q", n.Table)
			continue
		}
		wantEvents(t, n.Events, want, "notice "+n.Table)
		wantStrings(t, n.PageIDs, wantPages[n.Table], "notice "+n.Table+" PageIDs")
		if n.Reason != "batch" || n.OriginPageID != "" {
			t.Errorf("notice %s origin %q reason %q, want \"\" batch", n.Table, n.OriginPageID, n.Reason)
		}
	}

	// p1 gets one datachange per table, whatever order the backend chose.
	got, err := reg.Datachanges(ctx, pageRef("p1"), false)
	must(t, err, "Datachanges p1")
	var order []string
	for _, c := range got {
		for table := range byTable {
			if c.Path == abi.DbChangesPath(table) {
				order = append(order, table)
			}
		}
	}
	if sorted := slices.Sorted(slices.Values(order)); !slices.Equal(sorted, []string{"todo.item", "todo.list"}) {
		t.Errorf("p1 got dbchanges for %v, want todo.item and todo.list", order)
	}
	wantDbChanges(t, reg, "p1", "", "batch", byTable, order)
	wantDbChanges(t, reg, "p2", "", "batch", byTable, []string{"todo.list"})
	wantDbChanges(t, reg, "p3", "", "batch", byTable, nil)
}

func testWatchDbEvents(t *testing.T, reg abi.Registry, _ Options) {
	ctx := t.Context()
	seed(t, reg)
	must(t, reg.SubscribeTable(ctx, "p1", "todo.item", true), "subscribe p1")

	ctx1, cancel1 := context.WithCancel(ctx)
	defer cancel1()
	ch1, err := reg.WatchDbEvents(ctx1)
	must(t, err, "WatchDbEvents 1")
	ch2, err := reg.WatchDbEvents(ctx)
	must(t, err, "WatchDbEvents 2")

	ev := abi.DbEvent{Table: "todo.item", Action: "I", PKey: "k1", Data: json.RawMessage(`{"n":1}`)}
	_, err = reg.NotifyDbEvents(ctx, []abi.DbEvent{ev}, "p2", "insert")
	must(t, err, "NotifyDbEvents")
	for i, ch := range []<-chan abi.DbEventNotice{ch1, ch2} {
		n := recvNotice(t, ch, "watcher")
		if n.Table != "todo.item" || n.OriginPageID != "p2" || n.Reason != "insert" {
			t.Errorf("watcher %d notice = %q/%q/%q, want todo.item/p2/insert", i+1, n.Table, n.OriginPageID, n.Reason)
		}
		wantStrings(t, n.PageIDs, []string{"p1"}, "watcher notice PageIDs")
		wantEvents(t, n.Events, []abi.DbEvent{ev}, "watcher notice events")
	}

	cancel1()
	awaitClosed(t, ch1, "watcher 1 after its context was cancelled")

	// The other watcher lives on, and a watcher only sees notices sent after it started.
	ch3, err := reg.WatchDbEvents(ctx)
	must(t, err, "WatchDbEvents 3")
	_, err = reg.NotifyDbEvents(ctx, []abi.DbEvent{{Table: "adm.log", Action: "I"}}, "", "later")
	must(t, err, "NotifyDbEvents later")
	for _, ch := range []<-chan abi.DbEventNotice{ch2, ch3} {
		if n := recvNotice(t, ch, "watcher after cancel"); n.Table != "adm.log" || n.Reason != "later" {
			t.Errorf("notice = %q/%q, want adm.log/later", n.Table, n.Reason)
		}
	}
}
