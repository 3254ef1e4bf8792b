package registryrpc

import (
	"encoding/json"
	"errors"
	"sort"
	"testing"
	"time"

	"github.com/gnrhost/gnrhost/abi"
)

// These tests check that every method carries its arguments and results across a real
// gRPC connection unchanged; the fake records what reached the backend.

func TestItemOverGRPC(t *testing.T) {
	f := newFake()
	reg, _, _ := connect(t, f)
	ctx := t.Context()
	want := fullItem()
	ref := abi.ItemRef{Register: want.Register, ID: want.ID}

	if err := reg.AddItem(ctx, want); err != nil {
		t.Fatalf("AddItem: %v", err)
	}
	mustEqual(t, "item as received by the backend", seen(f, &f.lastAdded), want)

	got, err := reg.GetItem(ctx, ref, true)
	if err != nil {
		t.Fatalf("GetItem: %v", err)
	}
	mustEqual(t, "GetItem(includeData)", got, want)

	got, err = reg.GetItem(ctx, ref, false)
	if err != nil {
		t.Fatalf("GetItem: %v", err)
	}
	if got.Data != nil {
		t.Fatalf("GetItem without data returned Data %#v", got.Data)
	}

	items, err := reg.Items(ctx, abi.RegisterPage, abi.ItemFilter{User: "alice", ConnectionID: "conn-1"})
	if err != nil {
		t.Fatalf("Items: %v", err)
	}
	mustEqual(t, "Items", items, []abi.Item{want})
	mustEqual(t, "filter", seen(f, &f.lastFilter), abi.ItemFilter{User: "alice", ConnectionID: "conn-1"})

	ok, err := reg.Exists(ctx, ref)
	if err != nil || !ok {
		t.Fatalf("Exists = %v, %v; want true", ok, err)
	}
	keys, err := reg.Keys(ctx, abi.RegisterPage)
	if err != nil {
		t.Fatalf("Keys: %v", err)
	}
	mustEqual(t, "Keys", keys, []string{"page-1"})

	if err := reg.DropItem(ctx, ref, true); err != nil || !seen(f, &f.lastCascade) {
		t.Fatalf("DropItem(cascade) = %v, backend saw cascade=%v", err, seen(f, &f.lastCascade))
	}
	if ok, err := reg.Exists(ctx, ref); err != nil || ok {
		t.Fatalf("Exists after drop = %v, %v; want false", ok, err)
	}
	// An empty list comes back nil, whatever the backend allocated.
	if keys, err := reg.Keys(ctx, abi.RegisterPage); err != nil || keys != nil {
		t.Fatalf("Keys of empty register = %#v, %v", keys, err)
	}
}

func TestItemDataPresenceOverGRPC(t *testing.T) {
	f := newFake()
	reg, _, _ := connect(t, f)
	ctx := t.Context()

	// nil Data means "keep the store": the backend must see nil, not an empty map.
	it := abi.Item{Register: abi.RegisterUser, ID: "u"}
	if err := reg.AddItem(ctx, it); err != nil {
		t.Fatalf("AddItem: %v", err)
	}
	if seen(f, &f.lastAdded).Data != nil {
		t.Fatalf("nil Data reached the backend as %#v", seen(f, &f.lastAdded).Data)
	}
	mustEqual(t, "minimal item", seen(f, &f.lastAdded), it)

	// Empty Data means "replace the store with an empty one".
	it.Data = map[string]json.RawMessage{}
	if err := reg.AddItem(ctx, it); err != nil {
		t.Fatalf("AddItem: %v", err)
	}
	if seen(f, &f.lastAdded).Data == nil || len(seen(f, &f.lastAdded).Data) != 0 {
		t.Fatalf("empty Data reached the backend as %#v", seen(f, &f.lastAdded).Data)
	}
	got, err := reg.GetItem(ctx, abi.ItemRef{Register: abi.RegisterUser, ID: "u"}, true)
	if err != nil {
		t.Fatalf("GetItem: %v", err)
	}
	if got.Data == nil || len(got.Data) != 0 {
		t.Fatalf("empty store came back as %#v", got.Data)
	}
	if !got.StartTS.IsZero() || !got.LastUserTS.IsZero() || !got.LastRPCTS.IsZero() || !got.LastRefreshTS.IsZero() {
		t.Fatalf("zero times came back non-zero: %+v", got)
	}
}

func TestStoreOverGRPC(t *testing.T) {
	f := newFake()
	reg, _, _ := connect(t, f)
	ctx := t.Context()
	ref := abi.ItemRef{Register: abi.RegisterPage, ID: "p"}

	for name, store := range map[string]map[string]json.RawMessage{
		"nil": nil, "empty": {}, "full": fullItem().Data,
	} {
		t.Run(name, func(t *testing.T) {
			if err := reg.ReplaceStore(ctx, ref, store); err != nil {
				t.Fatalf("ReplaceStore: %v", err)
			}
			if (seen(f, &f.lastStore) == nil) != (store == nil) {
				t.Fatalf("backend got %#v, sent %#v", seen(f, &f.lastStore), store)
			}
			mustEqual(t, "store at backend", seen(f, &f.lastStore), store)
			got, err := reg.GetStore(ctx, ref)
			if err != nil {
				t.Fatalf("GetStore: %v", err)
			}
			if (got == nil) != (store == nil) {
				t.Fatalf("GetStore = %#v, want %#v", got, store)
			}
			mustEqual(t, "GetStore", got, store)
		})
	}
}

func TestDataOverGRPC(t *testing.T) {
	f := newFake()
	reg, _, _ := connect(t, f)
	ctx := t.Context()
	it := fullItem()
	ref := abi.ItemRef{Register: it.Register, ID: it.ID}
	if err := reg.AddItem(ctx, it); err != nil {
		t.Fatalf("AddItem: %v", err)
	}

	v, ok, err := reg.GetData(ctx, ref, "a.b")
	if err != nil || !ok || string(v) != `{"x":1}` {
		t.Fatalf("GetData(set) = %s, %v, %v", v, ok, err)
	}
	v, ok, err = reg.GetData(ctx, ref, "missing")
	if err != nil || ok || v != nil {
		t.Fatalf("GetData(unset) = %s, %v, %v", v, ok, err)
	}

	keys, err := reg.DataKeys(ctx, ref)
	if err != nil {
		t.Fatalf("DataKeys: %v", err)
	}
	sort.Strings(keys)
	mustEqual(t, "DataKeys", keys, []string{"a.b", "list", "plain"})

	for name, val := range map[string]json.RawMessage{
		"nil": nil, "empty": {}, "value": json.RawMessage(`{"y":[true,null]}`),
	} {
		if err := reg.SetData(ctx, ref, "p", val); err != nil {
			t.Fatalf("SetData(%s): %v", name, err)
		}
		if (seen(f, &f.lastValue) == nil) != (val == nil) || string(seen(f, &f.lastValue)) != string(val) {
			t.Fatalf("SetData(%s): backend got %#v", name, seen(f, &f.lastValue))
		}
	}
	if err := reg.DeleteData(ctx, ref, "p"); err != nil {
		t.Fatalf("DeleteData: %v", err)
	}
}

func TestDatachangesOverGRPC(t *testing.T) {
	f := newFake()
	reg, _, _ := connect(t, f)
	ctx := t.Context()
	ref := abi.ItemRef{Register: abi.RegisterPage, ID: "p"}
	sent := []abi.Datachange{fullDatachange(), {Path: "minimal"}, {Path: "empty", Value: json.RawMessage{}}}

	for _, c := range sent {
		idx, err := reg.AppendDatachange(ctx, ref, c)
		if err != nil {
			t.Fatalf("AppendDatachange: %v", err)
		}
		if idx != c.ChangeIdx {
			t.Fatalf("AppendDatachange returned %d, want %d", idx, c.ChangeIdx)
		}
	}
	mustEqual(t, "changes at backend", seen(f, &f.changes), sent)

	got, err := reg.Datachanges(ctx, ref, false)
	if err != nil {
		t.Fatalf("Datachanges: %v", err)
	}
	mustEqual(t, "Datachanges", got, sent)
	if got[1].Value != nil || !got[1].ChangeTS.IsZero() {
		t.Fatalf("minimal change grew a value or time: %#v", got[1])
	}

	if got, err := reg.Datachanges(ctx, ref, true); err != nil || len(got) != 3 {
		t.Fatalf("Datachanges(reset) = %d changes, %v", len(got), err)
	}
	if got, err := reg.Datachanges(ctx, ref, false); err != nil || got != nil {
		t.Fatalf("Datachanges after reset = %#v, %v", got, err)
	}
	if err := reg.DropDatachanges(ctx, ref, ""); err != nil {
		t.Fatalf("DropDatachanges: %v", err)
	}
}

func TestSubscriptionsAndEventsOverGRPC(t *testing.T) {
	f := newFake()
	reg, _, _ := connect(t, f)
	ctx := t.Context()
	ref := abi.ItemRef{Register: abi.RegisterPage, ID: "p"}

	if err := reg.SubscribePath(ctx, ref, "a.b", true); err != nil || seen(f, &f.lastSub) != "path a.b true" {
		t.Fatalf("SubscribePath: %v, backend saw %q", err, seen(f, &f.lastSub))
	}
	if err := reg.SubscribeTable(ctx, "p1", "todo.item", false); err != nil || seen(f, &f.lastSub) != "table p1 todo.item false" {
		t.Fatalf("SubscribeTable: %v, backend saw %q", err, seen(f, &f.lastSub))
	}
	paths, err := reg.SubscribedPaths(ctx, ref)
	if err != nil {
		t.Fatalf("SubscribedPaths: %v", err)
	}
	mustEqual(t, "SubscribedPaths", paths, []string{"a", "b"})
	pages, err := reg.SubscribedPages(ctx, "todo.item")
	if err != nil {
		t.Fatalf("SubscribedPages: %v", err)
	}
	mustEqual(t, "SubscribedPages", pages, []string{"p1", "p2"})

	set(f, &f.notices, []abi.DbEventNotice{fullNotice()})
	events := fullNotice().Events
	notices, err := reg.NotifyDbEvents(ctx, events, "p0", "save")
	if err != nil {
		t.Fatalf("NotifyDbEvents: %v", err)
	}
	mustEqual(t, "events at backend", seen(f, &f.lastEvents), events)
	mustEqual(t, "notices", notices, []abi.DbEventNotice{fullNotice()})
}

func TestMiscOverGRPC(t *testing.T) {
	f := newFake()
	reg, _, _ := connect(t, f)
	ctx := t.Context()
	ref := abi.ItemRef{Register: abi.RegisterPage, ID: "p"}

	if err := reg.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	// RefreshKind values pass through as numbers, unknown ones too: the backend judges.
	for _, kind := range []abi.RefreshKind{abi.RefreshPing, abi.RefreshUser, abi.RefreshRPC, 7} {
		if err := reg.Touch(ctx, ref, kind); err != nil || seen(f, &f.lastTouch) != kind {
			t.Fatalf("Touch(%d): %v, backend saw %d", kind, err, seen(f, &f.lastTouch))
		}
	}

	for _, ttl := range []time.Duration{0, -time.Second, 1500 * time.Millisecond, time.Nanosecond} {
		ok, err := reg.LockItem(ctx, ref, "mine", ttl)
		if err != nil || !ok || seen(f, &f.lastTTL) != ttl {
			t.Fatalf("LockItem(ttl %v) = %v, %v; backend saw %v", ttl, ok, err, seen(f, &f.lastTTL))
		}
	}
	if ok, err := reg.LockItem(ctx, ref, "other", 0); err != nil || ok {
		t.Fatalf("LockItem(other) = %v, %v; want false, nil", ok, err)
	}
	if err := reg.UnlockItem(ctx, ref, "mine"); err != nil {
		t.Fatalf("UnlockItem: %v", err)
	}

	for _, now := range []time.Time{{}, ts(30)} {
		exp, err := reg.Sweep(ctx, now)
		if err != nil {
			t.Fatalf("Sweep: %v", err)
		}
		if !seen(f, &f.lastNow).Equal(now) || seen(f, &f.lastNow).IsZero() != now.IsZero() {
			t.Fatalf("Sweep(%v): backend saw %v", now, seen(f, &f.lastNow))
		}
		mustEqual(t, "Expired", exp, abi.Expired{Pages: []string{"p1"}, Connections: []string{"c1", "c2"}, Users: []string{"u1"}})
	}

	c, err := reg.Counters(ctx)
	if err != nil {
		t.Fatalf("Counters: %v", err)
	}
	mustEqual(t, "Counters", c, abi.Counters{Users: 3, Connections: 5, Pages: 8})
}

func TestUnlockHeldOverGRPC(t *testing.T) {
	reg, _, _ := connect(t, newFake())
	err := reg.UnlockItem(t.Context(), abi.ItemRef{Register: abi.RegisterPage, ID: "p"}, "other")
	if !errors.Is(err, abi.ErrLockHeld) {
		t.Fatalf("UnlockItem(other) = %v, want ErrLockHeld", err)
	}
}
