// Page helpers: the host functions of abi/wasm-abi.md in AssemblyScript types.
//
// Strings cross the boundary as UTF-8 (unpaired surrogates become U+FFFD). Data coming
// from the host is read into a reusable scratch buffer; when the host says it needs more
// room ((buf, cap) -> n with n > cap) a buffer of n bytes is made and the call is repeated.

import * as host from "./host";
import { JSONObject, JSONValue, parse, quote } from "./json";

// ---- status codes, features, log levels (abi/wasmabi) ----

export const STATUS_OK: i32 = 0;
export const STATUS_ERROR: i32 = 1;

export const ERR_NOT_FOUND: i32 = -1;
export const ERR_INVALID: i32 = -2;
export const ERR_TOO_LARGE: i32 = -3;
export const ERR_NOT_PERMITTED: i32 = -4;
export const ERR_UNAVAILABLE: i32 = -5;

export const FEATURE_EVENTS: i64 = 1 << 0;
export const FEATURE_CLOSE: i64 = 1 << 1;
export const FEATURE_PUSH: i64 = 1 << 2;

export const LOG_DEBUG: i32 = 0;
export const LOG_INFO: i32 = 1;
export const LOG_WARN: i32 = 2;
export const LOG_ERROR: i32 = 3;

/** The name of a host error code, e.g. "TOO_LARGE" for -3. */
export function errorName(rc: i32): string {
  switch (rc) {
    case ERR_NOT_FOUND: return "NOT_FOUND";
    case ERR_INVALID: return "INVALID";
    case ERR_TOO_LARGE: return "TOO_LARGE";
    case ERR_NOT_PERMITTED: return "NOT_PERMITTED";
    case ERR_UNAVAILABLE: return "UNAVAILABLE";
  }
  return "ERROR_" + (-rc).toString();
}

/** An error code for a host error in a GnrError reply: "host_too_large" for -3. */
function errorCode(rc: i32): string {
  switch (rc) {
    case ERR_NOT_FOUND: return "host_not_found";
    case ERR_INVALID: return "host_invalid";
    case ERR_TOO_LARGE: return "host_too_large";
    case ERR_NOT_PERMITTED: return "host_not_permitted";
    case ERR_UNAVAILABLE: return "host_unavailable";
  }
  return "host_error";
}

// ---- results of an entry point ----

/** What an entry point answers: a status and the reply bytes (HTML, JSON, or nothing). */
export class Result {
  constructor(public status: i32, public body: string) {}

  /** Status 0 with body as the reply ("" sends no reply). */
  static ok(body: string = ""): Result { return new Result(STATUS_OK, body); }

  /** Status 0 with the compact JSON text of v as the reply. */
  static json(v: JSONValue): Result { return new Result(STATUS_OK, v.toString()); }
}

/** Status 1 with the reply {"code":CODE,"message":MESSAGE}. */
export class GnrError extends Result {
  constructor(public code: string, public message: string) {
    super(STATUS_ERROR, "{\"code\":" + quote(code) + ",\"message\":" + quote(message) + "}");
  }

  /** An error for a failed host call: code "host_too_large" etc., message "WHAT: TOO_LARGE". */
  static host(what: string, rc: i32): GnrError {
    return new GnrError(errorCode(rc), what + ": " + errorName(rc));
  }
}

/**
 * Runs one entry point: calls handler, sends its reply, returns its status, then frees the
 * call's garbage. Every exported gnr_page_* function should be `return serve(fn)`.
 */
export function serve(handler: () => Result): i32 {
  let r = handler();
  let status = r.status;
  if (r.body.length > 0) {
    let rc = reply(r.body);
    if (rc < 0) {
      log(LOG_ERROR, "gnr.reply failed: " + errorName(rc));
      status = STATUS_ERROR;
    }
  }
  // With --runtime minimal the collector runs only when asked; here nothing the call
  // made is still needed, so this is the point to collect (see README).
  __collect();
  return status;
}

// ---- reading from the host ----

const SCRATCH_SIZE = 4096;
const SCRATCH_KEEP = 65536; // larger buffers are used once and dropped

let scratch = new ArrayBuffer(SCRATCH_SIZE);

// One adapter per reading host function, so that a module imports only those it uses.
type Source = (keyPtr: usize, keyLen: i32, buf: usize, cap: i32) => i32;

function srcInput(kp: usize, kl: i32, buf: usize, cap: i32): i32 { return host.input(buf, cap); }
function srcMethod(kp: usize, kl: i32, buf: usize, cap: i32): i32 { return host.method(buf, cap); }
function srcPageInfo(kp: usize, kl: i32, buf: usize, cap: i32): i32 { return host.page_info(buf, cap); }
function srcStoreKeys(kp: usize, kl: i32, buf: usize, cap: i32): i32 { return host.store_keys(buf, cap); }
function srcStore(kp: usize, kl: i32, buf: usize, cap: i32): i32 { return host.store_get(kp, kl, buf, cap); }
function srcUser(kp: usize, kl: i32, buf: usize, cap: i32): i32 { return host.user_get(kp, kl, buf, cap); }
function srcGlobal(kp: usize, kl: i32, buf: usize, cap: i32): i32 { return host.global_get(kp, kl, buf, cap); }

/** The (buf, cap) -> n loop. null for NOT_FOUND; any other error fails the call (trap). */
function read(src: Source, name: string, key: ArrayBuffer | null): string | null {
  let kp: usize = 0;
  let kl = 0;
  if (key !== null) {
    kp = changetype<usize>(key);
    kl = key.byteLength;
  }
  let buf = scratch;
  let n = src(kp, kl, changetype<usize>(buf), buf.byteLength);
  while (n > buf.byteLength) {
    buf = new ArrayBuffer(n);
    if (n <= SCRATCH_KEEP) scratch = buf;
    n = src(kp, kl, changetype<usize>(buf), buf.byteLength);
  }
  if (n == ERR_NOT_FOUND) return null;
  if (n < 0) {
    throw new Error("gnr." + name + " failed: " + errorName(n)); // logged by gnrAbort, then traps
  }
  return String.UTF8.decodeUnsafe(changetype<usize>(buf), <usize>n);
}

function utf8(s: string): ArrayBuffer {
  return String.UTF8.encode(s, false, String.UTF8.ErrorMode.REPLACE);
}

/** The call's input JSON text (section 6 of the ABI). */
export function input(): string {
  let s = read(srcInput, "input", null);
  return s === null ? "" : s;
}

/** The call's input parsed; an empty object if it is not a JSON object. */
export function inputObject(): JSONObject {
  let v = parse(input());
  if (v !== null) {
    let o = v.asObject();
    if (o !== null) return o;
  }
  return new JSONObject();
}

/** The RPC method name ("" outside gnr_page_rpc). */
export function method(): string {
  let s = read(srcMethod, "method", null);
  return s === null ? "" : s;
}

/** {"page_id","connection_id","user","route","lifecycle"} as JSON text. */
export function pageInfo(): string {
  let s = read(srcPageInfo, "page_info", null);
  return s === null ? "{}" : s;
}

/** Sets the call's reply. serve() does this for you with the handler's Result. */
export function reply(body: string): i32 {
  let b = utf8(body);
  return host.reply(changetype<usize>(b), b.byteLength);
}

/** A log line at LOG_DEBUG..LOG_ERROR. */
export function log(level: i32, msg: string): void {
  let b = utf8(msg);
  host.log(level, changetype<usize>(b), b.byteLength);
}

export function logDebug(msg: string): void { log(LOG_DEBUG, msg); }
export function logInfo(msg: string): void { log(LOG_INFO, msg); }
export function logWarn(msg: string): void { log(LOG_WARN, msg); }
export function logError(msg: string): void { log(LOG_ERROR, msg); }

// ---- stores: values are JSON text; getters return null when the key is unset ----

export function storeGet(key: string): string | null { return read(srcStore, "store_get", utf8(key)); }
export function userGet(key: string): string | null { return read(srcUser, "user_get", utf8(key)); }
export function globalGet(key: string): string | null { return read(srcGlobal, "global_get", utf8(key)); }

/** The page store's keys, sorted, as a JSON array text. */
export function storeKeys(): string {
  let s = read(srcStoreKeys, "store_keys", null);
  return s === null ? "[]" : s;
}

/** Sets key to JSON text; returns 0 or a negative ERR_* code. */
export function storeSet(key: string, json: string): i32 {
  let k = utf8(key);
  let v = utf8(json);
  return host.store_set(changetype<usize>(k), k.byteLength, changetype<usize>(v), v.byteLength);
}

export function storeDelete(key: string): i32 {
  let k = utf8(key);
  return host.store_delete(changetype<usize>(k), k.byteLength);
}

export function userSet(key: string, json: string): i32 {
  let k = utf8(key);
  let v = utf8(json);
  return host.user_set(changetype<usize>(k), k.byteLength, changetype<usize>(v), v.byteLength);
}

export function globalSet(key: string, json: string): i32 {
  let k = utf8(key);
  let v = utf8(json);
  return host.global_set(changetype<usize>(k), k.byteLength, changetype<usize>(v), v.byteLength);
}

/** The parsed value at key, or null when unset (or not valid JSON). */
export function storeGetJSON(key: string): JSONValue | null { return parseOrNull(storeGet(key)); }
export function userGetJSON(key: string): JSONValue | null { return parseOrNull(userGet(key)); }
export function globalGetJSON(key: string): JSONValue | null { return parseOrNull(globalGet(key)); }

function parseOrNull(s: string | null): JSONValue | null {
  return s === null ? null : parse(s);
}

// ---- client messages and tables ----

/** Sends a JSON message to the page's client (feature PUSH). */
export function push(json: string): i32 {
  let b = utf8(json);
  return host.push(changetype<usize>(b), b.byteLength);
}

export function subscribe(table: string): i32 {
  let t = utf8(table);
  return host.subscribe(changetype<usize>(t), t.byteLength);
}

export function unsubscribe(table: string): i32 {
  let t = utf8(table);
  return host.unsubscribe(changetype<usize>(t), t.byteLength);
}

/** Publishes a dbevent (a JSON object text such as {"action":"I"}) on table. */
export function publish(table: string, event: string): i32 {
  let t = utf8(table);
  let e = utf8(event);
  return host.publish(changetype<usize>(t), t.byteLength, changetype<usize>(e), e.byteLength);
}

/** Wall-clock time in milliseconds since the Unix epoch. */
export function now(): i64 {
  return host.now_ms();
}
