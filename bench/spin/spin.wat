;; A CPU-bound page for the balancer benchmark (bench/balancer.sh): every RPC spins a
;; multiply-add loop a fixed number of times (a few milliseconds of one core), then replies.
;; The page load is a one-line HTML page. Build: wat2wasm spin.wat -o spin.wasm
(module
  (import "gnr" "reply" (func $reply (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0x10) "<!doctype html><title>spin</title>spin")    ;; 38
  (data (i32.const 0x40) "{\"spun\":true}")                            ;; 13

  (func (export "gnr_abi_v1"))
  (func (export "gnr_features") (param $host i64) (result i64) (i64.const 0))

  (func (export "gnr_page_load") (result i32)
    (drop (call $reply (i32.const 0x10) (i32.const 38)))
    (i32.const 0))

  (func (export "gnr_page_rpc") (result i32)
    (local $i i32) (local $x i32)
    (block $done (loop $spin
      (br_if $done (i32.ge_u (local.get $i) (i32.const 100000)))
      (local.set $x (i32.add (i32.mul (local.get $x) (i32.const 1664525)) (i32.const 1013904223)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $spin)))
    ;; Keep the result observable so the loop is not dead code.
    (i32.store (i32.const 0x80) (local.get $x))
    (drop (call $reply (i32.const 0x40) (i32.const 13)))
    (i32.const 0))
)
