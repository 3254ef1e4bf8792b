//! The raw host functions of the gnrhost WASM page ABI v1 (import module `gnr`), exactly as
//! listed in `abi/wasm-abi.md` section 3. On wasm32 a pointer and a `usize` are both `i32`.
//!
//! Prefer the safe wrappers on [`crate::Page`]; these are here for the rare case they do not
//! cover. Functions that fill a buffer follow the `(buf, cap) -> n` contract: when `n > cap`
//! nothing was written and you call again with at least `n` bytes.

#[link(wasm_import_module = "gnr")]
extern "C" {
    pub fn input(buf: *mut u8, cap: usize) -> i32;
    pub fn method(buf: *mut u8, cap: usize) -> i32;
    pub fn page_info(buf: *mut u8, cap: usize) -> i32;
    pub fn reply(ptr: *const u8, len: usize) -> i32;
    pub fn log(level: i32, ptr: *const u8, len: usize);
    pub fn store_get(key: *const u8, key_len: usize, buf: *mut u8, cap: usize) -> i32;
    pub fn store_set(key: *const u8, key_len: usize, val: *const u8, val_len: usize) -> i32;
    pub fn store_delete(key: *const u8, key_len: usize) -> i32;
    pub fn store_keys(buf: *mut u8, cap: usize) -> i32;
    pub fn user_get(key: *const u8, key_len: usize, buf: *mut u8, cap: usize) -> i32;
    pub fn user_set(key: *const u8, key_len: usize, val: *const u8, val_len: usize) -> i32;
    pub fn global_get(key: *const u8, key_len: usize, buf: *mut u8, cap: usize) -> i32;
    pub fn global_set(key: *const u8, key_len: usize, val: *const u8, val_len: usize) -> i32;
    pub fn push(ptr: *const u8, len: usize) -> i32;
    pub fn subscribe(table: *const u8, table_len: usize) -> i32;
    pub fn unsubscribe(table: *const u8, table_len: usize) -> i32;
    pub fn publish(table: *const u8, table_len: usize, ev: *const u8, ev_len: usize) -> i32;
    pub fn now_ms() -> i64;
}
