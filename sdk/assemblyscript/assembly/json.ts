// A small JSON value tree, parser and compact writer.
//
// AssemblyScript has no JSON in its standard library. This is enough for page handlers:
// parse what the host gives (inputs, store values), build values, write them back compact
// (no spaces, object keys in insertion order, numbers as written).
//
// String escaping matches ECMAScript's JSON.stringify: `"` and `\` are escaped, the
// control characters U+0000..U+001F are written as \b \f \n \r \t or \u00xx (lowercase
// hex), an unpaired surrogate as \udxxx, everything else (including `/`, `<`, non-ASCII)
// is written as itself. The output is always valid UTF-8 once encoded.

export const enum JSONKind {
  Null = 0,
  Bool = 1,
  Number = 2,
  String = 3,
  Array = 4,
  Object = 5,
}

/** Any JSON value. Check `kind` or use the as*() accessors, which return null on a mismatch. */
export class JSONValue {
  constructor(public readonly kind: JSONKind) {}

  isNull(): bool { return this.kind == JSONKind.Null; }

  asBool(): JSONBool | null {
    return this.kind == JSONKind.Bool ? changetype<JSONBool>(this) : null;
  }
  asNumber(): JSONNumber | null {
    return this.kind == JSONKind.Number ? changetype<JSONNumber>(this) : null;
  }
  asString(): JSONString | null {
    return this.kind == JSONKind.String ? changetype<JSONString>(this) : null;
  }
  asArray(): JSONArray | null {
    return this.kind == JSONKind.Array ? changetype<JSONArray>(this) : null;
  }
  asObject(): JSONObject | null {
    return this.kind == JSONKind.Object ? changetype<JSONObject>(this) : null;
  }

  /** The compact JSON text of this value. */
  toString(): string {
    let out = new StringBuilder();
    writeValue(this, out);
    return out.toString();
  }
}

export class JSONNull extends JSONValue {
  constructor() { super(JSONKind.Null); }
}

export class JSONBool extends JSONValue {
  constructor(public value: bool) { super(JSONKind.Bool); }
}

/** A number, kept as its JSON text so that writing it back gives the same digits. */
export class JSONNumber extends JSONValue {
  constructor(public raw: string) { super(JSONKind.Number); }

  static fromI64(n: i64): JSONNumber { return new JSONNumber(n.toString()); }

  /** Integral values are written without a fraction; NaN and infinities (not JSON) as 0. */
  static fromF64(f: f64): JSONNumber {
    if (!isFinite(f)) return new JSONNumber("0");
    if (f == Math.trunc(f) && Math.abs(f) < 9007199254740992.0) return new JSONNumber((<i64>f).toString());
    return new JSONNumber(f.toString());
  }

  toF64(): f64 { return parseFloat(this.raw); }

  /**
   * The value as an integer, exactly: a fraction is cut off (toward zero), an exponent is
   * applied, and a value out of the i64 range saturates at i64.MIN_VALUE / i64.MAX_VALUE.
   */
  toI64(): i64 {
    // The number is DIGITS x 10^exp, DIGITS being its integer and fraction digits.
    let s = this.raw;
    let n = s.length;
    let i = 0;
    let neg = n > 0 && s.charCodeAt(0) == 0x2d;
    if (neg) i = 1;
    let digits = new Array<i32>();
    let exp = 0;
    let seenDot = false;
    for (; i < n; i++) {
      let c = s.charCodeAt(i);
      if (c == 0x2e) { seenDot = true; continue; }
      if (c == 0x65 || c == 0x45) { exp += parseExponent(s, i + 1); break; }
      if (c < 0x30 || c > 0x39) return 0; // not a JSON number
      if (seenDot) exp--;
      if (digits.length == 0 && c == 0x30) continue; // leading zero
      digits.push(c - 0x30);
    }
    // The integer part is the first digits.length + exp digits (zeros past the end).
    let keep = digits.length + exp;
    if (keep <= 0) return 0;
    if (keep > 19) return neg ? i64.MIN_VALUE : i64.MAX_VALUE;
    let v: u64 = 0; // 19 digits stay below 2^64: no wrap
    for (let k = 0; k < keep; k++) {
      v = v * 10 + <u64>(k < digits.length ? digits[k] : 0);
    }
    let limit: u64 = neg ? <u64>i64.MAX_VALUE + 1 : <u64>i64.MAX_VALUE;
    if (v > limit) return neg ? i64.MIN_VALUE : i64.MAX_VALUE;
    return neg ? <i64>(0 - v) : <i64>v;
  }
}

/** The exponent after `e` at s[i..], clamped to +-100000 (enough to saturate or zero any i64). */
function parseExponent(s: string, i: i32): i32 {
  let neg = false;
  if (i < s.length) {
    let c = s.charCodeAt(i);
    if (c == 0x2d) { neg = true; i++; } else if (c == 0x2b) i++;
  }
  let e = 0;
  for (; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) break;
    if (e < 100000) e = e * 10 + (c - 0x30);
  }
  return neg ? -e : e;
}

export class JSONString extends JSONValue {
  constructor(public value: string) { super(JSONKind.String); }
}

export class JSONArray extends JSONValue {
  items: JSONValue[] = new Array<JSONValue>();
  constructor() { super(JSONKind.Array); }

  get length(): i32 { return this.items.length; }
  at(i: i32): JSONValue { return this.items[i]; }
  push(v: JSONValue): JSONArray { this.items.push(v); return this; }
}

/** One key/value pair of a JSONObject, linked in insertion order. */
export class JSONEntry {
  next: JSONEntry | null = null;
  constructor(public key: string, public value: JSONValue) {}
}

/**
 * An object; keys keep their insertion order, which is the order they are written in.
 * Iterate with `let e = o.first; while (e !== null) { ...; e = e.next; }`.
 */
export class JSONObject extends JSONValue {
  first: JSONEntry | null = null;
  last: JSONEntry | null = null;
  size: i32 = 0;
  constructor() { super(JSONKind.Object); }

  entry(key: string): JSONEntry | null {
    let e = this.first;
    while (e !== null) {
      if (e.key == key) return e;
      e = e.next;
    }
    return null;
  }
  get(key: string): JSONValue | null {
    let e = this.entry(key);
    return e === null ? null : e.value;
  }
  has(key: string): bool { return this.entry(key) !== null; }

  /** Sets key to v: replaces the value in place if the key is there, else appends. */
  set(key: string, v: JSONValue): JSONObject {
    let e = this.entry(key);
    if (e !== null) {
      e.value = v;
      return this;
    }
    let n = new JSONEntry(key, v);
    let last = this.last;
    if (last === null) this.first = n;
    else last.next = n;
    this.last = n;
    this.size++;
    return this;
  }
  setString(key: string, s: string): JSONObject { return this.set(key, new JSONString(s)); }
  setI64(key: string, n: i64): JSONObject { return this.set(key, JSONNumber.fromI64(n)); }
  setBool(key: string, b: bool): JSONObject { return this.set(key, new JSONBool(b)); }
}

// ---- writing ----

/**
 * Appends strings into one growing buffer, in linear time. (Array<string>#join is
 * quadratic when the compiler optimizes for size, and `s += t` in a loop always is.)
 */
export class StringBuilder {
  private buf: ArrayBuffer = new ArrayBuffer(64);
  private bytes: i32 = 0;

  add(s: string): StringBuilder {
    return this.addUnits(changetype<usize>(s), s.length);
  }

  /** Appends s[start, end) (UTF-16 code unit indexes, 0 <= start <= end <= s.length). */
  addSlice(s: string, start: i32, end: i32): StringBuilder {
    assert(0 <= start && start <= end && end <= s.length);
    return this.addUnits(changetype<usize>(s) + (<usize>start << 1), end - start);
  }

  private addUnits(ptr: usize, units: i32): StringBuilder {
    let need = this.bytes + (units << 1);
    if (need > this.buf.byteLength) {
      let cap = this.buf.byteLength << 1;
      while (cap < need) cap <<= 1;
      let nb = new ArrayBuffer(cap);
      memory.copy(changetype<usize>(nb), changetype<usize>(this.buf), <usize>this.bytes);
      this.buf = nb;
    }
    memory.copy(changetype<usize>(this.buf) + <usize>this.bytes, ptr, <usize>(units << 1));
    this.bytes = need;
    return this;
  }

  get length(): i32 { return this.bytes >> 1; }

  toString(): string {
    return String.UTF16.decodeUnsafe(changetype<usize>(this.buf), <usize>this.bytes);
  }
}

const HEX = "0123456789abcdef";

function escapeUnit(c: i32): string {
  switch (c) {
    case 0x22: return "\\\"";
    case 0x5c: return "\\\\";
    case 0x08: return "\\b";
    case 0x0c: return "\\f";
    case 0x0a: return "\\n";
    case 0x0d: return "\\r";
    case 0x09: return "\\t";
  }
  return "\\u" + HEX.charAt((c >> 12) & 15) + HEX.charAt((c >> 8) & 15) +
    HEX.charAt((c >> 4) & 15) + HEX.charAt(c & 15);
}

/** How many units at p[i] are written as they are: 1, 2 for a surrogate pair, 0 if p[i] is escaped. */
// @ts-ignore: decorator
@inline function plainLength(p: usize, i: i32, n: i32): i32 {
  let c = <i32>load<u16>(p + (<usize>i << 1));
  if (c < 0x20 || c == 0x22 || c == 0x5c) return 0;
  if (c < 0xd800 || c > 0xdfff) return 1;
  if (c <= 0xdbff && i + 1 < n) {
    let d = <i32>load<u16>(p + (<usize>i << 1), 2);
    if (d >= 0xdc00 && d <= 0xdfff) return 2;
  }
  return 0; // unpaired surrogate
}

/** `s` as a JSON string literal, quotes included. */
export function quote(s: string): string {
  let out = new StringBuilder();
  quoteTo(s, out);
  return out.toString();
}

function quoteTo(s: string, out: StringBuilder): void {
  out.add("\"");
  let run = 0; // start of the current run of units written as they are
  let i = 0;
  let n = s.length;
  let p = changetype<usize>(s);
  while (i < n) {
    let k = plainLength(p, i, n);
    if (k > 0) { i += k; continue; }
    out.addSlice(s, run, i);
    out.add(escapeUnit(<i32>load<u16>(p + (<usize>i << 1))));
    i++;
    run = i;
  }
  out.addSlice(s, run, n);
  out.add("\"");
}

function writeValue(v: JSONValue, out: StringBuilder): void {
  switch (v.kind) {
    case JSONKind.Null:
      out.add("null");
      break;
    case JSONKind.Bool:
      out.add(changetype<JSONBool>(v).value ? "true" : "false");
      break;
    case JSONKind.Number:
      out.add(changetype<JSONNumber>(v).raw);
      break;
    case JSONKind.String:
      quoteTo(changetype<JSONString>(v).value, out);
      break;
    case JSONKind.Array: {
      let items = changetype<JSONArray>(v).items;
      out.add("[");
      for (let i = 0; i < items.length; i++) {
        if (i > 0) out.add(",");
        writeValue(items[i], out);
      }
      out.add("]");
      break;
    }
    case JSONKind.Object: {
      out.add("{");
      let e = changetype<JSONObject>(v).first;
      while (e !== null) {
        quoteTo(e.key, out);
        out.add(":");
        writeValue(e.value, out);
        e = e.next;
        if (e !== null) out.add(",");
      }
      out.add("}");
      break;
    }
  }
}

/** The compact JSON text of v. */
export function stringify(v: JSONValue): string {
  return v.toString();
}

// ---- parsing ----

const MAX_DEPTH = 256;

class Parser {
  pos: i32 = 0;
  depth: i32 = 0;
  failed: bool = false;
  len: i32;
  base: usize;
  constructor(public s: string) {
    this.len = s.length;
    this.base = changetype<usize>(s);
  }

  /** this.at(i) for 0 <= i < len, without the call and the bounds check. */
  // @ts-ignore: decorator
  @inline at(i: i32): i32 {
    return <i32>load<u16>(this.base + (<usize>i << 1));
  }

  fail(): JSONValue {
    this.failed = true;
    return new JSONNull();
  }

  peek(): i32 {
    return this.pos < this.len ? this.at(this.pos) : -1;
  }

  skipSpace(): void {
    while (this.pos < this.len) {
      let c = this.at(this.pos);
      if (c != 0x20 && c != 0x09 && c != 0x0a && c != 0x0d) break;
      this.pos++;
    }
  }

  literal(word: string): bool {
    if (this.s.startsWith(word, this.pos)) {
      this.pos += word.length;
      return true;
    }
    return false;
  }

  value(): JSONValue {
    this.skipSpace();
    let c = this.peek();
    if (c == 0x7b) return this.object();
    if (c == 0x5b) return this.array();
    if (c == 0x22) {
      let s = this.string();
      return this.failed ? new JSONNull() : new JSONString(s);
    }
    if (c == 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
    if (this.literal("true")) return new JSONBool(true);
    if (this.literal("false")) return new JSONBool(false);
    if (this.literal("null")) return new JSONNull();
    return this.fail();
  }

  digits(): i32 {
    let start = this.pos;
    while (this.pos < this.len) {
      let c = this.at(this.pos);
      if (c < 0x30 || c > 0x39) break;
      this.pos++;
    }
    return this.pos - start;
  }

  number(): JSONValue {
    let start = this.pos;
    if (this.peek() == 0x2d) this.pos++;
    if (this.peek() == 0x30) {
      this.pos++;
    } else if (this.digits() == 0) {
      return this.fail();
    }
    if (this.peek() == 0x2e) {
      this.pos++;
      if (this.digits() == 0) return this.fail();
    }
    let c = this.peek();
    if (c == 0x65 || c == 0x45) {
      this.pos++;
      c = this.peek();
      if (c == 0x2b || c == 0x2d) this.pos++;
      if (this.digits() == 0) return this.fail();
    }
    return new JSONNumber(this.s.substring(start, this.pos));
  }

  hex4(): i32 {
    if (this.pos + 4 > this.len) return -1;
    let v = 0;
    for (let k = 0; k < 4; k++) {
      let c = this.at(this.pos + k);
      let d: i32;
      if (c >= 0x30 && c <= 0x39) d = c - 0x30;
      else if (c >= 0x61 && c <= 0x66) d = c - 0x61 + 10;
      else if (c >= 0x41 && c <= 0x46) d = c - 0x41 + 10;
      else return -1;
      v = (v << 4) | d;
    }
    this.pos += 4;
    return v;
  }

  /** Reads the string literal at pos (which is at its opening quote). */
  string(): string {
    let s = this.s;
    this.pos++; // opening quote
    let run = this.pos;
    let out: StringBuilder | null = null; // made at the first escape
    while (this.pos < this.len) {
      let c = this.at(this.pos);
      if (c == 0x22) {
        let end = this.pos;
        this.pos++;
        if (out === null) return s.substring(run, end);
        return out.addSlice(s, run, end).toString();
      }
      if (c < 0x20) break;
      if (c != 0x5c) { this.pos++; continue; }
      if (out === null) out = new StringBuilder();
      out.addSlice(s, run, this.pos);
      this.pos++; // backslash
      let e = this.peek();
      this.pos++;
      switch (e) {
        case 0x22: out.add("\""); break;
        case 0x5c: out.add("\\"); break;
        case 0x2f: out.add("/"); break;
        case 0x62: out.add("\b"); break;
        case 0x66: out.add("\f"); break;
        case 0x6e: out.add("\n"); break;
        case 0x72: out.add("\r"); break;
        case 0x74: out.add("\t"); break;
        case 0x75: {
          let u = this.hex4();
          if (u < 0) { this.failed = true; return ""; }
          out.add(String.fromCharCode(u)); // a pair of \u escapes makes a surrogate pair
          break;
        }
        default:
          this.failed = true;
          return "";
      }
      run = this.pos;
    }
    this.failed = true; // unterminated, or a raw control character
    return "";
  }

  array(): JSONValue {
    if (++this.depth > MAX_DEPTH) return this.fail();
    this.pos++; // [
    let a = new JSONArray();
    this.skipSpace();
    if (this.peek() == 0x5d) {
      this.pos++;
      this.depth--;
      return a;
    }
    while (true) {
      let v = this.value();
      if (this.failed) return v;
      a.items.push(v);
      this.skipSpace();
      let c = this.peek();
      this.pos++;
      if (c == 0x2c) continue;
      if (c == 0x5d) break;
      return this.fail();
    }
    this.depth--;
    return a;
  }

  object(): JSONValue {
    if (++this.depth > MAX_DEPTH) return this.fail();
    this.pos++; // {
    let o = new JSONObject();
    this.skipSpace();
    if (this.peek() == 0x7d) {
      this.pos++;
      this.depth--;
      return o;
    }
    while (true) {
      this.skipSpace();
      if (this.peek() != 0x22) return this.fail();
      let key = this.string();
      if (this.failed) return this.fail();
      this.skipSpace();
      if (this.peek() != 0x3a) return this.fail();
      this.pos++;
      let v = this.value();
      if (this.failed) return v;
      o.set(key, v); // a repeated key keeps its first position and its last value
      this.skipSpace();
      let c = this.peek();
      this.pos++;
      if (c == 0x2c) continue;
      if (c == 0x7d) break;
      return this.fail();
    }
    this.depth--;
    return o;
  }
}

/** Parses JSON text; null if it is not exactly one valid JSON value (surrounding whitespace allowed). */
export function parse(text: string): JSONValue | null {
  let p = new Parser(text);
  let v = p.value();
  if (p.failed) return null;
  p.skipSpace();
  if (p.pos != text.length) return null;
  return v;
}
