//! `gnr`: write gnrhost page handlers in Rust (WASM page ABI v1, `abi/wasm-abi.md`).
//!
//! Implement [`Handler`] for a `Default` type and export it with [`export_handler!`]:
//!
//! ```ignore
//! use gnr::{Error, Handler, Page};
//!
//! #[derive(Default)]
//! struct Hello;
//!
//! impl Handler for Hello {
//!     fn load(&mut self, _page: &Page) -> Result<String, Error> {
//!         Ok("<p>hello</p>".to_string())
//!     }
//!     fn rpc(&mut self, _page: &Page, method: &str, _params: &str) -> Result<String, Error> {
//!         match method {
//!             "ping" => Ok("\"pong\"".to_string()),
//!             _ => Err(Error::unknown_method(method)),
//!         }
//!     }
//! }
//!
//! gnr::export_handler!(Hello);
//! ```
//!
//! The crate uses only `std` and builds with a plain `rustc` (no cargo, no other crate).
//! The page's state lives in the host: read and write it through [`Page`]. Values in the
//! stores are JSON text; [`json`] parses and writes it.

pub mod json;
pub mod sys;

use std::fmt;

/// Feature bit: deliver dbevents to the `event` entry point.
pub const EVENTS: u64 = 1 << 0;
/// Feature bit: call the `close` entry point when a page goes away.
pub const CLOSE: u64 = 1 << 1;
/// Feature bit: [`Page::push`] may be used.
pub const PUSH: u64 = 1 << 2;

/// A page handler. One value of the type is created (with `Default`) per module instance,
/// the first time an entry point runs, and kept for the instance's life; but the host may
/// throw an instance away between any two calls, so keep the page's state in the page
/// store, never in `self` (caches are fine).
pub trait Handler {
    /// A browser opened the page: return its HTML. The request's query is in
    /// [`Page::input`] as `{"query": {...}}`.
    fn load(&mut self, page: &Page) -> Result<String, Error>;

    /// An RPC call: `params` is the JSON object the client sent (`{}` when none). Return
    /// the result as JSON text.
    fn rpc(&mut self, page: &Page, method: &str, params: &str) -> Result<String, Error>;

    /// A dbevent on a subscribed table (exported with `events` in [`export_handler!`]).
    /// `input` is `{"kind":"dbevent","table":...,"events":[...],"origin_page_id":...}`.
    fn event(&mut self, page: &Page, input: &str) -> Result<(), Error> {
        let _ = (page, input);
        Ok(())
    }

    /// The page is going away (exported with `close` in [`export_handler!`]). `reason` is
    /// `client`, `idle`, `connection_expired` or `shutdown`.
    fn close(&mut self, page: &Page, reason: &str) -> Result<(), Error> {
        let _ = (page, reason);
        Ok(())
    }
}

/// An error that ends a call with status 1; the client gets `{"code":...,"message":...}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    /// `[a-z0-9_.]`, at most 64 bytes: `unknown_method`, `bad_params`, `not_found`, ...
    pub code: String,
    pub message: String,
}

impl Error {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Error {
        Error { code: code.into(), message: message.into() }
    }

    /// `unknown_method` with the message `unknown method: NAME`.
    pub fn unknown_method(method: &str) -> Error {
        Error::new("unknown_method", String::from("unknown method: ") + method)
    }

    /// `bad_params` with the given message.
    pub fn bad_params(message: impl Into<String>) -> Error {
        Error::new("bad_params", message)
    }

    /// The error reply: `{"code":"...","message":"..."}`.
    pub fn to_json(&self) -> String {
        let mut out = String::from("{\"code\":");
        json::write_str(&mut out, &self.code);
        out.push_str(",\"message\":");
        json::write_str(&mut out, &self.message);
        out.push('}');
        out
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.code)?;
        f.write_str(": ")?;
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<HostError> for Error {
    /// The code is the host error's name in lower case (`too_large`, `unavailable`, ...).
    fn from(e: HostError) -> Error {
        Error::new(e.name().to_ascii_lowercase(), e.text())
    }
}

impl From<json::ParseError> for Error {
    /// `bad_json`; map it to `bad_params` yourself when it is about the call's params.
    fn from(e: json::ParseError) -> Error {
        Error::new("bad_json", e.text())
    }
}

/// A negative result of a host function (`abi/wasm-abi.md` section 4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostError {
    /// The host function that failed, e.g. `store_set`.
    pub func: &'static str,
    /// The negative code: one of the constants below.
    pub code: i32,
}

impl HostError {
    pub const NOT_FOUND: i32 = -1;
    pub const INVALID: i32 = -2;
    pub const TOO_LARGE: i32 = -3;
    pub const NOT_PERMITTED: i32 = -4;
    pub const UNAVAILABLE: i32 = -5;

    /// `NOT_FOUND`, `INVALID`, `TOO_LARGE`, `NOT_PERMITTED`, `UNAVAILABLE` or `HOST_ERROR`.
    pub fn name(&self) -> &'static str {
        match self.code {
            HostError::NOT_FOUND => "NOT_FOUND",
            HostError::INVALID => "INVALID",
            HostError::TOO_LARGE => "TOO_LARGE",
            HostError::NOT_PERMITTED => "NOT_PERMITTED",
            HostError::UNAVAILABLE => "UNAVAILABLE",
            _ => "HOST_ERROR",
        }
    }
}

impl HostError {
    /// `gnr.FUNC: NAME (CODE)`, e.g. `gnr.store_set: TOO_LARGE (-3)`.
    pub fn text(&self) -> String {
        let mut out = String::from("gnr.");
        out.push_str(self.func);
        out.push_str(": ");
        out.push_str(self.name());
        out.push_str(" (");
        out.push_str(&json::int_text(self.code as i64));
        out.push(')');
        out
    }
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text())
    }
}

impl std::error::Error for HostError {}

/// Log levels for [`Page::log`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Debug = 0,
    Info = 1,
    Warn = 2,
    Error = 3,
}

/// The page of the current call: every method is a host function acting on it.
///
/// Store values are JSON text, for example `"3"`, `"\"text\""` or `"[1,2]"`; the getters
/// return `Ok(None)` when the key is unset.
pub struct Page {
    _private: (),
}

fn check(func: &'static str, rc: i32) -> Result<(), HostError> {
    if rc < 0 {
        Err(HostError { func, code: rc })
    } else {
        Ok(())
    }
}

/// Runs a `(buf, cap) -> n` host function: first with a 1 KiB buffer, then, when the data
/// is larger (`n > cap`, nothing written), again with a buffer of `n` bytes. `Ok(None)`
/// for `NOT_FOUND`.
fn read(func: &'static str, mut call: impl FnMut(*mut u8, usize) -> i32) -> Result<Option<String>, HostError> {
    let mut buf: Vec<u8> = Vec::with_capacity(1024);
    loop {
        let cap = buf.capacity();
        let n = call(buf.as_mut_ptr(), cap);
        if n == HostError::NOT_FOUND {
            return Ok(None);
        }
        check(func, n)?;
        let n = n as usize;
        if n <= cap {
            // SAFETY: the host wrote n <= cap initialised bytes at buf.
            unsafe { buf.set_len(n) };
            return match String::from_utf8(buf) {
                Ok(s) => Ok(Some(s)),
                Err(_) => Err(HostError { func, code: HostError::INVALID }),
            };
        }
        buf.reserve_exact(n); // len is 0, so the capacity becomes at least n
    }
}

/// [`read`] for functions that always have data.
fn read_all(func: &'static str, call: impl FnMut(*mut u8, usize) -> i32) -> Result<String, HostError> {
    read(func, call)?.ok_or(HostError { func, code: HostError::NOT_FOUND })
}

impl Page {
    /// The call's input JSON (section 6 of the ABI). The SDK already passes the RPC params,
    /// the event input and the close reason to the [`Handler`] methods.
    pub fn input(&self) -> Result<String, HostError> {
        read_all("input", |b, c| unsafe { sys::input(b, c) })
    }

    /// The RPC method name; empty outside `rpc`.
    pub fn method(&self) -> Result<String, HostError> {
        read_all("method", |b, c| unsafe { sys::method(b, c) })
    }

    /// `{"page_id","connection_id","user","route","lifecycle"}` as JSON.
    pub fn page_info(&self) -> Result<String, HostError> {
        read_all("page_info", |b, c| unsafe { sys::page_info(b, c) })
    }

    /// Sets the call's output (calling it again replaces it). The entry points already
    /// reply with what the [`Handler`] method returns, so you rarely need this.
    pub fn reply(&self, data: &str) -> Result<(), HostError> {
        check("reply", unsafe { sys::reply(data.as_ptr(), data.len()) })
    }

    /// A log line (at most 8 KiB; the host truncates longer ones).
    pub fn log(&self, level: Level, message: &str) {
        unsafe { sys::log(level as i32, message.as_ptr(), message.len()) }
    }

    pub fn debug(&self, message: &str) {
        self.log(Level::Debug, message)
    }

    pub fn info(&self, message: &str) {
        self.log(Level::Info, message)
    }

    pub fn warn(&self, message: &str) {
        self.log(Level::Warn, message)
    }

    pub fn error(&self, message: &str) {
        self.log(Level::Error, message)
    }

    /// The page store's JSON value at `key`.
    pub fn store_get(&self, key: &str) -> Result<Option<String>, HostError> {
        read("store_get", |b, c| unsafe { sys::store_get(key.as_ptr(), key.len(), b, c) })
    }

    /// Sets `key` in the page store to a JSON value (recorded as a datachange for the
    /// client; dropped if the call fails).
    pub fn store_set(&self, key: &str, json: &str) -> Result<(), HostError> {
        check("store_set", unsafe { sys::store_set(key.as_ptr(), key.len(), json.as_ptr(), json.len()) })
    }

    /// Removes `key` from the page store (no error when unset).
    pub fn store_delete(&self, key: &str) -> Result<(), HostError> {
        check("store_delete", unsafe { sys::store_delete(key.as_ptr(), key.len()) })
    }

    /// The page store's keys, sorted.
    pub fn store_keys(&self) -> Result<Vec<String>, HostError> {
        let text = read_all("store_keys", |b, c| unsafe { sys::store_keys(b, c) })?;
        let bad = HostError { func: "store_keys", code: HostError::INVALID };
        let keys = json::parse(&text).ok().and_then(json::Value::into_array).ok_or(bad)?;
        keys.into_iter()
            .map(|k| match k {
                json::Value::String(s) => Ok(s),
                _ => Err(bad),
            })
            .collect()
    }

    /// The user's register store (shared by all pages of the user).
    pub fn user_get(&self, key: &str) -> Result<Option<String>, HostError> {
        read("user_get", |b, c| unsafe { sys::user_get(key.as_ptr(), key.len(), b, c) })
    }

    pub fn user_set(&self, key: &str, json: &str) -> Result<(), HostError> {
        check("user_set", unsafe { sys::user_set(key.as_ptr(), key.len(), json.as_ptr(), json.len()) })
    }

    /// The site's global register store.
    pub fn global_get(&self, key: &str) -> Result<Option<String>, HostError> {
        read("global_get", |b, c| unsafe { sys::global_get(key.as_ptr(), key.len(), b, c) })
    }

    pub fn global_set(&self, key: &str, json: &str) -> Result<(), HostError> {
        check("global_set", unsafe { sys::global_set(key.as_ptr(), key.len(), json.as_ptr(), json.len()) })
    }

    /// Sends a JSON message to the page's client (needs `push` in [`export_handler!`]).
    pub fn push(&self, json: &str) -> Result<(), HostError> {
        check("push", unsafe { sys::push(json.as_ptr(), json.len()) })
    }

    /// Subscribes the page to a table (`pkg.table`) so it receives its dbevents.
    pub fn subscribe(&self, table: &str) -> Result<(), HostError> {
        check("subscribe", unsafe { sys::subscribe(table.as_ptr(), table.len()) })
    }

    pub fn unsubscribe(&self, table: &str) -> Result<(), HostError> {
        check("unsubscribe", unsafe { sys::unsubscribe(table.as_ptr(), table.len()) })
    }

    /// Publishes a dbevent (`{"action":...,"pkey":...,"data":...}`) on a table; every
    /// subscribed page, this one included, gets an `event` call after this call ends.
    pub fn publish(&self, table: &str, event: &str) -> Result<(), HostError> {
        check("publish", unsafe { sys::publish(table.as_ptr(), table.len(), event.as_ptr(), event.len()) })
    }

    /// Wall-clock time in milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> i64 {
        unsafe { sys::now_ms() }
    }
}

/// The entry points [`export_handler!`] exports. Not for direct use.
#[doc(hidden)]
pub mod __entry {
    use super::{json, Error, Handler, Page};

    const PAGE: Page = Page { _private: () };

    /// Replies with the result (status 0) or the error (status 1).
    fn finish(result: Result<String, Error>) -> i32 {
        match result.and_then(|out| PAGE.reply(&out).map_err(Error::from)) {
            Ok(()) => 0,
            Err(e) => fail(e),
        }
    }

    fn fail(e: Error) -> i32 {
        let _ = PAGE.reply(&e.to_json());
        1
    }

    /// For `event` and `close`, whose reply is ignored: no reply on success.
    fn finish_unit(result: Result<(), Error>) -> i32 {
        match result {
            Ok(()) => 0,
            Err(e) => fail(e),
        }
    }

    pub fn load<H: Handler>(h: &mut H) -> i32 {
        finish(h.load(&PAGE))
    }

    pub fn rpc<H: Handler>(h: &mut H) -> i32 {
        fn call<H: Handler>(h: &mut H) -> Result<String, Error> {
            let method = PAGE.method()?;
            let params = PAGE.input()?;
            h.rpc(&PAGE, &method, &params)
        }
        finish(call(h))
    }

    pub fn event<H: Handler>(h: &mut H) -> i32 {
        fn call<H: Handler>(h: &mut H) -> Result<(), Error> {
            let input = PAGE.input()?;
            h.event(&PAGE, &input)
        }
        finish_unit(call(h))
    }

    pub fn close<H: Handler>(h: &mut H) -> i32 {
        fn call<H: Handler>(h: &mut H) -> Result<(), Error> {
            let input = json::parse(&PAGE.input()?)?;
            let reason = input.get("reason").and_then(json::Value::as_str).unwrap_or("");
            h.close(&PAGE, reason)
        }
        finish_unit(call(h))
    }

    pub fn features(host: u64, wanted: u64) -> u64 {
        host & wanted
    }
}

/// Exports a [`Handler`] type (which must implement `Default`) as the module's entry points:
/// `gnr_abi_v1`, `gnr_page_load`, `gnr_page_rpc` and `gnr_features`, plus what you list
/// after a colon:
///
/// * `events`: exports `gnr_page_event` (calls [`Handler::event`]) and asks for `EVENTS`;
/// * `close`: exports `gnr_page_close` (calls [`Handler::close`]) and asks for `CLOSE`;
/// * `push`: asks for `PUSH` so [`Page::push`] works.
///
/// ```ignore
/// gnr::export_handler!(Counter);                    // features 0
/// gnr::export_handler!(Todo: events, close, push);  // EVENTS | CLOSE | PUSH
/// ```
///
/// Use it once per module, at the crate root.
#[macro_export]
macro_rules! export_handler {
    (@bit events) => { $crate::EVENTS };
    (@bit close) => { $crate::CLOSE };
    (@bit push) => { $crate::PUSH };
    (@export events) => {
        #[no_mangle]
        pub extern "C" fn gnr_page_event() -> i32 {
            $crate::__entry::event(__gnr_handler())
        }
    };
    (@export close) => {
        #[no_mangle]
        pub extern "C" fn gnr_page_close() -> i32 {
            $crate::__entry::close(__gnr_handler())
        }
    };
    (@export push) => {};
    ($ty:ty) => {
        $crate::export_handler!($ty:);
    };
    ($ty:ty : $($feature:ident),* $(,)?) => {
        static mut __GNR_HANDLER: ::core::option::Option<$ty> = ::core::option::Option::None;

        fn __gnr_handler() -> &'static mut $ty {
            // SAFETY: an instance runs one call at a time and entry points never nest, so
            // this is the only reference to the handler while a call runs.
            let slot = unsafe { &mut *::core::ptr::addr_of_mut!(__GNR_HANDLER) };
            slot.get_or_insert_with(<$ty as ::core::default::Default>::default)
        }

        #[no_mangle]
        pub extern "C" fn gnr_abi_v1() {}

        #[no_mangle]
        pub extern "C" fn gnr_page_load() -> i32 {
            $crate::__entry::load(__gnr_handler())
        }

        #[no_mangle]
        pub extern "C" fn gnr_page_rpc() -> i32 {
            $crate::__entry::rpc(__gnr_handler())
        }

        #[no_mangle]
        pub extern "C" fn gnr_features(host: u64) -> u64 {
            $crate::__entry::features(host, 0 $(| $crate::export_handler!(@bit $feature))*)
        }

        $($crate::export_handler!(@export $feature);)*
    };
}
