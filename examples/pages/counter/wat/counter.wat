;; counter.wat: the `counter` example page (examples/pages/README.md) written directly in
;; WebAssembly text against the gnrhost WASM page ABI v1 (abi/wasm-abi.md). It needs no
;; toolchain but wabt:   wat2wasm counter.wat -o counter.wasm
;;
;;   load          count = page store "count", total = user store "total" (0 when unset);
;;                 reply the counter HTML with both numbers.
;;   rpc increment count+1 -> store "count", total+1 -> user "total";
;;                 reply {"count":C,"total":T}
;;   rpc get       reply {"count":C,"total":T}
;;   rpc other     status 1, {"code":"unknown_method","message":"unknown method: NAME"}
;;
;; How a call works: the host calls an exported entry point with no arguments. The entry
;; point reads what it needs through host functions (here `method` and the stores), sets
;; its output with `reply`, and returns a status: 0 = the reply is the result, 1 = the reply
;; is an error object {"code":...,"message":...}. A trap fails only that call. Functions
;; that hand data to the module take (buf, cap) and return the data's full length n: when
;; n > cap nothing was written and the module asks again with n bytes ($fetch below).
;;
;; Memory map (the module owns its memory and exports it; pointers are offsets in it):
;;   0x0010-0x0209  constant strings (the data segments below)
;;   0x03d0-0x03df  hex digits, for \u00xx escapes
;;   0x03e0-0x03f3  20 bytes of scratch for formatting a number
;;   0x0400-...     per-call scratch: a bump region. Every entry point empties it first
;;                  ($reset); $alloc hands out bytes from it and grows memory when needed.
;;                  Nothing in it outlives a call, which is what the ABI asks: the page's
;;                  state lives in the host's stores, never in the module.
(module
  ;; ---- host functions (import module "gnr"; signatures exactly as in the ABI) ----
  (import "gnr" "method"    (func $method    (param i32 i32) (result i32)))
  (import "gnr" "reply"     (func $reply     (param i32 i32) (result i32)))
  (import "gnr" "store_get" (func $store_get (param i32 i32 i32 i32) (result i32)))
  (import "gnr" "store_set" (func $store_set (param i32 i32 i32 i32) (result i32)))
  (import "gnr" "user_get"  (func $user_get  (param i32 i32 i32 i32) (result i32)))
  (import "gnr" "user_set"  (func $user_set  (param i32 i32 i32 i32) (result i32)))

  (memory (export "memory") 1)

  ;; ---- constant strings: offset, then length in the comment ----
  (data (i32.const 0x010) "count")                                  ;; 5
  (data (i32.const 0x018) "total")                                  ;; 5
  (data (i32.const 0x020) "increment")                              ;; 9
  (data (i32.const 0x030) "get")                                    ;; 3
  (data (i32.const 0x038) "{\"count\":")                            ;; 9
  (data (i32.const 0x048) ",\"total\":")                            ;; 9
  (data (i32.const 0x058) "{\"code\":\"unknown_method\",\"message\":\"unknown method: ") ;; 52
  (data (i32.const 0x090) "\"}")                                    ;; 2
  (data (i32.const 0x098)                                           ;; 162
    "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Counter</title></head>\n"
    "<body data-gnr-example=\"counter\">\n<h1>Counter</h1>\n"
    "<p>This page: <span id=\"count\">")
  (data (i32.const 0x140) "</span> &middot; all your pages: <span id=\"total\">") ;; 50
  (data (i32.const 0x178)                                           ;; 146
    "</span></p>\n<button id=\"inc\">+1</button>\n<script src=\"/_gnr/client.js\"></script>\n"
    "<script src=\"/_gnr/examples/counter.js\"></script>\n</body></html>\n")
  (data (i32.const 0x3d0) "0123456789abcdef")

  ;; ---- the bump region ----
  (global $top (mut i32) (i32.const 0x400))  ;; first free byte of the per-call scratch
  (global $got (mut i32) (i32.const 0))      ;; where $fetch put its data

  (func $reset (global.set $top (i32.const 0x400)))

  ;; $alloc: n bytes from the bump region, growing memory (64 KiB pages) when it is full.
  ;; If the host refuses to grow (the route's memory_limit), trap: the call fails.
  (func $alloc (param $n i32) (result i32)
    (local $p i32) (local $end i32)
    (local.set $p (global.get $top))
    (local.set $end (i32.add (local.get $p) (local.get $n)))
    (if (i32.gt_u (local.get $end) (i32.mul (memory.size) (i32.const 65536)))
      (then
        (if (i32.eq (i32.const -1)
              (memory.grow (i32.sub (i32.shr_u (i32.add (local.get $end) (i32.const 65535)) (i32.const 16))
                                    (memory.size))))
          (then unreachable))))
    (global.set $top (local.get $end))
    (local.get $p))

  ;; ---- building output: everything is appended at $top, so a reply is the bytes from
  ;; the $top we started at to the current $top ----
  (func $emit (param $p i32) (param $n i32)
    (memory.copy (call $alloc (local.get $n)) (local.get $p) (local.get $n)))

  (func $emit_byte (param $b i32)
    (i32.store8 (call $alloc (i32.const 1)) (local.get $b)))

  ;; $emit_json_byte: one byte of a JSON string body, escaped the way every gnrhost SDK
  ;; does it: \" \\ \b \f \n \r \t, other bytes below 0x20 as \u00xx, the rest as is.
  (func $emit_json_byte (param $b i32)
    (local $esc i32)   ;; the letter to put after a backslash; 0: none
    (block $found
      (local.set $esc (i32.const 0x22)) (br_if $found (i32.eq (local.get $b) (i32.const 0x22)))  ;; \"
      (local.set $esc (i32.const 0x5c)) (br_if $found (i32.eq (local.get $b) (i32.const 0x5c)))  ;; \\
      (local.set $esc (i32.const 0x62)) (br_if $found (i32.eq (local.get $b) (i32.const 0x08)))  ;; \b
      (local.set $esc (i32.const 0x66)) (br_if $found (i32.eq (local.get $b) (i32.const 0x0c)))  ;; \f
      (local.set $esc (i32.const 0x6e)) (br_if $found (i32.eq (local.get $b) (i32.const 0x0a)))  ;; \n
      (local.set $esc (i32.const 0x72)) (br_if $found (i32.eq (local.get $b) (i32.const 0x0d)))  ;; \r
      (local.set $esc (i32.const 0x74)) (br_if $found (i32.eq (local.get $b) (i32.const 0x09)))  ;; \t
      (local.set $esc (i32.const 0)))
    (if (local.get $esc)
      (then (call $emit_byte (i32.const 0x5c)) (call $emit_byte (local.get $esc)) (return)))
    (if (i32.lt_u (local.get $b) (i32.const 0x20))
      (then
        (call $emit_byte (i32.const 0x5c)) (call $emit_byte (i32.const 0x75))  ;; \u
        (call $emit_byte (i32.const 0x30)) (call $emit_byte (i32.const 0x30))  ;; 00
        (call $emit_byte (i32.add (i32.const 0x30) (i32.shr_u (local.get $b) (i32.const 4))))
        (call $emit_byte (i32.load8_u offset=0x3d0 (i32.and (local.get $b) (i32.const 15))))
        (return)))
    (call $emit_byte (local.get $b)))

  ;; $emit_i64: decimal text of a signed number. Digits are made last-first in the
  ;; scratch at 0x3e0..0x3f4, then copied out. Negating through an unsigned value keeps
  ;; the smallest i64 right.
  (func $emit_i64 (param $v i64)
    (local $u i64) (local $p i32)
    (local.set $u (local.get $v))
    (if (i64.lt_s (local.get $v) (i64.const 0))
      (then (call $emit_byte (i32.const 0x2d))                   ;; -
            (local.set $u (i64.sub (i64.const 0) (local.get $v)))))
    (local.set $p (i32.const 0x3f4))
    (loop $digit
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i32.store8 (local.get $p)
        (i32.add (i32.const 0x30) (i32.wrap_i64 (i64.rem_u (local.get $u) (i64.const 10)))))
      (local.set $u (i64.div_u (local.get $u) (i64.const 10)))
      (br_if $digit (i64.ne (local.get $u) (i64.const 0))))
    (call $emit (local.get $p) (i32.sub (i32.const 0x3f4) (local.get $p))))

  ;; $parse_i64: a JSON integer (optional '-', digits, whitespace around) -> its value;
  ;; 0 for anything else, as the page treats a value it cannot read as unset.
  (func $is_ws (param $b i32) (result i32)
    (i32.or (i32.or (i32.eq (local.get $b) (i32.const 0x20)) (i32.eq (local.get $b) (i32.const 0x0a)))
            (i32.or (i32.eq (local.get $b) (i32.const 0x0d)) (i32.eq (local.get $b) (i32.const 0x09)))))
  (func $parse_i64 (param $p i32) (param $n i32) (result i64)
    (local $end i32) (local $neg i32) (local $v i64) (local $d i32)
    (local.set $end (i32.add (local.get $p) (local.get $n)))
    (block $trimmed (loop $trim                                  ;; trailing whitespace
      (br_if $trimmed (i32.eq (local.get $end) (local.get $p)))
      (br_if $trimmed (i32.eqz (call $is_ws (i32.load8_u (i32.sub (local.get $end) (i32.const 1))))))
      (local.set $end (i32.sub (local.get $end) (i32.const 1)))
      (br $trim)))
    (block $skipped (loop $skip                                  ;; leading whitespace
      (br_if $skipped (i32.eq (local.get $p) (local.get $end)))
      (br_if $skipped (i32.eqz (call $is_ws (i32.load8_u (local.get $p)))))
      (local.set $p (i32.add (local.get $p) (i32.const 1)))
      (br $skip)))
    (if (i32.and (i32.lt_u (local.get $p) (local.get $end))
                 (i32.eq (i32.load8_u (local.get $p)) (i32.const 0x2d)))
      (then (local.set $neg (i32.const 1)) (local.set $p (i32.add (local.get $p) (i32.const 1)))))
    (if (i32.eq (local.get $p) (local.get $end)) (then (return (i64.const 0))))  ;; no digits
    (loop $digits
      (local.set $d (i32.sub (i32.load8_u (local.get $p)) (i32.const 0x30)))
      (if (i32.gt_u (local.get $d) (i32.const 9)) (then (return (i64.const 0))))  ;; not a digit
      (local.set $v (i64.add (i64.mul (local.get $v) (i64.const 10)) (i64.extend_i32_u (local.get $d))))
      (local.set $p (i32.add (local.get $p) (i32.const 1)))
      (br_if $digits (i32.lt_u (local.get $p) (local.get $end))))
    (if (result i64) (local.get $neg) (then (i64.sub (i64.const 0) (local.get $v))) (else (local.get $v))))

  ;; $eq: do the bytes at (a, an) equal those at (b, bn)? Used to match method names.
  (func $eq (param $a i32) (param $an i32) (param $b i32) (param $bn i32) (result i32)
    (if (i32.ne (local.get $an) (local.get $bn)) (then (return (i32.const 0))))
    (block $done (loop $byte
      (br_if $done (i32.eqz (local.get $an)))
      (if (i32.ne (i32.load8_u (local.get $a)) (i32.load8_u (local.get $b))) (then (return (i32.const 0))))
      (local.set $a (i32.add (local.get $a) (i32.const 1)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (local.set $an (i32.sub (local.get $an) (i32.const 1)))
      (br $byte)))
    (i32.const 1))

  ;; ---- reading from the host: the (buf, cap) -> n contract ----
  ;; $what: 0 = method, 1 = page store value at key, 2 = user store value at key.
  (func $host_get (param $what i32) (param $key i32) (param $klen i32) (param $buf i32) (param $cap i32) (result i32)
    (if (i32.eqz (local.get $what)) (then (return (call $method (local.get $buf) (local.get $cap)))))
    (if (i32.eq (local.get $what) (i32.const 1))
      (then (return (call $store_get (local.get $key) (local.get $klen) (local.get $buf) (local.get $cap)))))
    (call $user_get (local.get $key) (local.get $klen) (local.get $buf) (local.get $cap)))

  ;; $fetch: ask with a 64-byte buffer; when the answer n is larger than the buffer the
  ;; host wrote nothing, so ask again with n bytes. Returns n (or a negative error code,
  ;; -1 for an unset key); the data is at $got.
  (func $fetch (param $what i32) (param $key i32) (param $klen i32) (result i32)
    (local $cap i32) (local $n i32)
    (local.set $cap (i32.const 64))
    (loop $again
      (global.set $got (call $alloc (local.get $cap)))
      (local.set $n (call $host_get (local.get $what) (local.get $key) (local.get $klen)
                                    (global.get $got) (local.get $cap)))
      (if (i32.gt_s (local.get $n) (local.get $cap))
        (then (local.set $cap (local.get $n)) (br $again))))
    (local.get $n))

  ;; $get_i64: a number from the page (1) or user (2) store; 0 when unset. Any other host
  ;; error traps, which fails the call (the simplest honest answer for a page this small).
  (func $get_i64 (param $what i32) (param $key i32) (param $klen i32) (result i64)
    (local $n i32)
    (local.set $n (call $fetch (local.get $what) (local.get $key) (local.get $klen)))
    (if (i32.eq (local.get $n) (i32.const -1)) (then (return (i64.const 0))))
    (if (i32.lt_s (local.get $n) (i32.const 0)) (then unreachable))
    (call $parse_i64 (global.get $got) (local.get $n)))

  ;; $set_i64: writes a number (as JSON text) to the page (1) or user (2) store.
  (func $set_i64 (param $what i32) (param $key i32) (param $klen i32) (param $v i64)
    (local $text i32) (local $rc i32)
    (local.set $text (global.get $top))
    (call $emit_i64 (local.get $v))
    (local.set $rc
      (if (result i32) (i32.eq (local.get $what) (i32.const 1))
        (then (call $store_set (local.get $key) (local.get $klen) (local.get $text)
                               (i32.sub (global.get $top) (local.get $text))))
        (else (call $user_set (local.get $key) (local.get $klen) (local.get $text)
                              (i32.sub (global.get $top) (local.get $text))))))
    (global.set $top (local.get $text))                          ;; give the scratch back
    (if (i32.ne (local.get $rc) (i32.const 0)) (then unreachable)))

  ;; $reply_since: reply with everything emitted since $start.
  (func $reply_since (param $start i32)
    (if (call $reply (local.get $start) (i32.sub (global.get $top) (local.get $start)))
      (then unreachable)))

  ;; $reply_result: {"count":C,"total":T}
  (func $reply_result (param $count i64) (param $total i64)
    (local $out i32)
    (local.set $out (global.get $top))
    (call $emit (i32.const 0x038) (i32.const 9))                 ;; {"count":
    (call $emit_i64 (local.get $count))
    (call $emit (i32.const 0x048) (i32.const 9))                 ;; ,"total":
    (call $emit_i64 (local.get $total))
    (call $emit_byte (i32.const 0x7d))                           ;; }
    (call $reply_since (local.get $out)))

  ;; ---- exports ----
  (func (export "gnr_abi_v1"))          ;; marks ABI version 1; never called

  ;; No optional features: no events, no close, no push.
  (func (export "gnr_features") (param $host i64) (result i64) (i64.const 0))

  (func (export "gnr_page_load") (result i32)
    (local $count i64) (local $total i64) (local $out i32)
    (call $reset)
    (local.set $count (call $get_i64 (i32.const 1) (i32.const 0x010) (i32.const 5)))  ;; "count"
    (local.set $total (call $get_i64 (i32.const 2) (i32.const 0x018) (i32.const 5)))  ;; "total"
    (local.set $out (global.get $top))
    (call $emit (i32.const 0x098) (i32.const 162))               ;; HTML up to the count
    (call $emit_i64 (local.get $count))
    (call $emit (i32.const 0x140) (i32.const 50))                ;; HTML between the numbers
    (call $emit_i64 (local.get $total))
    (call $emit (i32.const 0x178) (i32.const 146))               ;; the rest of the HTML
    (call $reply_since (local.get $out))
    (i32.const 0))                                               ;; status 0: success

  (func (export "gnr_page_rpc") (result i32)
    (local $name i32) (local $len i32) (local $count i64) (local $total i64) (local $i i32) (local $out i32)
    (call $reset)
    (local.set $len (call $fetch (i32.const 0) (i32.const 0) (i32.const 0)))  ;; the method
    (local.set $name (global.get $got))
    (if (call $eq (local.get $name) (local.get $len) (i32.const 0x020) (i32.const 9))  ;; "increment"
      (then
        (local.set $count (i64.add (call $get_i64 (i32.const 1) (i32.const 0x010) (i32.const 5)) (i64.const 1)))
        (call $set_i64 (i32.const 1) (i32.const 0x010) (i32.const 5) (local.get $count))
        (local.set $total (i64.add (call $get_i64 (i32.const 2) (i32.const 0x018) (i32.const 5)) (i64.const 1)))
        (call $set_i64 (i32.const 2) (i32.const 0x018) (i32.const 5) (local.get $total))
        (call $reply_result (local.get $count) (local.get $total))
        (return (i32.const 0))))
    (if (call $eq (local.get $name) (local.get $len) (i32.const 0x030) (i32.const 3))  ;; "get"
      (then
        (call $reply_result (call $get_i64 (i32.const 1) (i32.const 0x010) (i32.const 5))
                            (call $get_i64 (i32.const 2) (i32.const 0x018) (i32.const 5)))
        (return (i32.const 0))))
    ;; Anything else: status 1 and the error object, the name escaped as a JSON string.
    (local.set $out (global.get $top))
    (call $emit (i32.const 0x058) (i32.const 52))                ;; {"code":"unknown_method",...
    (block $done (loop $byte
      (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
      (call $emit_json_byte (i32.load8_u (i32.add (local.get $name) (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $byte)))
    (call $emit (i32.const 0x090) (i32.const 2))                 ;; "}
    (call $reply_since (local.get $out))
    (i32.const 1))                                               ;; status 1: error reply
)
