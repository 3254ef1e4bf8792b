package pagerpc

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/gnrhost/gnrhost/abi"
	"github.com/gnrhost/gnrhost/abi/wasmabi"
)

func newTestPage(store map[string]json.RawMessage, features uint64) *Page {
	return NewPage(context.Background(), abi.PageCall{Entry: abi.PageEntryRPC, Store: store}, newFakeHost("h"), features)
}

// The store overlay: writes and deletes are seen at once by the rest of the call, the
// snapshot is untouched, and every write is recorded in order.
func TestPageStoreOverlay(t *testing.T) {
	snap := map[string]json.RawMessage{"a": []byte("1"), "b": []byte("2")}
	p := newTestPage(snap, 0)
	mustNil(t, p.StoreSet("c", 3))
	mustNil(t, p.StoreDelete("a"))
	mustNil(t, p.StoreSet("b", json.RawMessage(`{ "x" : 1 }`)))
	mustNil(t, p.StoreDelete("c"))
	mustNil(t, p.StoreDelete("never")) // no error, no change
	mustNil(t, p.StoreSet("a", "again"))

	mustEqual(t, "keys", p.StoreKeys(), []string{"a", "b"})
	if v, ok := p.StoreGetRaw("b"); !ok || string(v) != `{"x":1}` {
		t.Fatalf("b = %s, %v", v, ok)
	}
	if _, ok := p.StoreGetRaw("c"); ok {
		t.Fatal("c still set after delete")
	}
	var s string
	if ok, err := p.StoreGet("a", &s); !ok || err != nil || s != "again" {
		t.Fatalf("a = %q, %v, %v", s, ok, err)
	}
	mustEqual(t, "snapshot", snap, map[string]json.RawMessage{"a": []byte("1"), "b": []byte("2")})
	mustEqual(t, "changes", p.Result().Changes, []abi.PageStoreChange{
		{Key: "c", Value: []byte("3")},
		{Key: "a", Delete: true},
		{Key: "b", Value: []byte(`{"x":1}`)},
		{Key: "c", Delete: true},
		{Key: "a", Value: []byte(`"again"`)},
	})
}

// The page ABI's rules are checked where the author breaks them.
func TestPageLimits(t *testing.T) {
	p := newTestPage(nil, 0)
	is := func(what string, err, want error) {
		t.Helper()
		if !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", what, err, want)
		}
	}
	is("empty key", p.StoreSet("", 1), abi.ErrInvalid)
	is("control char", p.StoreSet("a\nb", 1), abi.ErrInvalid)
	is("long key", p.StoreSet(strings.Repeat("k", wasmabi.MaxKeyBytes+1), 1), abi.ErrInvalid)
	is("unencodable", p.StoreSet("k", make(chan int)), abi.ErrInvalid)
	is("bad raw JSON", p.StoreSet("k", json.RawMessage("{bad")), abi.ErrInvalid)
	is("big value", p.StoreSet("k", strings.Repeat("x", wasmabi.MaxValueBytes)), abi.ErrTooLarge)
	is("push without feature", p.Push(1), abi.ErrNotPermitted)
	is("bad table", p.Subscribe("notatable"), abi.ErrInvalid)
	is("bad publish table", p.Publish("x", DBEvent{}), abi.ErrInvalid)
	is("event not an object", p.Publish("t.x", []int{1}), abi.ErrInvalid)
	is("big reply", p.Reply(make([]byte, wasmabi.MaxReplyBytes+1)), abi.ErrTooLarge)
	is("user key", p.UserSet("", 1), abi.ErrInvalid)

	// The whole store stays within its 8 MiB.
	big := strings.Repeat("x", wasmabi.MaxValueBytes-16)
	var err error
	for i := 0; err == nil && i < 10; i++ {
		err = p.StoreSet(string(rune('a'+i)), big)
	}
	is("store total", err, abi.ErrTooLarge)
	mustNil(t, p.StoreSet("a", 1)) // replacing a big value makes room again

	p = newTestPage(nil, wasmabi.FeaturePush)
	for range wasmabi.MaxPushesPerCall {
		mustNil(t, p.Push(map[string]int{}))
	}
	is("too many pushes", p.Push(1), abi.ErrTooLarge)
	is("big push", newTestPage(nil, wasmabi.FeaturePush).Push(strings.Repeat("x", wasmabi.MaxPushBytes)), abi.ErrTooLarge)
	for range wasmabi.MaxPublishPerCall {
		mustNil(t, p.Publish("t.x", DBEvent{Action: "I"}))
	}
	is("too many publishes", p.Publish("t.x", DBEvent{}), abi.ErrTooLarge)
}

func TestPageErrorDropsTheRest(t *testing.T) {
	p := newTestPage(nil, wasmabi.FeaturePush)
	mustNil(t, p.StoreSet("k", 1))
	mustNil(t, p.Push(1))
	p.Error("not_found", "no <such> thing")
	mustEqual(t, "result", p.Result(), abi.PageResult{
		Status: wasmabi.StatusError,
		Reply:  []byte(`{"code":"not_found","message":"no <such> thing"}`),
	})
}

// Marshal writes what the WASM SDKs write: no HTML escaping, raw line separators.
func TestMarshalLikeTheSDKs(t *testing.T) {
	b, err := Marshal(map[string]string{"t": "<a&b>\u2028\u2029\n\"\\u2028"})
	mustNil(t, err)
	if want := "{\"t\":\"<a&b>\u2028\u2029\\n\\\"\\\\u2028\"}"; string(b) != want {
		t.Fatalf("Marshal = %s, want %s", b, want)
	}
}

func TestQuery(t *testing.T) {
	p := NewPage(context.Background(), abi.PageCall{Entry: abi.PageEntryLoad, Input: []byte(`{"query":{"q":"v"}}`)}, newFakeHost("h"), 0)
	if p.Query("q") != "v" || p.Query("x") != "" {
		t.Fatalf("Query: %q %q", p.Query("q"), p.Query("x"))
	}
}

func mustNil(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
