package registrytest

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/gnrhost/gnrhost/abi"
)

func userRef(id string) abi.ItemRef { return abi.ItemRef{Register: abi.RegisterUser, ID: id} }
func connRef(id string) abi.ItemRef { return abi.ItemRef{Register: abi.RegisterConnection, ID: id} }
func pageRef(id string) abi.ItemRef { return abi.ItemRef{Register: abi.RegisterPage, ID: id} }

var globalRef = abi.ItemRef{Register: abi.RegisterGlobal, ID: abi.GlobalItemID}

func must(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: unexpected error: %v", what, err)
	}
}

func wantErr(t *testing.T, err, target error, what string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: got error %v, want one matching %q", what, err, target)
	}
}

// jsonEqual compares JSON by value, so a backend that re-encodes (an out-of-process one
// going through another language) is not failed for whitespace or key order.
func jsonEqual(a, b json.RawMessage) bool {
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}

func wantJSON(t *testing.T, got, want json.RawMessage, what string) {
	t.Helper()
	if !jsonEqual(got, want) {
		t.Errorf("%s: got JSON %s, want %s", what, got, want)
	}
}

func wantStore(t *testing.T, got, want map[string]json.RawMessage, what string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: got %d paths %v, want %d %v", what, len(got), storeKeys(got), len(want), storeKeys(want))
		return
	}
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("%s: path %q missing", what, k)
			continue
		}
		if !jsonEqual(g, w) {
			t.Errorf("%s: path %q = %s, want %s", what, k, g, w)
		}
	}
}

func storeKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// wantStrings compares string lists, treating nil and empty alike (a backend may return
// either for "none").
func wantStrings(t *testing.T, got, want []string, what string) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s: got %q, want %q", what, got, want)
	}
}

func itemIDs(items []abi.Item) []string {
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.ID
	}
	return ids
}

// wantIdentity compares the fields a caller sets; timestamps and Data are checked apart.
func wantIdentity(t *testing.T, got, want abi.Item) {
	t.Helper()
	type ident struct {
		Register                                            abi.RegisterName
		ID, User, UserID, UserName, UserTags                string
		ConnectionID, ConnectionName, PageName, RelativeURL string
		UserIP, UserAgent, BrowserName                      string
		Guest                                               bool
	}
	of := func(it abi.Item) ident {
		return ident{it.Register, it.ID, it.User, it.UserID, it.UserName, it.UserTags,
			it.ConnectionID, it.ConnectionName, it.PageName, it.RelativeURL,
			it.UserIP, it.UserAgent, it.BrowserName, it.Guest}
	}
	if g, w := of(got), of(want); g != w {
		t.Errorf("item %s %q identity:\n got  %+v\n want %+v", want.Register, want.ID, g, w)
	}
	wantStrings(t, got.SubscribedTables, want.SubscribedTables, "SubscribedTables of "+want.ID)
}

// seed fills a registry with two users, three connections and four pages, added out of
// id order so sorted listings are really sorted by the backend:
//
//	alice: c1 (p1, p2), c2 (p3)
//	bob:   c3 (p4)
func seed(t *testing.T, reg abi.Registry) {
	t.Helper()
	ctx := t.Context()
	items := []abi.Item{
		{Register: abi.RegisterUser, ID: "bob", User: "bob", UserID: "u-bob", UserName: "Bob"},
		{Register: abi.RegisterUser, ID: "alice", User: "alice", UserID: "u-alice", UserName: "Alice", UserTags: "admin,user"},
		{Register: abi.RegisterConnection, ID: "c3", User: "bob", ConnectionName: "bob's"},
		{Register: abi.RegisterConnection, ID: "c1", User: "alice", ConnectionName: "alice one"},
		{Register: abi.RegisterConnection, ID: "c2", User: "alice", ConnectionName: "alice two"},
		{Register: abi.RegisterPage, ID: "p3", User: "alice", ConnectionID: "c2", PageName: "index"},
		{Register: abi.RegisterPage, ID: "p1", User: "alice", ConnectionID: "c1", PageName: "index"},
		{Register: abi.RegisterPage, ID: "p4", User: "bob", ConnectionID: "c3", PageName: "todo"},
		{Register: abi.RegisterPage, ID: "p2", User: "alice", ConnectionID: "c1", PageName: "todo"},
	}
	for _, it := range items {
		must(t, reg.AddItem(ctx, it), "seed: add "+string(it.Register)+" "+it.ID)
	}
}

// addPage adds a page with no connection, the smallest item that supports every per-item
// method.
func addPage(t *testing.T, reg abi.Registry, id string) abi.ItemRef {
	t.Helper()
	must(t, reg.AddItem(t.Context(), abi.Item{Register: abi.RegisterPage, ID: id, PageName: id}), "add page "+id)
	return pageRef(id)
}

func wantExists(t *testing.T, reg abi.Registry, ref abi.ItemRef, want bool) {
	t.Helper()
	ok, err := reg.Exists(t.Context(), ref)
	if err != nil {
		t.Errorf("Exists(%s %q): %v", ref.Register, ref.ID, err)
		return
	}
	if ok != want {
		t.Errorf("Exists(%s %q) = %v, want %v", ref.Register, ref.ID, ok, want)
	}
}

func recvNotice(t *testing.T, ch <-chan abi.DbEventNotice, what string) abi.DbEventNotice {
	t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	select {
	case n, ok := <-ch:
		if !ok {
			t.Fatalf("%s: watch channel closed, want a notice", what)
		}
		return n
	case <-timer.C:
		t.Fatalf("%s: no notice within %v", what, waitTimeout)
	}
	return abi.DbEventNotice{}
}

// awaitClosed drains ch until it is closed, failing after waitTimeout.
func awaitClosed(t *testing.T, ch <-chan abi.DbEventNotice, what string) {
	t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-timer.C:
			t.Fatalf("%s: watch channel not closed within %v", what, waitTimeout)
		}
	}
}

// clockPast waits until the wall clock is clearly after ts, so a timestamp set next is
// distinguishable from ts even on a backend with millisecond resolution. This is not
// synchronization: nothing else runs meanwhile.
func clockPast(ts time.Time) {
	if d := time.Until(ts.Add(2 * time.Millisecond)); d > 0 {
		time.Sleep(d)
	}
}

// wantEvents compares event lists; Data is compared as JSON.
func wantEvents(t *testing.T, got, want []abi.DbEvent, what string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: got %d events %+v, want %d", what, len(got), got, len(want))
		return
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Table != w.Table || g.Action != w.Action || g.PKey != w.PKey {
			t.Errorf("%s: event %d = %s/%s/%s, want %s/%s/%s", what, i, g.Table, g.Action, g.PKey, w.Table, w.Action, w.PKey)
		}
		wd, gd := w.Data, g.Data
		if len(wd) == 0 {
			wd = json.RawMessage("null")
		}
		if len(gd) == 0 {
			gd = json.RawMessage("null")
		}
		if !jsonEqual(gd, wd) {
			t.Errorf("%s: event %d data = %s, want %s", what, i, gd, wd)
		}
	}
}
