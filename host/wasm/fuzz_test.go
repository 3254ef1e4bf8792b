package wasm

import (
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"testing"

	"github.com/gnrhost/gnrhost/internal/testpeer"
)

// fuzzGuest turns its RPC input into host calls, so the fuzzer drives every gnr function
// with arbitrary pointers, lengths and capacities. The input is a sequence of 17-byte ops:
// one byte naming the function (mod 17), then four little-endian i32 arguments.
const fuzzGuest = `(module
  (import "gnr" "input" (func $input (param i32 i32) (result i32)))
  (import "gnr" "method" (func $method (param i32 i32) (result i32)))
  (import "gnr" "page_info" (func $page_info (param i32 i32) (result i32)))
  (import "gnr" "reply" (func $reply (param i32 i32) (result i32)))
  (import "gnr" "log" (func $log (param i32 i32 i32)))
  (import "gnr" "store_get" (func $store_get (param i32 i32 i32 i32) (result i32)))
  (import "gnr" "store_set" (func $store_set (param i32 i32 i32 i32) (result i32)))
  (import "gnr" "store_delete" (func $store_delete (param i32 i32) (result i32)))
  (import "gnr" "store_keys" (func $store_keys (param i32 i32) (result i32)))
  (import "gnr" "user_get" (func $user_get (param i32 i32 i32 i32) (result i32)))
  (import "gnr" "user_set" (func $user_set (param i32 i32 i32 i32) (result i32)))
  (import "gnr" "global_get" (func $global_get (param i32 i32 i32 i32) (result i32)))
  (import "gnr" "global_set" (func $global_set (param i32 i32 i32 i32) (result i32)))
  (import "gnr" "push" (func $push (param i32 i32) (result i32)))
  (import "gnr" "subscribe" (func $subscribe (param i32 i32) (result i32)))
  (import "gnr" "unsubscribe" (func $unsubscribe (param i32 i32) (result i32)))
  (import "gnr" "publish" (func $publish (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (func (export "gnr_abi_v1"))
  (func (export "gnr_page_load") (result i32) (i32.const 0))
  (func (export "gnr_page_rpc") (result i32)
    (local $n i32) (local $p i32) (local $op i32) (local $a i32) (local $b i32) (local $c i32) (local $d i32)
    ;; ops are read from offset 65536 (the second page); the first page is scratch.
    (local.set $n (call $input (i32.const 65536) (i32.const 65536)))
    (if (i32.gt_s (local.get $n) (i32.const 65536)) (then (return (i32.const 0))))
    (local.set $p (i32.const 65536))
    (block $done
      (loop $next
        (br_if $done (i32.gt_u (i32.add (local.get $p) (i32.const 17)) (i32.add (i32.const 65536) (local.get $n))))
        (local.set $op (i32.rem_u (i32.load8_u (local.get $p)) (i32.const 17)))
        (local.set $a (i32.load (i32.add (local.get $p) (i32.const 1))))
        (local.set $b (i32.load (i32.add (local.get $p) (i32.const 5))))
        (local.set $c (i32.load (i32.add (local.get $p) (i32.const 9))))
        (local.set $d (i32.load (i32.add (local.get $p) (i32.const 13))))
        (block $sw
          (if (i32.eq (local.get $op) (i32.const 0)) (then (drop (call $input (local.get $a) (local.get $b))) (br $sw)))
          (if (i32.eq (local.get $op) (i32.const 1)) (then (drop (call $method (local.get $a) (local.get $b))) (br $sw)))
          (if (i32.eq (local.get $op) (i32.const 2)) (then (drop (call $page_info (local.get $a) (local.get $b))) (br $sw)))
          (if (i32.eq (local.get $op) (i32.const 3)) (then (drop (call $reply (local.get $a) (local.get $b))) (br $sw)))
          (if (i32.eq (local.get $op) (i32.const 4)) (then (call $log (local.get $a) (local.get $b) (local.get $c)) (br $sw)))
          (if (i32.eq (local.get $op) (i32.const 5)) (then (drop (call $store_get (local.get $a) (local.get $b) (local.get $c) (local.get $d))) (br $sw)))
          (if (i32.eq (local.get $op) (i32.const 6)) (then (drop (call $store_set (local.get $a) (local.get $b) (local.get $c) (local.get $d))) (br $sw)))
          (if (i32.eq (local.get $op) (i32.const 7)) (then (drop (call $store_delete (local.get $a) (local.get $b))) (br $sw)))
          (if (i32.eq (local.get $op) (i32.const 8)) (then (drop (call $store_keys (local.get $a) (local.get $b))) (br $sw)))
          (if (i32.eq (local.get $op) (i32.const 9)) (then (drop (call $user_get (local.get $a) (local.get $b) (local.get $c) (local.get $d))) (br $sw)))
          (if (i32.eq (local.get $op) (i32.const 10)) (then (drop (call $user_set (local.get $a) (local.get $b) (local.get $c) (local.get $d))) (br $sw)))
          (if (i32.eq (local.get $op) (i32.const 11)) (then (drop (call $global_get (local.get $a) (local.get $b) (local.get $c) (local.get $d))) (br $sw)))
          (if (i32.eq (local.get $op) (i32.const 12)) (then (drop (call $global_set (local.get $a) (local.get $b) (local.get $c) (local.get $d))) (br $sw)))
          (if (i32.eq (local.get $op) (i32.const 13)) (then (drop (call $push (local.get $a) (local.get $b))) (br $sw)))
          (if (i32.eq (local.get $op) (i32.const 14)) (then (drop (call $subscribe (local.get $a) (local.get $b))) (br $sw)))
          (if (i32.eq (local.get $op) (i32.const 15)) (then (drop (call $unsubscribe (local.get $a) (local.get $b))) (br $sw)))
          (drop (call $publish (local.get $a) (local.get $b) (local.get $c) (local.get $d))))
        (local.set $p (i32.add (local.get $p) (i32.const 17)))
        (br $next)))
    (i32.const 0))
)`

func op(fn byte, a, b, c, d uint32) []byte {
	out := make([]byte, 17)
	out[0] = fn
	binary.LittleEndian.PutUint32(out[1:], a)
	binary.LittleEndian.PutUint32(out[5:], b)
	binary.LittleEndian.PutUint32(out[9:], c)
	binary.LittleEndian.PutUint32(out[13:], d)
	return out
}

// FuzzHostFunctions checks the host side of the ABI boundary: whatever pointers and
// lengths a guest passes, the host never panics, returns only a Result or a *CallError,
// and never records effects that break the ABI's limits.
func FuzzHostFunctions(f *testing.F) {
	// Seeds: each function with sane arguments, with out-of-bounds ones, with huge ones.
	for fn := byte(0); fn < 17; fn++ {
		f.Add(op(fn, 0, 16, 32, 8))
		f.Add(op(fn, 0xfffffff0, 0x100, 0, 0xffffffff))
		f.Add(op(fn, 100, 0x7fffffff, 200, 0x7fffffff))
	}
	f.Add(append(op(6, 0, 1, 1, 1), op(5, 0, 1, 100, 1)...))
	e, err := NewEngine("")
	if err != nil {
		f.Fatal(err)
	}
	// One module for the whole run, as a pooled module lives across many calls.
	fuzzModule, err := e.Load(context.Background(), Config{
		Path: testpeer.WAT(f, "fuzz", fuzzGuest), Logger: slog.New(slog.DiscardHandler), Instances: 1, MemoryLimit: 1 << 20,
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() {
		_ = fuzzModule.Close(context.Background())
		_ = e.Close(context.Background())
	})
	f.Fuzz(func(t *testing.T, ops []byte) {
		h := newFakeHost()
		h.store["k"] = []byte(`{"a":1}`)
		res, err := fuzzModule.Call(context.Background(), &Call{Entry: EntryRPC, Method: "fuzz", Input: ops, Host: h})
		if err != nil {
			var ce *CallError
			if !errors.As(err, &ce) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		if len(res.Reply) > 4<<20 || len(res.Pushes) > 64 || len(res.Publishes) > 16 {
			t.Fatalf("limits broken: reply %d, pushes %d, publishes %d", len(res.Reply), len(res.Pushes), len(res.Publishes))
		}
		for _, c := range res.Changes {
			if len(c.Key) == 0 || len(c.Key) > 256 {
				t.Fatalf("bad key recorded: %q", c.Key)
			}
		}
	})
}
