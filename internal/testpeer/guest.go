package testpeer

// PageGuestWAT is a small page handler for tests of the pages layer and the WebSocket
// endpoint. rpc methods by first letter:
//
//	s set:   store "k" = params; reply params
//	g get:   reply store "k" (null when unset)
//	f fail:  store "k" = 0, then status 1
//	p pub:   publish {"action":"I"} on t.x; reply {}
//	t trap;  l loop;  m grow memory until refused, then trap
//
// load subscribes to t.x and replies a small document; event pushes its input; close
// writes its input to the global store at "closed".
const PageGuestWAT = `(module
  (import "gnr" "input" (func $input (param i32 i32) (result i32)))
  (import "gnr" "method" (func $method (param i32 i32) (result i32)))
  (import "gnr" "reply" (func $reply (param i32 i32) (result i32)))
  (import "gnr" "store_get" (func $store_get (param i32 i32 i32 i32) (result i32)))
  (import "gnr" "store_set" (func $store_set (param i32 i32 i32 i32) (result i32)))
  (import "gnr" "global_set" (func $global_set (param i32 i32 i32 i32) (result i32)))
  (import "gnr" "push" (func $push (param i32 i32) (result i32)))
  (import "gnr" "publish" (func $publish (param i32 i32 i32 i32) (result i32)))
  (import "gnr" "subscribe" (func $subscribe (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "<html><head><title>t</title></head><body>ok</body></html>")
  (data (i32.const 64) "k")
  (data (i32.const 68) "t.x")
  (data (i32.const 72) "{\"action\":\"I\"}")
  (data (i32.const 88) "null{}0")
  (data (i32.const 96) "closed")
  (func (export "gnr_abi_v1"))
  (func (export "gnr_page_load") (result i32)
    (drop (call $subscribe (i32.const 68) (i32.const 3)))
    (drop (call $reply (i32.const 0) (i32.const 57)))
    (i32.const 0))
  (func (export "gnr_page_event") (result i32)
    (local $n i32)
    (local.set $n (call $input (i32.const 2048) (i32.const 4096)))
    (drop (call $push (i32.const 2048) (local.get $n)))
    (i32.const 0))
  (func (export "gnr_page_close") (result i32)
    (local $n i32)
    (local.set $n (call $input (i32.const 2048) (i32.const 4096)))
    (drop (call $global_set (i32.const 96) (i32.const 6) (i32.const 2048) (local.get $n)))
    (i32.const 0))
  (func (export "gnr_page_rpc") (result i32)
    (local $n i32) (local $m i32)
    (drop (call $method (i32.const 1024) (i32.const 16)))
    (local.set $m (i32.load8_u (i32.const 1024)))
    (local.set $n (call $input (i32.const 2048) (i32.const 4096)))
    (if (i32.eq (local.get $m) (i32.const 115)) (then
      (drop (call $store_set (i32.const 64) (i32.const 1) (i32.const 2048) (local.get $n)))
      (drop (call $reply (i32.const 2048) (local.get $n)))
      (return (i32.const 0))))
    (if (i32.eq (local.get $m) (i32.const 103)) (then
      (local.set $n (call $store_get (i32.const 64) (i32.const 1) (i32.const 3072) (i32.const 1024)))
      (if (i32.lt_s (local.get $n) (i32.const 0))
        (then (drop (call $reply (i32.const 88) (i32.const 4))))
        (else (drop (call $reply (i32.const 3072) (local.get $n)))))
      (return (i32.const 0))))
    (if (i32.eq (local.get $m) (i32.const 102)) (then
      (drop (call $store_set (i32.const 64) (i32.const 1) (i32.const 94) (i32.const 1)))
      (return (i32.const 1))))
    (if (i32.eq (local.get $m) (i32.const 112)) (then
      (drop (call $publish (i32.const 68) (i32.const 3) (i32.const 72) (i32.const 14)))
      (drop (call $reply (i32.const 92) (i32.const 2)))
      (return (i32.const 0))))
    (if (i32.eq (local.get $m) (i32.const 116)) (then unreachable))
    (if (i32.eq (local.get $m) (i32.const 108)) (then (loop $l (br $l))))
    (if (i32.eq (local.get $m) (i32.const 109)) (then
      (loop $g (br_if $g (i32.ne (memory.grow (i32.const 16)) (i32.const -1))))
      unreachable))
    (i32.const 1))
)`
