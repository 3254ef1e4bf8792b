package wasm

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gnrhost/gnrhost/abi/wasmabi"
)

// A call is stopped when its caller gives up, not only at the module's timeout: the
// watchdog looks at the caller's context too.
func TestCallerCancelStopsCall(t *testing.T) {
	m := mustLoad(t, guest, Config{Timeout: 30 * time.Second, Instances: 1})
	h := newFakeHost()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err := m.Call(ctx, &Call{Entry: EntryRPC, Method: "loop", Input: []byte(`{}`), Host: h})
	wantKind(t, err, KindTimeout)
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("canceled call stopped after %s", took)
	}
	// A caller whose deadline comes before the module's timeout: that deadline counts.
	ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start = time.Now()
	_, err = m.Call(ctx, &Call{Entry: EntryRPC, Method: "loop", Input: []byte(`{}`), Host: h})
	wantKind(t, err, KindTimeout)
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("call past its caller's deadline stopped after %s", took)
	}
	// A context already done: the call does not start (busy or timeout, whichever the
	// pool sees first), and the instance stays usable.
	_, err = m.Call(ctx, &Call{Entry: EntryRPC, Method: "echo", Input: []byte(`{}`), Host: h})
	var ce *CallError
	if !errors.As(err, &ce) || (ce.Kind != KindBusy && ce.Kind != KindTimeout) {
		t.Fatalf("call with a done context: %v", err)
	}
	if res, err := rpc(m, h, "echo", `{"ok":1}`); err != nil || string(res.Reply) != `{"ok":1}` {
		t.Fatalf("after the stopped calls: %v %+v", err, res)
	}
}

// The watchdog sleeps once calls stop (an idle host does not tick) and wakes for the
// next call, whose deadline it still enforces.
func TestWatchdogSleepsAndWakes(t *testing.T) {
	m := mustLoad(t, guest, Config{Timeout: 100 * time.Millisecond, Instances: 2})
	h := newFakeHost()
	for range 100 {
		if _, err := rpc(m, h, "echo", `{}`); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for !m.sleeping.Load() {
		if time.Now().After(deadline) {
			t.Fatal("the watchdog kept ticking with no call running")
		}
		time.Sleep(5 * time.Millisecond)
	}
	start := time.Now()
	_, err := rpc(m, h, "loop", `{}`)
	wantKind(t, err, KindTimeout)
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("loop after the watchdog slept stopped after %s", took)
	}
}

// An instance the watchdog stopped is never reused, even when its call had just
// returned: its kill channel is closed for good.
func TestWatchKillDiscardsInstance(t *testing.T) {
	w := newWatch()
	w.begin(context.Background(), time.Now().Add(time.Hour))
	w.expire(time.Now())
	if w.end() != notKilled {
		t.Fatal("a call within its deadline was stopped")
	}
	w.begin(context.Background(), time.Now().Add(-time.Millisecond))
	w.expire(time.Now())
	select {
	case <-w.kill:
	default:
		t.Fatal("kill channel open after the deadline passed")
	}
	if w.err() != context.DeadlineExceeded || w.end() != killedDeadline {
		t.Fatal("a stopped call does not say why")
	}
	w.expire(time.Now()) // idle: nothing to stop, and no second close

	// A call stopped because its caller gave up says so, also when asked after it ended
	// (wazero's watcher goroutine may ask late).
	c := newWatch()
	ctx, cancel := context.WithCancel(context.Background())
	c.begin(ctx, time.Now().Add(time.Hour))
	cancel()
	c.expire(time.Now())
	if c.end() != killedCanceled || !errors.Is(c.err(), context.Canceled) {
		t.Fatalf("canceled call: %v", c.err())
	}
}

// sharedGuest enables SHARED_EVENTS. Its event entry tries every page-specific function
// and fails (status 1) if any of them is allowed; then it stores and pushes its input.
// Its rpc entry checks that page_info works there (status 2 when it does not).
const sharedGuest = `(module
  (import "gnr" "input" (func $input (param i32 i32) (result i32)))
  (import "gnr" "page_info" (func $page_info (param i32 i32) (result i32)))
  (import "gnr" "store_get" (func $store_get (param i32 i32 i32 i32) (result i32)))
  (import "gnr" "store_keys" (func $store_keys (param i32 i32) (result i32)))
  (import "gnr" "store_set" (func $store_set (param i32 i32 i32 i32) (result i32)))
  (import "gnr" "user_get" (func $user_get (param i32 i32 i32 i32) (result i32)))
  (import "gnr" "user_set" (func $user_set (param i32 i32 i32 i32) (result i32)))
  (import "gnr" "global_get" (func $global_get (param i32 i32 i32 i32) (result i32)))
  (import "gnr" "global_set" (func $global_set (param i32 i32 i32 i32) (result i32)))
  (import "gnr" "push" (func $push (param i32 i32) (result i32)))
  (import "gnr" "publish" (func $publish (param i32 i32 i32 i32) (result i32)))
  (import "gnr" "subscribe" (func $subscribe (param i32 i32) (result i32)))
  (import "gnr" "unsubscribe" (func $unsubscribe (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "k")
  (data (i32.const 20) "t.x")
  (data (i32.const 24) "{\"action\":\"I\"}")
  (data (i32.const 40) "1")
  (func (export "gnr_abi_v1"))
  (func (export "gnr_features") (param i64) (result i64) (i64.and (local.get 0) (i64.const 13)))
  (func (export "gnr_page_load") (result i32) (i32.const 0))
  (func (export "gnr_page_rpc") (result i32)
    (if (i32.lt_s (call $page_info (i32.const 1024) (i32.const 512)) (i32.const 0)) (then (return (i32.const 2))))
    (i32.const 0))
  (func (export "gnr_page_event") (result i32)
    (local $n i32)
    (if (i32.ne (call $page_info (i32.const 1024) (i32.const 512)) (i32.const -4)) (then (return (i32.const 1))))
    (if (i32.ne (call $store_get (i32.const 16) (i32.const 1) (i32.const 1024) (i32.const 512)) (i32.const -4)) (then (return (i32.const 1))))
    (if (i32.ne (call $store_keys (i32.const 1024) (i32.const 512)) (i32.const -4)) (then (return (i32.const 1))))
    (if (i32.ne (call $user_get (i32.const 16) (i32.const 1) (i32.const 1024) (i32.const 512)) (i32.const -4)) (then (return (i32.const 1))))
    (if (i32.ne (call $user_set (i32.const 16) (i32.const 1) (i32.const 40) (i32.const 1)) (i32.const -4)) (then (return (i32.const 1))))
    (if (i32.ne (call $global_set (i32.const 16) (i32.const 1) (i32.const 40) (i32.const 1)) (i32.const -4)) (then (return (i32.const 1))))
    (if (i32.ne (call $publish (i32.const 20) (i32.const 3) (i32.const 24) (i32.const 14)) (i32.const -4)) (then (return (i32.const 1))))
    (if (i32.ne (call $subscribe (i32.const 20) (i32.const 3)) (i32.const -4)) (then (return (i32.const 1))))
    (if (i32.ne (call $unsubscribe (i32.const 20) (i32.const 3)) (i32.const -4)) (then (return (i32.const 1))))
    ;; global_get is allowed: "k" is unset in the fake host
    (if (i32.ne (call $global_get (i32.const 16) (i32.const 1) (i32.const 1024) (i32.const 512)) (i32.const -1)) (then (return (i32.const 1))))
    (local.set $n (call $input (i32.const 2048) (i32.const 4096)))
    (drop (call $store_set (i32.const 16) (i32.const 1) (i32.const 2048) (local.get $n)))
    (drop (call $push (i32.const 2048) (local.get $n)))
    (i32.const 0))
)`

func TestSharedEventsFeature(t *testing.T) {
	m := mustLoad(t, sharedGuest, Config{})
	if want := wasmabi.FeatureEvents | wasmabi.FeaturePush | wasmabi.FeatureSharedEvents; !m.SharedEvents() || m.Features() != want {
		t.Fatalf("features %b, SharedEvents %v", m.Features(), m.SharedEvents())
	}
	h := newFakeHost()
	in := `{"kind":"dbevent","table":"t.x"}`
	res, err := m.Call(context.Background(), &Call{Entry: EntryEvent, Input: []byte(in), Host: h})
	if err != nil || res.Status != 0 {
		t.Fatalf("shared event: %v %+v (status 1: a page-specific function was allowed)", err, res)
	}
	if len(res.Pushes) != 1 || string(res.Pushes[0]) != in || len(res.Changes) != 1 || len(res.Publishes) != 0 || len(res.Tables) != 0 {
		t.Fatalf("shared event effects %+v", res)
	}
	// Outside the event entry the page-specific functions work as usual.
	if res, err := rpc(m, h, "x", `{}`); err != nil || res.Status != 0 {
		t.Fatalf("rpc: %v %+v", err, res)
	}

	e, err := NewEngine("")
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(context.Background())
	noEvents := strings.Replace(sharedGuest, `(i64.const 13)`, `(i64.const 12)`, 1)
	if _, err := load(t, e, noEvents, Config{Name: "bad.wasm"}); err == nil || !strings.Contains(err.Error(), "SHARED_EVENTS without EVENTS") {
		t.Fatalf("SHARED_EVENTS without EVENTS: %v", err)
	}
	// Without gnr_features the host never turns it on by itself.
	m2, err := load(t, e, guest, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close(context.Background())
	if m2.SharedEvents() {
		t.Fatal("SHARED_EVENTS enabled for a module that did not ask")
	}
}
