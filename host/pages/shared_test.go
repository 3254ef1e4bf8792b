package pages_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gnrhost/gnrhost/abi"
	"github.com/gnrhost/gnrhost/host"
	"github.com/gnrhost/gnrhost/host/pluginset"
	"github.com/gnrhost/gnrhost/internal/testpeer"
	registrymem "github.com/gnrhost/gnrhost/plugins/registry-mem"
)

// sharedGuest enables SHARED_EVENTS. load subscribes to t.x; the event entry logs
// "event ran" (so a test can count its calls), fails (status 1) if page_info is allowed,
// stores its input at "k" and pushes it; rpc replies store "k".
const sharedGuest = `(module
  (import "gnr" "input" (func $input (param i32 i32) (result i32)))
  (import "gnr" "reply" (func $reply (param i32 i32) (result i32)))
  (import "gnr" "log" (func $log (param i32 i32 i32)))
  (import "gnr" "page_info" (func $page_info (param i32 i32) (result i32)))
  (import "gnr" "store_get" (func $store_get (param i32 i32 i32 i32) (result i32)))
  (import "gnr" "store_set" (func $store_set (param i32 i32 i32 i32) (result i32)))
  (import "gnr" "push" (func $push (param i32 i32) (result i32)))
  (import "gnr" "subscribe" (func $subscribe (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "<html><head></head><body>ok</body></html>")
  (data (i32.const 64) "k")
  (data (i32.const 68) "t.x")
  (data (i32.const 80) "event ran")
  (data (i32.const 96) "null")
  (func (export "gnr_abi_v1"))
  (func (export "gnr_features") (param i64) (result i64) (i64.and (local.get 0) (i64.const 13)))
  (func (export "gnr_page_load") (result i32)
    (drop (call $subscribe (i32.const 68) (i32.const 3)))
    (drop (call $reply (i32.const 0) (i32.const 41)))
    (i32.const 0))
  (func (export "gnr_page_event") (result i32)
    (local $n i32)
    (call $log (i32.const 1) (i32.const 80) (i32.const 9))
    (if (i32.ne (call $page_info (i32.const 1024) (i32.const 512)) (i32.const -4)) (then (return (i32.const 1))))
    (local.set $n (call $input (i32.const 2048) (i32.const 4096)))
    (drop (call $store_set (i32.const 64) (i32.const 1) (i32.const 2048) (local.get $n)))
    (drop (call $push (i32.const 2048) (local.get $n)))
    (i32.const 0))
  (func (export "gnr_page_rpc") (result i32)
    (local $n i32)
    (local.set $n (call $store_get (i32.const 64) (i32.const 1) (i32.const 3072) (i32.const 1024)))
    (if (i32.lt_s (local.get $n) (i32.const 0))
      (then (drop (call $reply (i32.const 96) (i32.const 4))))
      (else (drop (call $reply (i32.const 3072) (local.get $n)))))
    (i32.const 0))
)`

// countingHandler counts log records with a given message.
type countingHandler struct {
	msg string
	n   *atomic.Int64
}

func (h countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h countingHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.n.Add(1)
	}
	return nil
}
func (h countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h countingHandler) WithGroup(string) slog.Handler      { return h }

// A dbevent reaching many resident pages of a SHARED_EVENTS route runs the event entry
// once; every page gets the outcome (its store write and its push, numbered in order),
// as if the entry had run for it. An ephemeral route of the same module still runs it
// per page, under the same restrictions.
func TestSharedEvents(t *testing.T) {
	module := testpeer.WAT(t, "shared", sharedGuest)
	yml := fmt.Sprintf("registry: {plugin: registry-mem}\nwasm: {cache_dir: off}\npages:\n"+
		"  - {route: /r, module: %s, lifecycle: resident, max_per_connection: 100, instances: 2}\n"+
		"  - {route: /e, module: %s, lifecycle: ephemeral}\n", module, module)
	path := filepath.Join(t.TempDir(), "set.yaml")
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	cat := host.Catalog{Registries: map[string]abi.RegistryFactory{registrymem.Factory.Name: registrymem.Factory}}
	set, err := pluginset.Load(path, cat.PluginSetCatalog())
	if err != nil {
		t.Fatal(err)
	}
	var ran atomic.Int64
	hst, err := host.New(context.Background(), host.Options{Set: set, Catalog: cat, Logger: slog.New(countingHandler{msg: "event ran", n: &ran})})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(hst.Handler())
	t.Cleanup(func() {
		srv.Close()
		if err := hst.Close(context.Background()); err != nil {
			t.Errorf("close host: %v", err)
		}
	})
	h := &testHost{Host: hst, srv: srv}

	alice, bob := h.browser(t), h.browser(t)
	var resident []string
	for i := range 40 {
		b := alice
		if i%2 == 1 {
			b = bob
		}
		resident = append(resident, b.open("/r"))
	}
	ephemeral := []string{alice.open("/e"), bob.open("/e")}

	for round := 1; round <= 3; round++ {
		before := ran.Load()
		ev := abi.DbEvent{Table: "t.x", Action: "U", PKey: fmt.Sprint(round)}
		if _, err := h.Pages().Notify(context.Background(), []abi.DbEvent{ev}, "", "test"); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for _, id := range append(append([]string(nil), resident...), ephemeral...) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got := waitPushData(t, h, id, uint64(round))
				if !strings.Contains(got, fmt.Sprintf(`"pkey":"%d"`, round)) {
					t.Errorf("page %s push %d: %s", id, round, got)
				}
			}()
		}
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
		// One call for the 40 resident pages, one per ephemeral page.
		if calls := ran.Load() - before; calls != 1+int64(len(ephemeral)) {
			t.Fatalf("round %d: the event entry ran %d times, want %d", round, calls, 1+len(ephemeral))
		}
	}
	// Each page's store has the last event's write, and no page got more than 3 pushes.
	for _, id := range append(resident, ephemeral...) {
		b := alice
		if code, _ := alice.rpc(id, "get", `{}`); code == 403 {
			b = bob
		}
		if got := b.result(id, "get", `{}`); !strings.Contains(got, `"pkey":"3"`) {
			t.Fatalf("page %s store after the events: %s", id, got)
		}
		if pushes, complete, _ := h.Pages().Pushes(id, 0); !complete || len(pushes) != 3 {
			t.Fatalf("page %s: %d pushes", id, len(pushes))
		}
	}
}

// waitPushData waits for a page's push seq and returns its data.
func waitPushData(t *testing.T, h *testHost, page string, seq uint64) string {
	deadline := time.After(10 * time.Second)
	for {
		pushes, _, wait := h.Pages().Pushes(page, seq-1)
		if len(pushes) > 0 {
			if pushes[0].Seq != seq {
				t.Errorf("page %s: push %d where %d was expected", page, pushes[0].Seq, seq)
			}
			return string(pushes[0].Data)
		}
		select {
		case <-wait:
		case <-deadline:
			t.Errorf("page %s: no push %d", page, seq)
			return ""
		}
	}
}
