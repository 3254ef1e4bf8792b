// Raw host functions of the gnrhost WASM page ABI v1 (abi/wasm-abi.md, section 3).
//
// These are the imports exactly as the host provides them: pointers and lengths into
// linear memory, (buf, cap) -> n for data coming back. Use the wrappers in page.ts
// instead; they do the encoding and the retry loop.

// @ts-ignore: decorator
@external("gnr", "input")
export declare function input(buf: usize, cap: i32): i32;

// @ts-ignore: decorator
@external("gnr", "method")
export declare function method(buf: usize, cap: i32): i32;

// @ts-ignore: decorator
@external("gnr", "page_info")
export declare function page_info(buf: usize, cap: i32): i32;

// @ts-ignore: decorator
@external("gnr", "reply")
export declare function reply(ptr: usize, len: i32): i32;

// @ts-ignore: decorator
@external("gnr", "log")
export declare function log(level: i32, ptr: usize, len: i32): void;

// @ts-ignore: decorator
@external("gnr", "store_get")
export declare function store_get(keyPtr: usize, keyLen: i32, buf: usize, cap: i32): i32;

// @ts-ignore: decorator
@external("gnr", "store_set")
export declare function store_set(keyPtr: usize, keyLen: i32, valPtr: usize, valLen: i32): i32;

// @ts-ignore: decorator
@external("gnr", "store_delete")
export declare function store_delete(keyPtr: usize, keyLen: i32): i32;

// @ts-ignore: decorator
@external("gnr", "store_keys")
export declare function store_keys(buf: usize, cap: i32): i32;

// @ts-ignore: decorator
@external("gnr", "user_get")
export declare function user_get(keyPtr: usize, keyLen: i32, buf: usize, cap: i32): i32;

// @ts-ignore: decorator
@external("gnr", "user_set")
export declare function user_set(keyPtr: usize, keyLen: i32, valPtr: usize, valLen: i32): i32;

// @ts-ignore: decorator
@external("gnr", "global_get")
export declare function global_get(keyPtr: usize, keyLen: i32, buf: usize, cap: i32): i32;

// @ts-ignore: decorator
@external("gnr", "global_set")
export declare function global_set(keyPtr: usize, keyLen: i32, valPtr: usize, valLen: i32): i32;

// @ts-ignore: decorator
@external("gnr", "push")
export declare function push(ptr: usize, len: i32): i32;

// @ts-ignore: decorator
@external("gnr", "subscribe")
export declare function subscribe(tablePtr: usize, tableLen: i32): i32;

// @ts-ignore: decorator
@external("gnr", "unsubscribe")
export declare function unsubscribe(tablePtr: usize, tableLen: i32): i32;

// @ts-ignore: decorator
@external("gnr", "publish")
export declare function publish(tablePtr: usize, tableLen: i32, evPtr: usize, evLen: i32): i32;

// @ts-ignore: decorator
@external("gnr", "now_ms")
export declare function now_ms(): i64;
