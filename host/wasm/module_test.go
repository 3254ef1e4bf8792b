package wasm

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/gnrhost/gnrhost/abi/wasmabi"
	"github.com/gnrhost/gnrhost/internal/testpeer"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeHost is an in-memory Host for runtime tests (the real one lives in package pages).
type fakeHost struct {
	mu     sync.Mutex
	store  map[string][]byte
	user   map[string][]byte
	global map[string][]byte
	logs   []string
}

func newFakeHost() *fakeHost {
	return &fakeHost{store: map[string][]byte{}, user: map[string][]byte{}, global: map[string][]byte{}}
}

func (h *fakeHost) PageInfo() []byte { return []byte(`{"page_id":"p1"}`) }
func (h *fakeHost) StoreGet(k string) ([]byte, bool) {
	v, ok := h.store[k]
	return v, ok
}
func (h *fakeHost) StoreKeys() []string {
	var ks []string
	for k := range h.store {
		ks = append(ks, k)
	}
	return ks
}
func (h *fakeHost) StoreBytes() int { return 0 }
func (h *fakeHost) UserGet(_ context.Context, k string) ([]byte, bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	v, ok := h.user[k]
	return v, ok, nil
}
func (h *fakeHost) UserSet(_ context.Context, k string, v []byte) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.user[k] = v
	return nil
}
func (h *fakeHost) GlobalGet(_ context.Context, k string) ([]byte, bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	v, ok := h.global[k]
	return v, ok, nil
}
func (h *fakeHost) GlobalSet(_ context.Context, k string, v []byte) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.global[k] = v
	return nil
}
func (h *fakeHost) Log(level int, msg string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.logs = append(h.logs, msg)
}

// A small but complete handler. rpc methods (by first byte of the method name):
//
//	"e" echo: reply the input
//	"s" set:  store "k" = input, push input, publish on t.x, subscribe t.x; ok
//	"f" fail: store "k" = 1, then status 1 with an error reply
//	"t" trap
//	"l" loop forever
//	"m" grow memory until refused, then trap
//	"o" reply with an out-of-bounds pointer
//	"g" get store "k" through a 1-byte buffer, retry with the returned size, reply it
const guest = `(module
  (import "gnr" "input" (func $input (param i32 i32) (result i32)))
  (import "gnr" "method" (func $method (param i32 i32) (result i32)))
  (import "gnr" "reply" (func $reply (param i32 i32) (result i32)))
  (import "gnr" "log" (func $log (param i32 i32 i32)))
  (import "gnr" "store_get" (func $store_get (param i32 i32 i32 i32) (result i32)))
  (import "gnr" "store_set" (func $store_set (param i32 i32 i32 i32) (result i32)))
  (import "gnr" "push" (func $push (param i32 i32) (result i32)))
  (import "gnr" "publish" (func $publish (param i32 i32 i32 i32) (result i32)))
  (import "gnr" "subscribe" (func $subscribe (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "<p>hi</p>")
  (data (i32.const 16) "k")
  (data (i32.const 20) "t.x")
  (data (i32.const 24) "{\"action\":\"I\"}")
  (data (i32.const 48) "{\"code\":\"nope\",\"message\":\"no\"}")
  (data (i32.const 96) "1")
  (data (i32.const 100) "loaded")
  (func (export "gnr_abi_v1"))
  (func (export "gnr_page_load") (result i32)
    (call $log (i32.const 1) (i32.const 100) (i32.const 6))
    (drop (call $reply (i32.const 0) (i32.const 9)))
    (i32.const 0))
  (func (export "gnr_page_rpc") (result i32)
    (local $n i32) (local $m i32)
    (drop (call $method (i32.const 1024) (i32.const 16)))
    (local.set $m (i32.load8_u (i32.const 1024)))
    (local.set $n (call $input (i32.const 2048) (i32.const 4096)))
    (if (i32.eq (local.get $m) (i32.const 101)) (then ;; e
      (drop (call $reply (i32.const 2048) (local.get $n))) (return (i32.const 0))))
    (if (i32.eq (local.get $m) (i32.const 115)) (then ;; s
      (drop (call $store_set (i32.const 16) (i32.const 1) (i32.const 2048) (local.get $n)))
      (drop (call $push (i32.const 2048) (local.get $n)))
      (drop (call $publish (i32.const 20) (i32.const 3) (i32.const 24) (i32.const 14)))
      (drop (call $subscribe (i32.const 20) (i32.const 3)))
      (return (i32.const 0))))
    (if (i32.eq (local.get $m) (i32.const 102)) (then ;; f
      (drop (call $store_set (i32.const 16) (i32.const 1) (i32.const 96) (i32.const 1)))
      (drop (call $reply (i32.const 48) (i32.const 30)))
      (return (i32.const 1))))
    (if (i32.eq (local.get $m) (i32.const 116)) (then unreachable)) ;; t
    (if (i32.eq (local.get $m) (i32.const 108)) (then (loop $l (br $l)))) ;; l
    (if (i32.eq (local.get $m) (i32.const 109)) (then ;; m
      (loop $g (br_if $g (i32.ne (memory.grow (i32.const 16)) (i32.const -1))))
      unreachable))
    (if (i32.eq (local.get $m) (i32.const 111)) (then ;; o
      (drop (call $reply (i32.const 0xfffffff0) (i32.const 100))) (return (i32.const 0))))
    (if (i32.eq (local.get $m) (i32.const 103)) (then ;; g
      (local.set $n (call $store_get (i32.const 16) (i32.const 1) (i32.const 3000) (i32.const 1)))
      (drop (call $store_get (i32.const 16) (i32.const 1) (i32.const 3000) (local.get $n)))
      (drop (call $reply (i32.const 3000) (local.get $n)))
      (return (i32.const 0))))
    (i32.const 7))
)`

func load(t *testing.T, e *Engine, src string, cfg Config) (*Module, error) {
	t.Helper()
	cfg.Path = testpeer.WAT(t, "m", src)
	cfg.Logger = slog.New(slog.DiscardHandler)
	return e.Load(context.Background(), cfg)
}

func mustLoad(t *testing.T, src string, cfg Config) *Module {
	t.Helper()
	e, err := NewEngine("")
	if err != nil {
		t.Fatal(err)
	}
	m, err := load(t, e, src, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = m.Close(context.Background())
		_ = e.Close(context.Background())
	})
	return m
}

func rpc(m *Module, h Host, method, input string) (*Result, error) {
	return m.Call(context.Background(), &Call{Entry: EntryRPC, Method: method, Input: []byte(input), Host: h})
}

func TestCallsAndEffects(t *testing.T) {
	m := mustLoad(t, guest, Config{})
	h := newFakeHost()
	res, err := m.Call(context.Background(), &Call{Entry: EntryLoad, Input: []byte(`{}`), Host: h})
	if err != nil || string(res.Reply) != "<p>hi</p>" || res.Status != 0 {
		t.Fatalf("load: %v %+v", err, res)
	}
	if len(h.logs) != 1 || h.logs[0] != "loaded" {
		t.Fatalf("logs %v", h.logs)
	}
	res, err = rpc(m, h, "echo", `{"a":1}`)
	if err != nil || string(res.Reply) != `{"a":1}` {
		t.Fatalf("echo: %v %+v", err, res)
	}
	res, err = rpc(m, h, "set", `{"v":2}`)
	if err != nil || res.Status != 0 {
		t.Fatalf("set: %v %+v", err, res)
	}
	if len(res.Changes) != 1 || res.Changes[0].Key != "k" || string(res.Changes[0].Value) != `{"v":2}` {
		t.Fatalf("changes %+v", res.Changes)
	}
	if len(res.Pushes) != 1 || len(res.Publishes) != 1 || res.Publishes[0].Table != "t.x" || len(res.Tables) != 1 || !res.Tables[0].Subscribe {
		t.Fatalf("effects %+v", res)
	}
	// The runtime does not apply changes itself: the host's store is untouched.
	if _, ok := h.store["k"]; ok {
		t.Fatal("runtime wrote the page store itself")
	}
	h.store["k"] = []byte(`"a long enough value"`)
	res, err = rpc(m, h, "get", `{}`)
	if err != nil || string(res.Reply) != `"a long enough value"` {
		t.Fatalf("get with buffer retry: %v %q", err, res.Reply)
	}
}

func TestGuestErrorDropsEffects(t *testing.T) {
	m := mustLoad(t, guest, Config{})
	res, err := rpc(m, newFakeHost(), "fail", `{}`)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != 1 || string(res.Reply) != `{"code":"nope","message":"no"}` || len(res.Changes) != 0 {
		t.Fatalf("fail: %+v", res)
	}
	res, err = rpc(m, newFakeHost(), "unknown", `{}`)
	if err != nil || res.Status != 1 || !strings.Contains(string(res.Reply), `"code":"guest_status_7"`) {
		t.Fatalf("odd status: %v %s", err, res.Reply)
	}
}

func wantKind(t *testing.T, err error, kind ErrorKind) {
	t.Helper()
	var ce *CallError
	if !errors.As(err, &ce) || ce.Kind != kind {
		t.Fatalf("err = %v, want kind %s", err, kind)
	}
}

// Traps, timeouts and memory exhaustion fail only their call; the instance is dropped
// and the next call gets a fresh one.
func TestFailuresDiscardInstance(t *testing.T) {
	m := mustLoad(t, guest, Config{Timeout: 100 * time.Millisecond, MemoryLimit: 4 << 20, Instances: 1})
	h := newFakeHost()
	_, err := rpc(m, h, "trap", `{}`)
	wantKind(t, err, KindTrap)
	start := time.Now()
	_, err = rpc(m, h, "loop", `{}`)
	wantKind(t, err, KindTimeout)
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("endless loop stopped after %s", took)
	}
	// Growing to the limit takes longer than the 100 ms above on a busy machine (the race
	// detector, other tests): its own module, with room to reach the limit in time.
	mm := mustLoad(t, guest, Config{Timeout: 10 * time.Second, MemoryLimit: 4 << 20, Instances: 1})
	_, err = rpc(mm, h, "mem", `{}`)
	wantKind(t, err, KindMemory)
	_, err = rpc(m, h, "oob", `{}`)
	wantKind(t, err, KindTrap)
	if res, err := rpc(m, h, "echo", `{"ok":true}`); err != nil || string(res.Reply) != `{"ok":true}` {
		t.Fatalf("after failures: %v %+v", err, res)
	}
}

func TestPoolBoundsConcurrency(t *testing.T) {
	m := mustLoad(t, guest, Config{Instances: 2})
	h := newFakeHost()
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in, _ := json.Marshal(map[string]int{"i": i})
			res, err := rpc(m, h, "echo", string(in))
			if err == nil && string(res.Reply) != string(in) {
				err = errors.New("wrong reply " + string(res.Reply))
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	m.mu.Lock()
	idle := len(m.idle)
	m.mu.Unlock()
	if idle > 2 {
		t.Fatalf("%d idle instances, pool bound is 2", idle)
	}
}

func TestCloseFailsLaterCalls(t *testing.T) {
	m := mustLoad(t, guest, Config{})
	if err := m.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, err := rpc(m, newFakeHost(), "echo", `{}`)
	wantKind(t, err, KindClosed)
}

func TestLoadRefusesBadModules(t *testing.T) {
	e, err := NewEngine("")
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(context.Background())
	entries := `(memory (export "memory") 1)
	  (func (export "gnr_page_load") (result i32) (i32.const 0))
	  (func (export "gnr_page_rpc") (result i32) (i32.const 0))`
	cases := []struct{ name, src, want string }{
		{"no version", `(module ` + entries + `)`, "exports no gnr_abi_vN function"},
		{"future version", `(module (func (export "gnr_abi_v2")) ` + entries + `)`, "speaks gnr ABI v2; this host speaks gnr ABI v1"},
		{"missing rpc", `(module (func (export "gnr_abi_v1")) (memory (export "memory") 1) (func (export "gnr_page_load") (result i32) (i32.const 0)))`, "missing export gnr_page_rpc () -> (i32)"},
		{"wrong entry signature", `(module (func (export "gnr_abi_v1")) (memory (export "memory") 1) (func (export "gnr_page_load") (result i32) (i32.const 0)) (func (export "gnr_page_rpc") (param i32) (result i32) (i32.const 0)))`, "export gnr_page_rpc is (i32) -> (i32)"},
		{"foreign import", `(module (import "env" "abort" (func)) (func (export "gnr_abi_v1")) ` + entries + `)`, `imports env.abort: only the "gnr" module`},
		{"unknown host function", `(module (import "gnr" "open_file" (func)) (func (export "gnr_abi_v1")) ` + entries + `)`, "imports gnr.open_file, which the host does not provide"},
		{"wrong import signature", `(module (import "gnr" "push" (func (param i32) (result i32))) (func (export "gnr_abi_v1")) ` + entries + `)`, "imports gnr.push as (i32) -> (i32); the host provides (i32, i32) -> (i32)"},
		{"unknown wasi function", `(module (import "wasi_snapshot_preview1" "sock_connect_nope" (func)) (func (export "gnr_abi_v1")) ` + entries + `)`, "wasi_snapshot_preview1.sock_connect_nope, which the host does not provide"},
		{"no memory", `(module (func (export "gnr_abi_v1")) (func (export "gnr_page_load") (result i32) (i32.const 0)) (func (export "gnr_page_rpc") (result i32) (i32.const 0)))`, `does not export its memory as "memory"`},
		{"events without export", `(module (func (export "gnr_abi_v1")) (func (export "gnr_features") (param i64) (result i64) (local.get 0)) ` + entries + `)`, "enables feature EVENTS but does not export gnr_page_event"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := load(t, e, c.src, Config{Name: "bad.wasm"})
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "wasm module bad.wasm") {
				t.Fatalf("err = %v\nwant it to name the module and contain %q", err, c.want)
			}
		})
	}
	if _, err := e.Load(context.Background(), Config{Path: "/nonexistent.wasm"}); err == nil {
		t.Fatal("missing file loaded")
	}
}

func TestFeatureNegotiation(t *testing.T) {
	src := `(module (func (export "gnr_abi_v1")) (memory (export "memory") 1)
	  (func (export "gnr_page_load") (result i32) (i32.const 0))
	  (func (export "gnr_page_rpc") (result i32) (i32.const 0))
	  (func (export "gnr_page_close") (result i32) (i32.const 0))
	  (func (export "gnr_features") (param i64) (result i64) (i64.and (local.get 0) (i64.const 0x7fffffff02))))`
	m := mustLoad(t, src, Config{})
	if m.Features() != wasmabi.FeatureClose {
		t.Fatalf("features = %b, want CLOSE only (unknown bits dropped)", m.Features())
	}
	if m.Wants(EntryEvent) || !m.Wants(EntryClose) {
		t.Fatal("Wants disagrees with features")
	}
}
