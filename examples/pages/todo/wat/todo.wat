;; todo.wat: the `todo` example page (examples/pages/README.md) in WebAssembly text against
;; the gnrhost WASM page ABI v1 (abi/wasm-abi.md). Build: wat2wasm todo.wat -o todo.wasm
;; Read counter.wat first: the bump region, $fetch and the output helpers are the same.
;;
;; A list shared by every page: the items live in the global register "todo.items" (a JSON
;; array of {"text": "..."}), each page keeps a copy in its store ("items") and is
;; subscribed to table "todo.item", on which `add` publishes.
;;
;;   load       subscribe "todo.item"; store "items" = global "todo.items" ([] if unset);
;;              reply the HTML
;;   rpc add    params {"text": "..."}: append {"text":...} to the global list; global and
;;              store = the new list; publish {"action":"I"}; reply {"items":[...]}
;;   rpc list   reply {"items": store "items"}
;;   event      store "items" = global list; push {"type":"todo.items","items":[...]}
;;   close      log "todo page closed" at debug level
;;
;; JSON is handled as bytes, without a parser: the list is appended to by copying the array
;; and adding one item before its ']', and `add` finds the top-level key "text" with a
;; small scan of the params (the host has checked they are a JSON object). The text is
;; re-encoded with the shared escaping ($emit_string_token) so the reply is the same bytes
;; the other languages write. Keys are matched as raw bytes: an escaped key such as
;; "t\u0065xt" is not recognised.
;;
;; Memory map: 0x0010-0x027b constant strings, 0x0400-... the per-call bump region.
(module
  (import "gnr" "input"      (func $input      (param i32 i32) (result i32)))
  (import "gnr" "method"     (func $method     (param i32 i32) (result i32)))
  (import "gnr" "reply"      (func $reply      (param i32 i32) (result i32)))
  (import "gnr" "log"        (func $log        (param i32 i32 i32)))
  (import "gnr" "store_get"  (func $store_get  (param i32 i32 i32 i32) (result i32)))
  (import "gnr" "store_set"  (func $store_set  (param i32 i32 i32 i32) (result i32)))
  (import "gnr" "global_get" (func $global_get (param i32 i32 i32 i32) (result i32)))
  (import "gnr" "global_set" (func $global_set (param i32 i32 i32 i32) (result i32)))
  (import "gnr" "push"       (func $push       (param i32 i32) (result i32)))
  (import "gnr" "subscribe"  (func $subscribe  (param i32 i32) (result i32)))
  (import "gnr" "publish"    (func $publish    (param i32 i32 i32 i32) (result i32)))

  (memory (export "memory") 1)

  (data (i32.const 0x010) "todo.item")                              ;; 9
  (data (i32.const 0x020) "todo.items")                             ;; 10
  (data (i32.const 0x030) "items")                                  ;; 5
  (data (i32.const 0x038) "add")                                    ;; 3
  (data (i32.const 0x040) "list")                                   ;; 4
  (data (i32.const 0x048) "[]")                                     ;; 2
  (data (i32.const 0x050) "\"text\"")                               ;; 6
  (data (i32.const 0x058) "{\"text\":")                             ;; 8
  (data (i32.const 0x060) "{\"items\":")                            ;; 9
  (data (i32.const 0x070) "{\"action\":\"I\"}")                     ;; 14
  (data (i32.const 0x080) "{\"type\":\"todo.items\",\"items\":")    ;; 29
  (data (i32.const 0x0a0) "{\"code\":\"bad_params\",\"message\":\"add needs a non-empty text\"}") ;; 60
  (data (i32.const 0x0e0) "{\"code\":\"unknown_method\",\"message\":\"unknown method: ") ;; 52
  (data (i32.const 0x118) "\"}")                                    ;; 2
  (data (i32.const 0x120) "todo page closed")                       ;; 16
  (data (i32.const 0x130) "0123456789abcdef")                       ;; 16
  (data (i32.const 0x140)                                           ;; 316
    "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Todo</title></head>\n"
    "<body data-gnr-example=\"todo\">\n<h1>Todo</h1>\n<ul id=\"items\"></ul>\n"
    "<input id=\"text\" placeholder=\"New item\"> <button id=\"add\">Add</button>\n"
    "<script src=\"/_gnr/client.js\"></script>\n"
    "<script src=\"/_gnr/examples/todo.js\"></script>\n</body></html>\n")

  ;; ---- bump region and output (as in counter.wat) ----
  (global $top (mut i32) (i32.const 0x400))
  (global $got (mut i32) (i32.const 0))

  (func $reset (global.set $top (i32.const 0x400)))

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

  (func $emit (param $p i32) (param $n i32)
    (memory.copy (call $alloc (local.get $n)) (local.get $p) (local.get $n)))

  (func $emit_byte (param $b i32)
    (i32.store8 (call $alloc (i32.const 1)) (local.get $b)))

  (func $emit_json_byte (param $b i32)
    (local $esc i32)
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
        (call $emit_byte (i32.load8_u offset=0x130 (i32.and (local.get $b) (i32.const 15))))
        (return)))
    (call $emit_byte (local.get $b)))

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

  (func $reply_since (param $start i32)
    (if (call $reply (local.get $start) (i32.sub (global.get $top) (local.get $start)))
      (then unreachable)))

  ;; A host call's rc: anything but 0 traps, which fails the call.
  (func $ok (param $rc i32)
    (if (local.get $rc) (then unreachable)))

  ;; ---- reading from the host with the (buf, cap) -> n retry (as in counter.wat) ----
  ;; $what: 0 = method, 1 = input, 2 = page store at key, 3 = global register at key.
  (func $host_get (param $what i32) (param $key i32) (param $klen i32) (param $buf i32) (param $cap i32) (result i32)
    (block $store (block $input (block $method
      (br_table $method $input $store (local.get $what)))
      (return (call $method (local.get $buf) (local.get $cap))))
      (return (call $input (local.get $buf) (local.get $cap))))
    (if (i32.eq (local.get $what) (i32.const 2))
      (then (return (call $store_get (local.get $key) (local.get $klen) (local.get $buf) (local.get $cap)))))
    (call $global_get (local.get $key) (local.get $klen) (local.get $buf) (local.get $cap)))

  (func $fetch (param $what i32) (param $key i32) (param $klen i32) (result i32)
    (local $cap i32) (local $n i32)
    (local.set $cap (i32.const 256))
    (loop $again
      (global.set $got (call $alloc (local.get $cap)))
      (local.set $n (call $host_get (local.get $what) (local.get $key) (local.get $klen)
                                    (global.get $got) (local.get $cap)))
      (if (i32.gt_s (local.get $n) (local.get $cap))
        (then (local.set $cap (local.get $n)) (br $again))))
    (local.get $n))

  ;; ---- scanning JSON bytes (the host only hands out valid JSON) ----
  (func $is_ws (param $b i32) (result i32)
    (i32.or (i32.or (i32.eq (local.get $b) (i32.const 0x20)) (i32.eq (local.get $b) (i32.const 0x0a)))
            (i32.or (i32.eq (local.get $b) (i32.const 0x0d)) (i32.eq (local.get $b) (i32.const 0x09)))))

  ;; $skip_ws: the first byte at or after p that is not whitespace (or end).
  (func $skip_ws (param $p i32) (param $end i32) (result i32)
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
      (br_if $done (i32.eqz (call $is_ws (i32.load8_u (local.get $p)))))
      (local.set $p (i32.add (local.get $p) (i32.const 1)))
      (br $next)))
    (local.get $p))

  ;; $skip_string: p is at a string's opening quote; returns the byte after its closing
  ;; quote. A backslash always starts a two-byte escape (\uXXXX: the digits are plain).
  (func $skip_string (param $p i32) (param $end i32) (result i32)
    (local $b i32)
    (local.set $p (i32.add (local.get $p) (i32.const 1)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
      (local.set $b (i32.load8_u (local.get $p)))
      (local.set $p (i32.add (local.get $p) (i32.const 1)))
      (br_if $done (i32.eq (local.get $b) (i32.const 0x22)))                   ;; "
      (if (i32.eq (local.get $b) (i32.const 0x5c))                              ;; \
        (then (local.set $p (i32.add (local.get $p) (i32.const 1)))))
      (br $next)))
    (local.get $p))

  ;; $skip_value: p is at a value; returns the byte after it. Objects and arrays are
  ;; skipped by counting brackets outside strings.
  (func $skip_value (param $p i32) (param $end i32) (result i32)
    (local $b i32) (local $depth i32)
    (local.set $b (i32.load8_u (local.get $p)))
    (if (i32.eq (local.get $b) (i32.const 0x22))
      (then (return (call $skip_string (local.get $p) (local.get $end)))))
    (if (i32.or (i32.eq (local.get $b) (i32.const 0x7b)) (i32.eq (local.get $b) (i32.const 0x5b)))  ;; { [
      (then
        (loop $next
          (if (i32.ge_u (local.get $p) (local.get $end)) (then (return (local.get $end))))
          (local.set $b (i32.load8_u (local.get $p)))
          (if (i32.eq (local.get $b) (i32.const 0x22))
            (then (local.set $p (call $skip_string (local.get $p) (local.get $end))) (br $next)))
          (if (i32.or (i32.eq (local.get $b) (i32.const 0x7b)) (i32.eq (local.get $b) (i32.const 0x5b)))
            (then (local.set $depth (i32.add (local.get $depth) (i32.const 1)))))
          (if (i32.or (i32.eq (local.get $b) (i32.const 0x7d)) (i32.eq (local.get $b) (i32.const 0x5d)))  ;; } ]
            (then
              (local.set $depth (i32.sub (local.get $depth) (i32.const 1)))
              (if (i32.eqz (local.get $depth)) (then (return (i32.add (local.get $p) (i32.const 1)))))))
          (local.set $p (i32.add (local.get $p) (i32.const 1)))
          (br $next))))
    ;; a number, true, false or null: up to the next , } ] or whitespace
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
      (local.set $b (i32.load8_u (local.get $p)))
      (br_if $done (i32.or (i32.or (i32.eq (local.get $b) (i32.const 0x2c)) (i32.eq (local.get $b) (i32.const 0x7d)))
                           (i32.or (i32.eq (local.get $b) (i32.const 0x5d)) (call $is_ws (local.get $b)))))
      (local.set $p (i32.add (local.get $p) (i32.const 1)))
      (br $next)))
    (local.get $p))

  ;; $find_text: the string token (quotes included) of the top-level key "text" of the
  ;; object at (p, n); (0, 0) when the key is missing or its value is not a string. With
  ;; a repeated key the last one counts, as in JavaScript and Go.
  (func $find_text (param $p i32) (param $n i32) (result i32 i32)
    (local $end i32) (local $key i32) (local $klen i32) (local $v i32) (local $tok i32) (local $tlen i32)
    (local.set $end (i32.add (local.get $p) (local.get $n)))
    (local.set $p (call $skip_ws (local.get $p) (local.get $end)))
    (local.set $p (i32.add (local.get $p) (i32.const 1)))                     ;; past {
    (block $done (loop $member
      (local.set $p (call $skip_ws (local.get $p) (local.get $end)))
      (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
      (br_if $done (i32.eq (i32.load8_u (local.get $p)) (i32.const 0x7d)))     ;; }
      (if (i32.eq (i32.load8_u (local.get $p)) (i32.const 0x2c))               ;; ,
        (then (local.set $p (i32.add (local.get $p) (i32.const 1))) (br $member)))
      (local.set $key (local.get $p))                                          ;; "key"
      (local.set $p (call $skip_string (local.get $p) (local.get $end)))
      (local.set $klen (i32.sub (local.get $p) (local.get $key)))
      (local.set $p (call $skip_ws (local.get $p) (local.get $end)))
      (local.set $p (call $skip_ws (i32.add (local.get $p) (i32.const 1)) (local.get $end)))  ;; past :
      (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
      (local.set $v (local.get $p))
      (local.set $p (call $skip_value (local.get $p) (local.get $end)))
      (if (call $eq (local.get $key) (local.get $klen) (i32.const 0x050) (i32.const 6))  ;; "text"
        (then
          (if (i32.eq (i32.load8_u (local.get $v)) (i32.const 0x22))
            (then (local.set $tok (local.get $v)) (local.set $tlen (i32.sub (local.get $p) (local.get $v))))
            (else (local.set $tok (i32.const 0)) (local.set $tlen (i32.const 0))))))
      (br $member)))
    (local.get $tok) (local.get $tlen))

  ;; ---- writing the text: decode the token's escapes, re-encode the shared way ----
  (func $hex4 (param $p i32) (result i32)
    (local $v i32) (local $i i32) (local $d i32)
    (loop $digit
      (local.set $d (i32.load8_u (i32.add (local.get $p) (local.get $i))))
      (local.set $d (if (result i32) (i32.le_u (local.get $d) (i32.const 0x39))
                      (then (i32.sub (local.get $d) (i32.const 0x30)))                          ;; 0-9
                      (else (i32.sub (i32.or (local.get $d) (i32.const 0x20)) (i32.const 87))))) ;; a-f A-F
      (local.set $v (i32.or (i32.shl (local.get $v) (i32.const 4)) (local.get $d)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $digit (i32.lt_u (local.get $i) (i32.const 4))))
    (local.get $v))

  ;; $emit_char: a code point as UTF-8, escaped if it is ASCII that JSON wants escaped.
  (func $emit_char (param $c i32)
    (if (i32.lt_u (local.get $c) (i32.const 0x80)) (then (call $emit_json_byte (local.get $c)) (return)))
    (if (i32.lt_u (local.get $c) (i32.const 0x800))
      (then
        (call $emit_byte (i32.or (i32.const 0xc0) (i32.shr_u (local.get $c) (i32.const 6))))
        (call $emit_byte (i32.or (i32.const 0x80) (i32.and (local.get $c) (i32.const 0x3f))))
        (return)))
    (if (i32.lt_u (local.get $c) (i32.const 0x10000))
      (then
        (call $emit_byte (i32.or (i32.const 0xe0) (i32.shr_u (local.get $c) (i32.const 12))))
        (call $emit_byte (i32.or (i32.const 0x80) (i32.and (i32.shr_u (local.get $c) (i32.const 6)) (i32.const 0x3f))))
        (call $emit_byte (i32.or (i32.const 0x80) (i32.and (local.get $c) (i32.const 0x3f))))
        (return)))
    (call $emit_byte (i32.or (i32.const 0xf0) (i32.shr_u (local.get $c) (i32.const 18))))
    (call $emit_byte (i32.or (i32.const 0x80) (i32.and (i32.shr_u (local.get $c) (i32.const 12)) (i32.const 0x3f))))
    (call $emit_byte (i32.or (i32.const 0x80) (i32.and (i32.shr_u (local.get $c) (i32.const 6)) (i32.const 0x3f))))
    (call $emit_byte (i32.or (i32.const 0x80) (i32.and (local.get $c) (i32.const 0x3f)))))

  ;; $emit_string_token: (p, n) is a valid JSON string token, quotes included. \/ becomes
  ;; /, \uXXXX becomes the character (a surrogate pair one character, a lone surrogate
  ;; U+FFFD) escaped only where it must be; raw bytes and the other escapes are kept.
  (func $emit_string_token (param $p i32) (param $n i32)
    (local $end i32) (local $b i32) (local $c i32) (local $lo i32)
    (local.set $end (i32.sub (i32.add (local.get $p) (local.get $n)) (i32.const 1)))  ;; closing quote
    (local.set $p (i32.add (local.get $p) (i32.const 1)))
    (call $emit_byte (i32.const 0x22))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
      (local.set $b (i32.load8_u (local.get $p)))
      (if (i32.ne (local.get $b) (i32.const 0x5c))                            ;; not a backslash
        (then (call $emit_byte (local.get $b))
              (local.set $p (i32.add (local.get $p) (i32.const 1))) (br $next)))
      (local.set $b (i32.load8_u offset=1 (local.get $p)))                    ;; the escape letter
      (if (i32.ne (local.get $b) (i32.const 0x75))                            ;; not \u
        (then
          (if (i32.eq (local.get $b) (i32.const 0x2f))
            (then (call $emit_byte (i32.const 0x2f)))                         ;; \/ -> /
            (else (call $emit_byte (i32.const 0x5c)) (call $emit_byte (local.get $b))))
          (local.set $p (i32.add (local.get $p) (i32.const 2))) (br $next)))
      (local.set $c (call $hex4 (i32.add (local.get $p) (i32.const 2))))
      (local.set $p (i32.add (local.get $p) (i32.const 6)))
      (if (i32.and (i32.eq (i32.and (local.get $c) (i32.const 0xfc00)) (i32.const 0xd800))   ;; high surrogate
                   (i32.eq (i32.load16_u (local.get $p)) (i32.const 0x755c)))               ;; then "\u"
        (then
          (local.set $lo (call $hex4 (i32.add (local.get $p) (i32.const 2))))
          (if (i32.eq (i32.and (local.get $lo) (i32.const 0xfc00)) (i32.const 0xdc00))       ;; low surrogate
            (then
              (local.set $c (i32.add (i32.const 0x10000)
                (i32.or (i32.shl (i32.sub (local.get $c) (i32.const 0xd800)) (i32.const 10))
                        (i32.sub (local.get $lo) (i32.const 0xdc00)))))
              (local.set $p (i32.add (local.get $p) (i32.const 6)))))))
      (if (i32.eq (i32.and (local.get $c) (i32.const 0xf800)) (i32.const 0xd800))
        (then (local.set $c (i32.const 0xfffd))))                             ;; lone surrogate
      (call $emit_char (local.get $c))
      (br $next)))
    (call $emit_byte (i32.const 0x22)))

  ;; ---- the list ----
  ;; $items: the JSON array stored at key in the page store (2) or global register (3),
  ;; whitespace trimmed; "[]" when unset or not an array.
  (func $items (param $what i32) (param $key i32) (param $klen i32) (result i32 i32)
    (local $n i32) (local $p i32) (local $end i32)
    (local.set $n (call $fetch (local.get $what) (local.get $key) (local.get $klen)))
    (if (i32.eq (local.get $n) (i32.const -1)) (then (return (i32.const 0x048) (i32.const 2))))
    (if (i32.lt_s (local.get $n) (i32.const 0)) (then unreachable))     ;; another host error
    (local.set $end (i32.add (global.get $got) (local.get $n)))
    (local.set $p (call $skip_ws (global.get $got) (local.get $end)))
    (block $trimmed (loop $trim
      (br_if $trimmed (i32.le_u (local.get $end) (local.get $p)))
      (br_if $trimmed (i32.eqz (call $is_ws (i32.load8_u (i32.sub (local.get $end) (i32.const 1))))))
      (local.set $end (i32.sub (local.get $end) (i32.const 1)))
      (br $trim)))
    (if (i32.and (i32.ge_u (i32.sub (local.get $end) (local.get $p)) (i32.const 2))
          (i32.and (i32.eq (i32.load8_u (local.get $p)) (i32.const 0x5b))                   ;; [
                   (i32.eq (i32.load8_u (i32.sub (local.get $end) (i32.const 1))) (i32.const 0x5d))))  ;; ]
      (then (return (local.get $p) (i32.sub (local.get $end) (local.get $p)))))
    (i32.const 0x048) (i32.const 2))

  ;; $emit_appended: the array (p, n) with {"text":TOKEN} added at its end. The items
  ;; already there are copied as they are (every SDK stores them compact).
  (func $emit_appended (param $p i32) (param $n i32) (param $tok i32) (param $tlen i32)
    (local $end i32)
    (local.set $end (i32.sub (i32.add (local.get $p) (local.get $n)) (i32.const 1)))  ;; at ]
    (local.set $p (call $skip_ws (i32.add (local.get $p) (i32.const 1)) (local.get $end)))
    (block $trimmed (loop $trim                                  ;; whitespace before the ]
      (br_if $trimmed (i32.le_u (local.get $end) (local.get $p)))
      (br_if $trimmed (i32.eqz (call $is_ws (i32.load8_u (i32.sub (local.get $end) (i32.const 1))))))
      (local.set $end (i32.sub (local.get $end) (i32.const 1)))
      (br $trim)))
    (call $emit_byte (i32.const 0x5b))                                         ;; [
    (if (i32.lt_u (local.get $p) (local.get $end))                            ;; not empty
      (then (call $emit (local.get $p) (i32.sub (local.get $end) (local.get $p)))
            (call $emit_byte (i32.const 0x2c))))                               ;; ,
    (call $emit (i32.const 0x058) (i32.const 8))                               ;; {"text":
    (call $emit_string_token (local.get $tok) (local.get $tlen))
    (call $emit_byte (i32.const 0x7d))                                         ;; }
    (call $emit_byte (i32.const 0x5d)))                                        ;; ]

  ;; ---- exports ----
  (func (export "gnr_abi_v1"))

  ;; EVENTS | CLOSE | PUSH | SHARED_EVENTS, of those the host offers. The event entry
  ;; reads only the global list, so it is the same for every page (SHARED_EVENTS): a
  ;; host may run it once per dbevent for all the pages it reaches.
  (func (export "gnr_features") (param $host i64) (result i64)
    (i64.and (local.get $host) (i64.const 15)))

  (func (export "gnr_page_load") (result i32)
    (local $p i32) (local $n i32)
    (call $reset)
    (call $ok (call $subscribe (i32.const 0x010) (i32.const 9)))                ;; "todo.item"
    (call $items (i32.const 3) (i32.const 0x020) (i32.const 10))                ;; global "todo.items"
    (local.set $n) (local.set $p)
    (call $ok (call $store_set (i32.const 0x030) (i32.const 5) (local.get $p) (local.get $n)))  ;; "items"
    (call $ok (call $reply (i32.const 0x140) (i32.const 316)))                  ;; the HTML
    (i32.const 0))

  (func (export "gnr_page_rpc") (result i32)
    (local $name i32) (local $len i32) (local $params i32) (local $plen i32)
    (local $tok i32) (local $tlen i32) (local $p i32) (local $n i32)
    (local $out i32) (local $list i32) (local $i i32)
    (call $reset)
    (local.set $len (call $fetch (i32.const 0) (i32.const 0) (i32.const 0)))   ;; the method
    (local.set $name (global.get $got))

    (if (call $eq (local.get $name) (local.get $len) (i32.const 0x038) (i32.const 3))  ;; "add"
      (then
        (local.set $plen (call $fetch (i32.const 1) (i32.const 0) (i32.const 0)))  ;; the params
        (local.set $params (global.get $got))
        (call $find_text (local.get $params) (local.get $plen))
        (local.set $tlen) (local.set $tok)
        (if (i32.le_u (local.get $tlen) (i32.const 2))          ;; missing, not a string, or ""
          (then
            (call $ok (call $reply (i32.const 0x0a0) (i32.const 60)))           ;; bad_params
            (return (i32.const 1))))
        (call $items (i32.const 3) (i32.const 0x020) (i32.const 10))
        (local.set $n) (local.set $p)
        ;; Reply {"items":LIST}, and keep where LIST is in it to store it.
        (local.set $out (global.get $top))
        (call $emit (i32.const 0x060) (i32.const 9))                            ;; {"items":
        (local.set $list (global.get $top))
        (call $emit_appended (local.get $p) (local.get $n) (local.get $tok) (local.get $tlen))
        (local.set $n (i32.sub (global.get $top) (local.get $list)))
        (call $emit_byte (i32.const 0x7d))                                      ;; }
        (call $ok (call $global_set (i32.const 0x020) (i32.const 10) (local.get $list) (local.get $n)))
        (call $ok (call $store_set (i32.const 0x030) (i32.const 5) (local.get $list) (local.get $n)))
        (call $ok (call $publish (i32.const 0x010) (i32.const 9) (i32.const 0x070) (i32.const 14)))
        (call $reply_since (local.get $out))
        (return (i32.const 0))))

    (if (call $eq (local.get $name) (local.get $len) (i32.const 0x040) (i32.const 4))  ;; "list"
      (then
        (call $items (i32.const 2) (i32.const 0x030) (i32.const 5))             ;; store "items"
        (local.set $n) (local.set $p)
        (local.set $out (global.get $top))
        (call $emit (i32.const 0x060) (i32.const 9))                            ;; {"items":
        (call $emit (local.get $p) (local.get $n))
        (call $emit_byte (i32.const 0x7d))                                      ;; }
        (call $reply_since (local.get $out))
        (return (i32.const 0))))

    (local.set $out (global.get $top))
    (call $emit (i32.const 0x0e0) (i32.const 52))                               ;; unknown_method
    (block $done (loop $byte
      (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
      (call $emit_json_byte (i32.load8_u (i32.add (local.get $name) (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $byte)))
    (call $emit (i32.const 0x118) (i32.const 2))                                ;; "}
    (call $reply_since (local.get $out))
    (i32.const 1))

  ;; A dbevent on todo.item (another page, or this one, added an item): refresh the copy
  ;; and push the list to the browser. The event's own input is not needed.
  (func (export "gnr_page_event") (result i32)
    (local $p i32) (local $n i32) (local $out i32)
    (call $reset)
    (call $items (i32.const 3) (i32.const 0x020) (i32.const 10))
    (local.set $n) (local.set $p)
    (call $ok (call $store_set (i32.const 0x030) (i32.const 5) (local.get $p) (local.get $n)))
    (local.set $out (global.get $top))
    (call $emit (i32.const 0x080) (i32.const 29))                               ;; {"type":"todo.items","items":
    (call $emit (local.get $p) (local.get $n))
    (call $emit_byte (i32.const 0x7d))                                          ;; }
    (call $ok (call $push (local.get $out) (i32.sub (global.get $top) (local.get $out))))
    (i32.const 0))

  (func (export "gnr_page_close") (result i32)
    (call $log (i32.const 0) (i32.const 0x120) (i32.const 16))                  ;; debug "todo page closed"
    (i32.const 0))
)
