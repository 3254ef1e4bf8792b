package registrytest

import (
	"encoding/json"
	"testing"

	"github.com/gnrhost/gnrhost/abi"
)

func testStore(t *testing.T, reg abi.Registry, _ Options) {
	ctx := t.Context()
	seed(t, reg)
	// Every register has a store, the global item's included.
	for _, ref := range []abi.ItemRef{userRef("alice"), connRef("c1"), pageRef("p1"), globalRef} {
		what := string(ref.Register) + " " + ref.ID
		if _, ok, err := reg.GetData(ctx, ref, "x"); err != nil || ok {
			t.Errorf("%s: GetData(unset) = ok %v, err %v; want not ok, no error", what, ok, err)
		}
		must(t, reg.SetData(ctx, ref, "x", json.RawMessage(`{"n": 1}`)), what+": SetData x")
		must(t, reg.SetData(ctx, ref, "x", json.RawMessage(`{"n": 2}`)), what+": SetData x again")
		must(t, reg.SetData(ctx, ref, "a.b", json.RawMessage(`[1, "two", null]`)), what+": SetData a.b")
		must(t, reg.SetData(ctx, ref, "a", json.RawMessage(`null`)), what+": SetData a")

		v, ok, err := reg.GetData(ctx, ref, "x")
		must(t, err, what+": GetData x")
		if !ok {
			t.Errorf("%s: GetData(x) not found after SetData", what)
		}
		wantJSON(t, v, json.RawMessage(`{"n":2}`), what+": GetData(x) after overwrite")
		v, ok, err = reg.GetData(ctx, ref, "a")
		must(t, err, what+": GetData a")
		if !ok {
			t.Errorf("%s: GetData(a) set to null reports unset", what)
		}
		wantJSON(t, v, json.RawMessage(`null`), what+": GetData(a)")

		keys, err := reg.DataKeys(ctx, ref)
		must(t, err, what+": DataKeys")
		wantStrings(t, keys, []string{"a", "a.b", "x"}, what+": DataKeys")

		must(t, reg.DeleteData(ctx, ref, "x"), what+": DeleteData x")
		must(t, reg.DeleteData(ctx, ref, "x"), what+": DeleteData x again (unset path)")
		must(t, reg.DeleteData(ctx, ref, "never.set"), what+": DeleteData never set")
		if _, ok, err := reg.GetData(ctx, ref, "x"); err != nil || ok {
			t.Errorf("%s: GetData(deleted) = ok %v, err %v", what, ok, err)
		}
		// Deleting "a" is not a subtree delete: store paths are flat keys.
		must(t, reg.DeleteData(ctx, ref, "a"), what+": DeleteData a")
		store, err := reg.GetStore(ctx, ref)
		must(t, err, what+": GetStore")
		wantStore(t, store, map[string]json.RawMessage{"a.b": json.RawMessage(`[1,"two",null]`)}, what+": GetStore")
	}
	// Stores are per item.
	keys, err := reg.DataKeys(ctx, pageRef("p2"))
	must(t, err, "DataKeys p2")
	wantStrings(t, keys, nil, "store of an untouched page")
}

func testStoreCopies(t *testing.T, reg abi.Registry, _ Options) {
	ctx := t.Context()
	data := map[string]json.RawMessage{"a": json.RawMessage(`"aaa"`)}
	must(t, reg.AddItem(ctx, abi.Item{Register: abi.RegisterPage, ID: "p1", SubscribedTables: []string{"t.one"}, Data: data}), "AddItem")
	ref := pageRef("p1")
	// Mutating what was passed in must not reach the registry.
	data["a"][1] = 'X'
	data["b"] = json.RawMessage(`1`)

	buf := json.RawMessage(`"bbb"`)
	must(t, reg.SetData(ctx, ref, "b", buf), "SetData")
	buf[1] = 'X'

	want := map[string]json.RawMessage{"a": json.RawMessage(`"aaa"`), "b": json.RawMessage(`"bbb"`)}
	store, err := reg.GetStore(ctx, ref)
	must(t, err, "GetStore")
	wantStore(t, store, want, "store after mutating inputs")

	// Mutating what came out must not reach the registry either.
	store["a"][1] = 'Y'
	store["c"] = json.RawMessage(`3`)
	delete(store, "b")
	v, _, err := reg.GetData(ctx, ref, "b")
	must(t, err, "GetData")
	v[1] = 'Y'
	it, err := reg.GetItem(ctx, ref, true)
	must(t, err, "GetItem")
	it.Data["a"][1] = 'Z'
	it.Data["d"] = json.RawMessage(`4`)
	if len(it.SubscribedTables) > 0 {
		it.SubscribedTables[0] = "mutated"
	}
	items, err := reg.Items(ctx, abi.RegisterPage, abi.ItemFilter{})
	must(t, err, "Items")
	if len(items) > 0 && len(items[0].SubscribedTables) > 0 {
		items[0].SubscribedTables[0] = "mutated"
	}
	store, err = reg.GetStore(ctx, ref)
	must(t, err, "GetStore")
	wantStore(t, store, want, "store after mutating outputs")
	it, err = reg.GetItem(ctx, ref, false)
	must(t, err, "GetItem")
	wantStrings(t, it.SubscribedTables, []string{"t.one"}, "SubscribedTables after mutating outputs")

	repl := map[string]json.RawMessage{"r": json.RawMessage(`"rrr"`)}
	must(t, reg.ReplaceStore(ctx, ref, repl), "ReplaceStore")
	repl["r"][1] = 'X'
	repl["s"] = json.RawMessage(`1`)
	store, err = reg.GetStore(ctx, ref)
	must(t, err, "GetStore")
	wantStore(t, store, map[string]json.RawMessage{"r": json.RawMessage(`"rrr"`)}, "store after mutating ReplaceStore's input")

	// Datachanges: attributes and values in and out.
	attrs := map[string]string{"k": "v"}
	val := json.RawMessage(`"vvv"`)
	_, err = reg.AppendDatachange(ctx, ref, abi.Datachange{Path: "p", Value: val, Attributes: attrs})
	must(t, err, "AppendDatachange")
	attrs["k"] = "changed"
	attrs["extra"] = "x"
	val[1] = 'X'
	changes, err := reg.Datachanges(ctx, ref, false)
	must(t, err, "Datachanges")
	if len(changes) == 1 {
		changes[0].Attributes["k"] = "changed again"
		changes[0].Value[1] = 'Y'
	}
	changes, err = reg.Datachanges(ctx, ref, false)
	must(t, err, "Datachanges")
	if len(changes) != 1 {
		t.Fatalf("got %d datachanges, want 1", len(changes))
	}
	if len(changes[0].Attributes) != 1 || changes[0].Attributes["k"] != "v" {
		t.Errorf("datachange attributes = %v, want map[k:v]", changes[0].Attributes)
	}
	wantJSON(t, changes[0].Value, json.RawMessage(`"vvv"`), "datachange value")
}

func testReplaceStore(t *testing.T, reg abi.Registry, _ Options) {
	ctx := t.Context()
	ref := addPage(t, reg, "p1")
	must(t, reg.SetData(ctx, ref, "a", json.RawMessage(`1`)), "SetData a")
	must(t, reg.SetData(ctx, ref, "b", json.RawMessage(`2`)), "SetData b")
	want := map[string]json.RawMessage{"b": json.RawMessage(`"new b"`), "c.d": json.RawMessage(`{"x":[1,2]}`)}
	must(t, reg.ReplaceStore(ctx, ref, want), "ReplaceStore")
	store, err := reg.GetStore(ctx, ref)
	must(t, err, "GetStore")
	wantStore(t, store, want, "store after ReplaceStore")
	if _, ok, err := reg.GetData(ctx, ref, "a"); err != nil || ok {
		t.Errorf("GetData(a) after ReplaceStore without a = ok %v, err %v", ok, err)
	}
	keys, err := reg.DataKeys(ctx, ref)
	must(t, err, "DataKeys")
	wantStrings(t, keys, []string{"b", "c.d"}, "DataKeys after ReplaceStore")

	must(t, reg.ReplaceStore(ctx, ref, nil), "ReplaceStore(nil)")
	keys, err = reg.DataKeys(ctx, ref)
	must(t, err, "DataKeys")
	wantStrings(t, keys, nil, "DataKeys after ReplaceStore(nil)")
}
