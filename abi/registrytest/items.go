package registrytest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/gnrhost/gnrhost/abi"
)

func testPing(t *testing.T, reg abi.Registry, _ Options) {
	must(t, reg.Ping(t.Context()), "Ping")
}

// clockSkew tolerates an out-of-process backend stamping with its own clock.
const clockSkew = 2 * time.Second

func wantStamp(t *testing.T, ts, before, after time.Time, what string) {
	t.Helper()
	if ts.Before(before.Add(-clockSkew)) || ts.After(after.Add(clockSkew)) {
		t.Errorf("%s = %v, want between %v and %v", what, ts, before, after)
	}
}

func testAddGetItem(t *testing.T, reg abi.Registry, _ Options) {
	ctx := t.Context()
	user := abi.Item{Register: abi.RegisterUser, ID: "alice", User: "alice", UserID: "u1", UserName: "Alice", UserTags: "admin"}
	conn := abi.Item{Register: abi.RegisterConnection, ID: "c1", User: "alice", UserID: "u1", UserName: "Alice",
		ConnectionName: "laptop", UserIP: "10.0.0.1", UserAgent: "Firefox/140", BrowserName: "firefox"}
	page := abi.Item{Register: abi.RegisterPage, ID: "p1", User: "alice", ConnectionID: "c1", PageName: "todo",
		RelativeURL: "/todo/list", UserIP: "10.0.0.1", UserAgent: "Firefox/140",
		SubscribedTables: []string{"todo.item", "todo.list", "todo.item"},
		Data:             map[string]json.RawMessage{"form.title": json.RawMessage(`"hello"`), "n": json.RawMessage(`42`)}}

	before := time.Now()
	for _, it := range []abi.Item{user, conn, page} {
		must(t, reg.AddItem(ctx, it), "AddItem "+it.ID)
	}
	after := time.Now()

	page.SubscribedTables = []string{"todo.item", "todo.list"} // duplicates collapse, order kept
	for _, want := range []abi.Item{user, conn, page} {
		ref := abi.ItemRef{Register: want.Register, ID: want.ID}
		got, err := reg.GetItem(ctx, ref, false)
		must(t, err, "GetItem "+want.ID)
		wantIdentity(t, got, want)
		if got.Data != nil {
			t.Errorf("GetItem(%s, includeData=false).Data = %v, want nil", want.ID, got.Data)
		}
		wantStamp(t, got.StartTS, before, after, want.ID+" StartTS")
		if !got.LastRefreshTS.IsZero() {
			wantStamp(t, got.LastRefreshTS, before, after, want.ID+" LastRefreshTS")
		}
		wantExists(t, reg, ref, true)
	}

	got, err := reg.GetItem(ctx, pageRef("p1"), true)
	must(t, err, "GetItem p1 with data")
	wantStore(t, got.Data, page.Data, "GetItem(p1, includeData=true).Data")

	got, err = reg.GetItem(ctx, userRef("alice"), true)
	must(t, err, "GetItem alice with data")
	if len(got.Data) != 0 {
		t.Errorf("user added without Data has store %v, want empty", got.Data)
	}
	wantExists(t, reg, pageRef("p2"), false)
}

func testAddItemReplace(t *testing.T, reg abi.Registry, _ Options) {
	ctx := t.Context()
	must(t, reg.AddItem(ctx, abi.Item{Register: abi.RegisterConnection, ID: "c1", User: "alice"}), "add c1")
	page := abi.Item{Register: abi.RegisterPage, ID: "p1", ConnectionID: "c1", PageName: "old",
		SubscribedTables: []string{"todo.item"},
		Data:             map[string]json.RawMessage{"a": json.RawMessage(`1`)}}
	must(t, reg.AddItem(ctx, page), "add p1")
	ref := pageRef("p1")
	must(t, reg.SetData(ctx, ref, "b", json.RawMessage(`2`)), "SetData b")
	_, err := reg.AppendDatachange(ctx, ref, abi.Datachange{Path: "x", Value: json.RawMessage(`true`)})
	must(t, err, "AppendDatachange")
	must(t, reg.SubscribePath(ctx, ref, "sub.path", true), "SubscribePath")

	// Replace without Data: identity changes, everything else stays.
	page.PageName, page.Data = "new", nil
	must(t, reg.AddItem(ctx, page), "replace p1 without Data")
	got, err := reg.GetItem(ctx, ref, true)
	must(t, err, "GetItem p1")
	if got.PageName != "new" {
		t.Errorf("replaced page name = %q, want %q", got.PageName, "new")
	}
	wantStore(t, got.Data, map[string]json.RawMessage{"a": json.RawMessage(`1`), "b": json.RawMessage(`2`)}, "store after replace without Data")
	changes, err := reg.Datachanges(ctx, ref, false)
	must(t, err, "Datachanges")
	if len(changes) != 1 || changes[0].Path != "x" {
		t.Errorf("datachanges after replace without Data = %+v, want the one at x", changes)
	}
	paths, err := reg.SubscribedPaths(ctx, ref)
	must(t, err, "SubscribedPaths")
	wantStrings(t, paths, []string{"sub.path"}, "path subscriptions after replace without Data")
	pages, err := reg.SubscribedPages(ctx, "todo.item")
	must(t, err, "SubscribedPages")
	wantStrings(t, pages, []string{"p1"}, "table subscribers after replace without Data")

	// Replace with Data: the store is exactly the new Data.
	page.Data = map[string]json.RawMessage{"z": json.RawMessage(`"fresh"`)}
	must(t, reg.AddItem(ctx, page), "replace p1 with Data")
	store, err := reg.GetStore(ctx, ref)
	must(t, err, "GetStore")
	wantStore(t, store, page.Data, "store after replace with Data")

	keys, err := reg.Keys(ctx, abi.RegisterPage)
	must(t, err, "Keys")
	wantStrings(t, keys, []string{"p1"}, "pages after two replaces")
}

func testGlobalItem(t *testing.T, reg abi.Registry, _ Options) {
	ctx := t.Context()
	wantExists(t, reg, globalRef, true)
	wantExists(t, reg, abi.ItemRef{Register: abi.RegisterGlobal, ID: "other"}, false)
	keys, err := reg.Keys(ctx, abi.RegisterGlobal)
	must(t, err, "Keys(global)")
	wantStrings(t, keys, []string{abi.GlobalItemID}, "Keys(global)")
	items, err := reg.Items(ctx, abi.RegisterGlobal, abi.ItemFilter{})
	must(t, err, "Items(global)")
	wantStrings(t, itemIDs(items), []string{abi.GlobalItemID}, "Items(global)")
	got, err := reg.GetItem(ctx, globalRef, false)
	must(t, err, "GetItem(global)")
	if got.Register != abi.RegisterGlobal || got.ID != abi.GlobalItemID {
		t.Errorf("GetItem(global) = %s %q", got.Register, got.ID)
	}

	wantErr(t, reg.AddItem(ctx, abi.Item{Register: abi.RegisterGlobal, ID: abi.GlobalItemID}), abi.ErrInvalid, "AddItem(global *)")
	wantErr(t, reg.AddItem(ctx, abi.Item{Register: abi.RegisterGlobal, ID: "other"}), abi.ErrInvalid, "AddItem(global other)")
	wantExists(t, reg, abi.ItemRef{Register: abi.RegisterGlobal, ID: "other"}, false)
	wantErr(t, reg.DropItem(ctx, globalRef, false), abi.ErrInvalid, "DropItem(global)")
	wantErr(t, reg.DropItem(ctx, globalRef, true), abi.ErrInvalid, "DropItem(global, cascade)")
	wantExists(t, reg, globalRef, true)

	// The global item is a full item: store, datachanges, locks.
	must(t, reg.SetData(ctx, globalRef, "site.motd", json.RawMessage(`"hi"`)), "SetData(global)")
	v, ok, err := reg.GetData(ctx, globalRef, "site.motd")
	must(t, err, "GetData(global)")
	if !ok {
		t.Fatal("GetData(global): value not found after SetData")
	}
	wantJSON(t, v, json.RawMessage(`"hi"`), "GetData(global)")
	if _, err := reg.AppendDatachange(ctx, globalRef, abi.Datachange{Path: "x"}); err != nil {
		t.Errorf("AppendDatachange(global): %v", err)
	}
	locked, err := reg.LockItem(ctx, globalRef, "r", 0)
	must(t, err, "LockItem(global)")
	if !locked {
		t.Error("LockItem(global) on a free lock = false")
	}
	must(t, reg.UnlockItem(ctx, globalRef, "r"), "UnlockItem(global)")
}

func testPageNeedsConnection(t *testing.T, reg abi.Registry, _ Options) {
	ctx := t.Context()
	err := reg.AddItem(ctx, abi.Item{Register: abi.RegisterPage, ID: "p1", ConnectionID: "missing"})
	wantErr(t, err, abi.ErrNotFound, "AddItem(page of a missing connection)")
	wantExists(t, reg, pageRef("p1"), false)

	must(t, reg.AddItem(ctx, abi.Item{Register: abi.RegisterPage, ID: "p2"}), "AddItem(page without connection)")
	must(t, reg.AddItem(ctx, abi.Item{Register: abi.RegisterConnection, ID: "c1"}), "AddItem(connection)")
	must(t, reg.AddItem(ctx, abi.Item{Register: abi.RegisterPage, ID: "p1", ConnectionID: "c1"}), "AddItem(page of c1)")
	wantExists(t, reg, pageRef("p1"), true)

	// A dropped connection stops accepting pages.
	must(t, reg.DropItem(ctx, connRef("c1"), true), "DropItem(c1)")
	err = reg.AddItem(ctx, abi.Item{Register: abi.RegisterPage, ID: "p3", ConnectionID: "c1"})
	wantErr(t, err, abi.ErrNotFound, "AddItem(page of a dropped connection)")
}

func testKeysItems(t *testing.T, reg abi.Registry, _ Options) {
	ctx := t.Context()
	seed(t, reg)
	for reg2, want := range map[abi.RegisterName][]string{
		abi.RegisterUser:       {"alice", "bob"},
		abi.RegisterConnection: {"c1", "c2", "c3"},
		abi.RegisterPage:       {"p1", "p2", "p3", "p4"},
	} {
		keys, err := reg.Keys(ctx, reg2)
		must(t, err, "Keys")
		wantStrings(t, keys, want, "Keys("+string(reg2)+")")
		items, err := reg.Items(ctx, reg2, abi.ItemFilter{})
		must(t, err, "Items")
		wantStrings(t, itemIDs(items), want, "Items("+string(reg2)+")")
		for _, it := range items {
			if it.Data != nil {
				t.Errorf("Items(%s) returned %q with Data", reg2, it.ID)
			}
			if it.Register != reg2 {
				t.Errorf("Items(%s) returned %q with Register %q", reg2, it.ID, it.Register)
			}
		}
	}

	for _, c := range []struct {
		register abi.RegisterName
		filter   abi.ItemFilter
		want     []string
	}{
		{abi.RegisterPage, abi.ItemFilter{ConnectionID: "c1"}, []string{"p1", "p2"}},
		{abi.RegisterPage, abi.ItemFilter{User: "bob"}, []string{"p4"}},
		{abi.RegisterPage, abi.ItemFilter{User: "alice"}, []string{"p1", "p2", "p3"}},
		{abi.RegisterPage, abi.ItemFilter{User: "alice", ConnectionID: "c2"}, []string{"p3"}},
		{abi.RegisterPage, abi.ItemFilter{User: "bob", ConnectionID: "c1"}, nil},
		{abi.RegisterPage, abi.ItemFilter{User: "nobody"}, nil},
		{abi.RegisterConnection, abi.ItemFilter{User: "alice"}, []string{"c1", "c2"}},
		{abi.RegisterConnection, abi.ItemFilter{User: "bob"}, []string{"c3"}},
	} {
		items, err := reg.Items(ctx, c.register, c.filter)
		must(t, err, "Items filtered")
		wantStrings(t, itemIDs(items), c.want, "Items("+string(c.register)+", "+filterString(c.filter)+")")
	}

	items, err := reg.Items(ctx, abi.RegisterPage, abi.ItemFilter{ConnectionID: "c3"})
	must(t, err, "Items(page, c3)")
	if len(items) == 1 {
		wantIdentity(t, items[0], abi.Item{Register: abi.RegisterPage, ID: "p4", User: "bob", ConnectionID: "c3", PageName: "todo"})
	}
}

func filterString(f abi.ItemFilter) string {
	return "user=" + f.User + " connection=" + f.ConnectionID
}

func testDropItem(t *testing.T, reg abi.Registry, _ Options) {
	ctx := t.Context()
	seed(t, reg)
	must(t, reg.DropItem(ctx, pageRef("p1"), false), "DropItem(p1)")
	wantExists(t, reg, pageRef("p1"), false)
	wantErr(t, reg.DropItem(ctx, pageRef("p1"), false), abi.ErrNotFound, "DropItem(p1) again")
	_, err := reg.GetItem(ctx, pageRef("p1"), false)
	wantErr(t, err, abi.ErrNotFound, "GetItem(dropped p1)")

	// Without cascade, only the item goes.
	must(t, reg.DropItem(ctx, connRef("c1"), false), "DropItem(c1)")
	wantExists(t, reg, connRef("c1"), false)
	wantExists(t, reg, pageRef("p2"), true)
	must(t, reg.DropItem(ctx, userRef("bob"), false), "DropItem(bob)")
	wantExists(t, reg, userRef("bob"), false)
	wantExists(t, reg, connRef("c3"), true)
	wantExists(t, reg, pageRef("p4"), true)

	keys, err := reg.Keys(ctx, abi.RegisterPage)
	must(t, err, "Keys(page)")
	wantStrings(t, keys, []string{"p2", "p3", "p4"}, "pages left")
}

func testDropItemCascade(t *testing.T, reg abi.Registry, _ Options) {
	ctx := t.Context()
	seed(t, reg)
	must(t, reg.DropItem(ctx, connRef("c2"), true), "DropItem(c2, cascade)")
	wantExists(t, reg, connRef("c2"), false)
	wantExists(t, reg, pageRef("p3"), false)
	wantExists(t, reg, userRef("alice"), true)
	wantExists(t, reg, connRef("c1"), true)

	must(t, reg.DropItem(ctx, userRef("alice"), true), "DropItem(alice, cascade)")
	for _, ref := range []abi.ItemRef{userRef("alice"), connRef("c1"), pageRef("p1"), pageRef("p2")} {
		wantExists(t, reg, ref, false)
	}
	for _, ref := range []abi.ItemRef{userRef("bob"), connRef("c3"), pageRef("p4")} {
		wantExists(t, reg, ref, true)
	}
	wantErr(t, reg.DropItem(ctx, userRef("alice"), true), abi.ErrNotFound, "DropItem(alice) again")

	// A page has nothing below it; cascade is harmless.
	must(t, reg.DropItem(ctx, pageRef("p4"), true), "DropItem(p4, cascade)")
	wantExists(t, reg, connRef("c3"), true)
}

func testCounters(t *testing.T, reg abi.Registry, _ Options) {
	ctx := t.Context()
	got, err := reg.Counters(ctx)
	must(t, err, "Counters")
	if got != (abi.Counters{}) {
		t.Errorf("Counters of an empty registry = %+v, want zeros (the global item is not counted)", got)
	}
	seed(t, reg)
	got, err = reg.Counters(ctx)
	must(t, err, "Counters")
	if want := (abi.Counters{Users: 2, Connections: 3, Pages: 4}); got != want {
		t.Errorf("Counters after seed = %+v, want %+v", got, want)
	}
	must(t, reg.DropItem(ctx, connRef("c1"), true), "DropItem(c1)")
	got, err = reg.Counters(ctx)
	must(t, err, "Counters")
	if want := (abi.Counters{Users: 2, Connections: 2, Pages: 2}); got != want {
		t.Errorf("Counters after dropping c1 = %+v, want %+v", got, want)
	}
}

func testTouch(t *testing.T, reg abi.Registry, _ Options) {
	ctx := t.Context()
	seed(t, reg)
	for _, ref := range []abi.ItemRef{pageRef("p1"), connRef("c1"), userRef("alice"), globalRef} {
		get := func() abi.Item {
			t.Helper()
			it, err := reg.GetItem(ctx, ref, false)
			must(t, err, "GetItem "+ref.ID)
			return it
		}
		it0 := get()
		clockPast(latest(it0))
		must(t, reg.Touch(ctx, ref, abi.RefreshPing), "Touch ping "+ref.ID)
		it1 := get()
		if !it1.LastRefreshTS.After(latest(it0)) {
			t.Errorf("%s: RefreshPing left LastRefreshTS at %v (was %v)", ref.ID, it1.LastRefreshTS, it0.LastRefreshTS)
		}
		if !it1.LastUserTS.Equal(it0.LastUserTS) || !it1.LastRPCTS.Equal(it0.LastRPCTS) {
			t.Errorf("%s: RefreshPing changed LastUserTS/LastRPCTS", ref.ID)
		}

		clockPast(latest(it1))
		must(t, reg.Touch(ctx, ref, abi.RefreshUser), "Touch user "+ref.ID)
		it2 := get()
		if !it2.LastUserTS.After(latest(it1)) || !it2.LastRefreshTS.After(latest(it1)) {
			t.Errorf("%s: RefreshUser: LastUserTS %v, LastRefreshTS %v, want both after %v", ref.ID, it2.LastUserTS, it2.LastRefreshTS, latest(it1))
		}
		if !it2.LastRPCTS.Equal(it1.LastRPCTS) {
			t.Errorf("%s: RefreshUser changed LastRPCTS", ref.ID)
		}

		clockPast(latest(it2))
		must(t, reg.Touch(ctx, ref, abi.RefreshRPC), "Touch rpc "+ref.ID)
		it3 := get()
		if !it3.LastRPCTS.After(latest(it2)) || !it3.LastRefreshTS.After(latest(it2)) {
			t.Errorf("%s: RefreshRPC: LastRPCTS %v, LastRefreshTS %v, want both after %v", ref.ID, it3.LastRPCTS, it3.LastRefreshTS, latest(it2))
		}
		if !it3.LastUserTS.Equal(it2.LastUserTS) {
			t.Errorf("%s: RefreshRPC changed LastUserTS", ref.ID)
		}
		if !it3.StartTS.Equal(it0.StartTS) {
			t.Errorf("%s: Touch changed StartTS from %v to %v", ref.ID, it0.StartTS, it3.StartTS)
		}
	}
}

// latest is the newest timestamp of an item.
func latest(it abi.Item) time.Time {
	ts := it.StartTS
	for _, t := range []time.Time{it.LastRefreshTS, it.LastUserTS, it.LastRPCTS} {
		if t.After(ts) {
			ts = t
		}
	}
	return ts
}
