package registrytest

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/gnrhost/gnrhost/abi"
)

// itemOp is one per-item method, called with arguments valid in every respect but the ref.
type itemOp struct {
	name string
	call func(ctx context.Context, reg abi.Registry, ref abi.ItemRef) error
}

func itemOps() []itemOp {
	return []itemOp{
		{"GetItem", func(ctx context.Context, reg abi.Registry, ref abi.ItemRef) error {
			_, err := reg.GetItem(ctx, ref, true)
			return err
		}},
		{"DropItem", func(ctx context.Context, reg abi.Registry, ref abi.ItemRef) error {
			return reg.DropItem(ctx, ref, false)
		}},
		{"DropItem(cascade)", func(ctx context.Context, reg abi.Registry, ref abi.ItemRef) error {
			return reg.DropItem(ctx, ref, true)
		}},
		{"Touch", func(ctx context.Context, reg abi.Registry, ref abi.ItemRef) error {
			return reg.Touch(ctx, ref, abi.RefreshUser)
		}},
		{"GetData", func(ctx context.Context, reg abi.Registry, ref abi.ItemRef) error {
			_, _, err := reg.GetData(ctx, ref, "a")
			return err
		}},
		{"SetData", func(ctx context.Context, reg abi.Registry, ref abi.ItemRef) error {
			return reg.SetData(ctx, ref, "a", json.RawMessage(`1`))
		}},
		{"DeleteData", func(ctx context.Context, reg abi.Registry, ref abi.ItemRef) error {
			return reg.DeleteData(ctx, ref, "a")
		}},
		{"DataKeys", func(ctx context.Context, reg abi.Registry, ref abi.ItemRef) error {
			_, err := reg.DataKeys(ctx, ref)
			return err
		}},
		{"GetStore", func(ctx context.Context, reg abi.Registry, ref abi.ItemRef) error {
			_, err := reg.GetStore(ctx, ref)
			return err
		}},
		{"ReplaceStore", func(ctx context.Context, reg abi.Registry, ref abi.ItemRef) error {
			return reg.ReplaceStore(ctx, ref, map[string]json.RawMessage{"a": json.RawMessage(`1`)})
		}},
		{"AppendDatachange", func(ctx context.Context, reg abi.Registry, ref abi.ItemRef) error {
			_, err := reg.AppendDatachange(ctx, ref, abi.Datachange{Path: "a", Value: json.RawMessage(`1`)})
			return err
		}},
		{"Datachanges", func(ctx context.Context, reg abi.Registry, ref abi.ItemRef) error {
			_, err := reg.Datachanges(ctx, ref, false)
			return err
		}},
		{"Datachanges(reset)", func(ctx context.Context, reg abi.Registry, ref abi.ItemRef) error {
			_, err := reg.Datachanges(ctx, ref, true)
			return err
		}},
		{"DropDatachanges", func(ctx context.Context, reg abi.Registry, ref abi.ItemRef) error {
			return reg.DropDatachanges(ctx, ref, "a")
		}},
		{"SubscribePath", func(ctx context.Context, reg abi.Registry, ref abi.ItemRef) error {
			return reg.SubscribePath(ctx, ref, "a", true)
		}},
		{"SubscribedPaths", func(ctx context.Context, reg abi.Registry, ref abi.ItemRef) error {
			_, err := reg.SubscribedPaths(ctx, ref)
			return err
		}},
		{"LockItem", func(ctx context.Context, reg abi.Registry, ref abi.ItemRef) error {
			_, err := reg.LockItem(ctx, ref, "r", 0)
			return err
		}},
		{"UnlockItem", func(ctx context.Context, reg abi.Registry, ref abi.ItemRef) error {
			return reg.UnlockItem(ctx, ref, "r")
		}},
	}
}

func testNotFound(t *testing.T, reg abi.Registry, _ Options) {
	ctx := t.Context()
	seed(t, reg)
	for _, ref := range []abi.ItemRef{userRef("nobody"), connRef("nowhere"), pageRef("nopage")} {
		wantExists(t, reg, ref, false)
		for _, op := range itemOps() {
			wantErr(t, op.call(ctx, reg, ref), abi.ErrNotFound, op.name+"("+string(ref.Register)+" "+ref.ID+")")
		}
	}
	wantErr(t, reg.SubscribeTable(ctx, "nopage", "todo.item", true), abi.ErrNotFound, "SubscribeTable(missing page)")
	wantErr(t, reg.SubscribeTable(ctx, "c1", "todo.item", true), abi.ErrNotFound, "SubscribeTable(a connection id)")
	_, err := reg.GetItem(ctx, abi.ItemRef{Register: abi.RegisterGlobal, ID: "other"}, false)
	wantErr(t, err, abi.ErrNotFound, "GetItem(global other)")

	// Nothing above created anything.
	keys, err := reg.Keys(ctx, abi.RegisterPage)
	must(t, err, "Keys(page)")
	wantStrings(t, keys, []string{"p1", "p2", "p3", "p4"}, "pages after failed calls")
}

func testInvalidArguments(t *testing.T, reg abi.Registry, _ Options) {
	ctx := t.Context()
	ref := addPage(t, reg, "p1")
	bad := []abi.ItemRef{
		{Register: "bogus", ID: "p1"},
		{Register: "", ID: "p1"},
		{Register: abi.RegisterPage, ID: ""},
		{Register: abi.RegisterUser, ID: ""},
	}
	for _, b := range bad {
		what := "(" + string(b.Register) + " " + b.ID + ")"
		for _, op := range itemOps() {
			wantErr(t, op.call(ctx, reg, b), abi.ErrInvalid, op.name+what)
		}
		_, err := reg.Exists(ctx, b)
		wantErr(t, err, abi.ErrInvalid, "Exists"+what)
		wantErr(t, reg.AddItem(ctx, abi.Item{Register: b.Register, ID: b.ID}), abi.ErrInvalid, "AddItem"+what)
	}
	_, err := reg.Keys(ctx, "bogus")
	wantErr(t, err, abi.ErrInvalid, "Keys(bogus)")
	_, err = reg.Items(ctx, "bogus", abi.ItemFilter{})
	wantErr(t, err, abi.ErrInvalid, "Items(bogus)")

	// Empty store paths.
	_, _, err = reg.GetData(ctx, ref, "")
	wantErr(t, err, abi.ErrInvalid, "GetData(empty path)")
	wantErr(t, reg.SetData(ctx, ref, "", json.RawMessage(`1`)), abi.ErrInvalid, "SetData(empty path)")
	wantErr(t, reg.DeleteData(ctx, ref, ""), abi.ErrInvalid, "DeleteData(empty path)")
	wantErr(t, reg.SubscribePath(ctx, ref, "", true), abi.ErrInvalid, "SubscribePath(empty path)")
	_, err = reg.AppendDatachange(ctx, ref, abi.Datachange{Path: ""})
	wantErr(t, err, abi.ErrInvalid, "AppendDatachange(empty path)")
	wantErr(t, reg.ReplaceStore(ctx, ref, map[string]json.RawMessage{"": json.RawMessage(`1`)}), abi.ErrInvalid, "ReplaceStore(empty path)")

	// Values that are not JSON.
	for _, v := range []json.RawMessage{nil, json.RawMessage(``), json.RawMessage(`{`), json.RawMessage(`hello`)} {
		wantErr(t, reg.SetData(ctx, ref, "a", v), abi.ErrInvalid, "SetData("+string(v)+")")
		wantErr(t, reg.ReplaceStore(ctx, ref, map[string]json.RawMessage{"a": v}), abi.ErrInvalid, "ReplaceStore("+string(v)+")")
	}
	_, err = reg.AppendDatachange(ctx, ref, abi.Datachange{Path: "a", Value: json.RawMessage(`{`)})
	wantErr(t, err, abi.ErrInvalid, "AppendDatachange(bad value)")
	err = reg.AddItem(ctx, abi.Item{Register: abi.RegisterPage, ID: "p2", Data: map[string]json.RawMessage{"a": json.RawMessage(`{`)}})
	wantErr(t, err, abi.ErrInvalid, "AddItem(bad Data)")
	wantExists(t, reg, pageRef("p2"), false)
	_, err = reg.NotifyDbEvents(ctx, []abi.DbEvent{{Table: "todo.item", Data: json.RawMessage(`{`)}}, "", "")
	wantErr(t, err, abi.ErrInvalid, "NotifyDbEvents(bad data)")
	_, err = reg.NotifyDbEvents(ctx, []abi.DbEvent{{Table: ""}}, "", "")
	wantErr(t, err, abi.ErrInvalid, "NotifyDbEvents(empty table)")

	// Tables, lock reasons, refresh kinds.
	wantErr(t, reg.SubscribeTable(ctx, "p1", "", true), abi.ErrInvalid, "SubscribeTable(empty table)")
	wantErr(t, reg.SubscribeTable(ctx, "", "todo.item", true), abi.ErrInvalid, "SubscribeTable(empty page)")
	_, err = reg.SubscribedPages(ctx, "")
	wantErr(t, err, abi.ErrInvalid, "SubscribedPages(empty table)")
	_, err = reg.LockItem(ctx, ref, "", 0)
	wantErr(t, err, abi.ErrInvalid, "LockItem(empty reason)")
	wantErr(t, reg.UnlockItem(ctx, ref, ""), abi.ErrInvalid, "UnlockItem(empty reason)")
	wantErr(t, reg.Touch(ctx, ref, abi.RefreshKind(42)), abi.ErrInvalid, "Touch(unknown kind)")

	// None of it touched the store.
	keys, err := reg.DataKeys(ctx, ref)
	must(t, err, "DataKeys")
	wantStrings(t, keys, nil, "store after invalid calls")
}

func testContextCancelled(t *testing.T, reg abi.Registry, _ Options) {
	ref := addPage(t, reg, "p1")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	calls := map[string]error{
		"Ping":    reg.Ping(ctx),
		"AddItem": reg.AddItem(ctx, abi.Item{Register: abi.RegisterPage, ID: "p2"}),
		"SetData": reg.SetData(ctx, ref, "a", json.RawMessage(`1`)),
	}
	_, calls["GetItem"] = reg.GetItem(ctx, ref, false)
	_, calls["Keys"] = reg.Keys(ctx, abi.RegisterPage)
	_, calls["NotifyDbEvents"] = reg.NotifyDbEvents(ctx, []abi.DbEvent{{Table: "t.t"}}, "", "")
	_, calls["WatchDbEvents"] = reg.WatchDbEvents(ctx)
	_, calls["Sweep"] = reg.Sweep(ctx, farFuture())
	for name, err := range calls {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: got %v, want an error matching context.Canceled", name, err)
		}
	}
	wantExists(t, reg, pageRef("p2"), false)
	wantExists(t, reg, ref, true)
	_, ok, err := reg.GetData(t.Context(), ref, "a")
	must(t, err, "GetData")
	if ok {
		t.Error("SetData with a cancelled context stored its value")
	}
}

func testClose(t *testing.T, reg abi.Registry, _ Options) {
	ctx := t.Context()
	ref := addPage(t, reg, "p1")
	ch, err := reg.WatchDbEvents(ctx)
	must(t, err, "WatchDbEvents")
	must(t, reg.Close(), "Close")
	awaitClosed(t, ch, "watcher after Close")

	wantErr(t, reg.Ping(ctx), abi.ErrUnavailable, "Ping after Close")
	_, err = reg.GetItem(ctx, ref, false)
	wantErr(t, err, abi.ErrUnavailable, "GetItem after Close")
	wantErr(t, reg.AddItem(ctx, abi.Item{Register: abi.RegisterPage, ID: "p2"}), abi.ErrUnavailable, "AddItem after Close")
	wantErr(t, reg.SetData(ctx, ref, "a", json.RawMessage(`1`)), abi.ErrUnavailable, "SetData after Close")
	_, err = reg.WatchDbEvents(ctx)
	wantErr(t, err, abi.ErrUnavailable, "WatchDbEvents after Close")
	_, err = reg.NotifyDbEvents(ctx, []abi.DbEvent{{Table: "t.t"}}, "", "")
	wantErr(t, err, abi.ErrUnavailable, "NotifyDbEvents after Close")
	_, err = reg.Counters(ctx)
	wantErr(t, err, abi.ErrUnavailable, "Counters after Close")
}
