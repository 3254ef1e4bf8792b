// Builds test/fixture.ts with asc.sh and runs it against a mock gnr host in Node.
//   npm test        (from sdk/assemblyscript)
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(mkdtempSync(join(tmpdir(), "gnr-as-")), "fixture.wasm");
execFileSync(join(here, "..", "asc.sh"), [join(here, "fixture.ts"), "-o", out], { stdio: "inherit" });
const bytes = readFileSync(out);

const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { fatal: true });

// A mock host: page store, user and global stores, and a record of what the call did.
function makeHost() {
  const h = { page: new Map(), user: new Map(), global: new Map(), input: "", method: "", reply: null, calls: [], mem: null };
  const read = (p, n) => dec.decode(new Uint8Array(h.mem.buffer, p, n));
  const give = (s, buf, cap) => {
    const b = enc.encode(s);
    if (b.length <= cap) new Uint8Array(h.mem.buffer, buf, b.length).set(b);
    return b.length;
  };
  const isJSON = (s) => { try { JSON.parse(s); return true; } catch { return false; } };
  const getter = (m) => (kp, kl, buf, cap) => {
    const k = read(kp, kl);
    if (k === "fail") return -5;
    return m.has(k) ? give(m.get(k), buf, cap) : -1;
  };
  const setter = (m) => (kp, kl, vp, vl) => {
    const k = read(kp, kl), v = read(vp, vl);
    if (!isJSON(v)) return -2;
    m.set(k, v);
    return 0;
  };
  const gnr = {
    input: (buf, cap) => give(h.input, buf, cap),
    method: (buf, cap) => give(h.method, buf, cap),
    page_info: (buf, cap) => give('{"page_id":"p1","connection_id":"c1","user":"u1","route":"/t","lifecycle":"live"}', buf, cap),
    reply: (p, n) => { h.reply = read(p, n); return 0; },
    log: (level, p, n) => { h.calls.push(["log", level, read(p, n)]); },
    store_get: getter(h.page), store_set: setter(h.page),
    store_delete: (kp, kl) => { h.page.delete(read(kp, kl)); return 0; },
    store_keys: (buf, cap) => give(JSON.stringify([...h.page.keys()].sort()), buf, cap),
    user_get: getter(h.user), user_set: setter(h.user),
    global_get: getter(h.global), global_set: setter(h.global),
    push: (p, n) => { h.calls.push(["push", read(p, n)]); return 0; },
    subscribe: (p, n) => { h.calls.push(["subscribe", read(p, n)]); return 0; },
    unsubscribe: (p, n) => { h.calls.push(["unsubscribe", read(p, n)]); return 0; },
    publish: (tp, tl, ep, el) => { h.calls.push(["publish", read(tp, tl), read(ep, el)]); return 0; },
    now_ms: () => BigInt(Date.now()),
  };
  return { h, imports: { gnr } };
}

async function instance() {
  const mod = await WebAssembly.compile(bytes);
  for (const imp of WebAssembly.Module.imports(mod)) assert.equal(imp.module, "gnr", `import ${imp.module}.${imp.name}`);
  const { h, imports } = makeHost();
  const inst = await WebAssembly.instantiate(mod, imports);
  h.mem = inst.exports.memory;
  const call = (entry, method, input) => {
    h.method = method; h.input = input; h.reply = null; h.calls = [];
    const status = inst.exports[entry]();
    return { status, reply: h.reply, calls: h.calls };
  };
  return { h, call, exports: inst.exports };
}

const { h, call, exports } = await instance();

test("exports", () => {
  for (const name of ["memory", "gnr_abi_v1", "gnr_page_load", "gnr_page_rpc"]) assert.ok(name in exports, name);
});

test("load reads the input", () => {
  assert.deepEqual(call("gnr_page_load", "", '{ "query" : {"a":"b"} }'), { status: 0, reply: '<p>{"query":{"a":"b"}}</p>', calls: [] });
});

test("round trip equals JSON.stringify(JSON.parse(x))", () => {
  const cases = [
    '{}', '[]', '"x"', 'true', 'false', 'null', ' [ 1 , -2 , 3 ] ',
    '{"a":{"b":[{},[],""]},"c":null}',
    '"\\u0000\\u001f\\b\\f\\n\\r\\t\\"\\\\\\/ \\u00e9 \\ud83d\\ude00 \\u2028 <&>"',
    '"lone \\ud800 and \\udfff, pair \\ud83d\\ude00 reversed \\ude00\\ud83d"',
    '"é中😀"', '{"a":1,"a":2}', '[[[[[[[[[[]]]]]]]]]]',
  ];
  for (const c of cases) {
    const r = call("gnr_page_rpc", "roundtrip", c);
    assert.deepEqual([r.status, r.reply], [0, JSON.stringify(JSON.parse(c))], c);
  }
});

test("numbers are written as they were read", () => {
  for (const c of ["0", "-0", "1.50", "1e3", "-2.5E-7", "12345678901234567890"]) {
    assert.equal(call("gnr_page_rpc", "roundtrip", c).reply, c);
  }
});

test("malformed JSON is rejected", () => {
  const bad = ['', ' ', '{', '[1,]', '{"a" 1}', '{"a":1,}', '01', '1.', '.5', '-', '1e', '+1', 'tru', 'nul',
    '"abc', '"\\x"', '"\\u12"', '"\\u12g4"', '"a\nb"', '{} {}', '[1] x', "{'a':1}", '[' .repeat(300) + ']'.repeat(300)];
  for (const c of bad) {
    const r = call("gnr_page_rpc", "roundtrip", c);
    assert.deepEqual([r.status, r.reply], [1, '{"code":"bad_json","message":"not JSON"}'], JSON.stringify(c));
  }
});

test("quote matches JSON.stringify", () => {
  const s = "a\"b\\c/\n\t\u0001\u001f\u007f<&>é\u{1F600}\u2028";
  assert.equal(call("gnr_page_rpc", "quote", s).reply, JSON.stringify(s));
});

test("toI64", () => {
  const cases = { "0": "0", "-0": "0", "42": "42", "-42": "-42", "1.9": "1", "-1.9": "-1", "0.5": "0",
    "1e3": "1000", "1.5e3": "1500", "15e-1": "1", "123e-5": "0", "0.05e2": "5", "1E+2": "100",
    "9223372036854775807": "9223372036854775807", "9223372036854775808": "9223372036854775807",
    "-9223372036854775808": "-9223372036854775808", "-9223372036854775809": "-9223372036854775808",
    "1e19": "9223372036854775807", "1e100000000": "9223372036854775807", "1e-100000000": "0" };
  for (const [k, v] of Object.entries(cases)) assert.equal(call("gnr_page_rpc", "toI64", k).reply, v, k);
});

test("fromF64", () => {
  const cases = { "3": "3", "-3": "-3", "0.5": "0.5", "1e21": "1e+21", "NaN": "0" };
  for (const [k, v] of Object.entries(cases)) assert.equal(call("gnr_page_rpc", "fromF64", k).reply, v, k);
});

test("host wrappers", () => {
  const r = call("gnr_page_rpc", "host", "{}");
  assert.equal(r.status, 0);
  assert.deepEqual(JSON.parse(r.reply), {
    page: { page_id: "p1", connection_id: "c1", user: "u1", route: "/t", lifecycle: "live" },
    set: 0, bad_set: -2, get: "[1, 2]", unset: "null", set_b: 0, keys: '["a","b"]', delete: 0, keys2: '["b"]',
    user_set: 0, user_get: '"é"', global_set: 0, global_get: '{"k":1}',
    push: 0, subscribe: 0, unsubscribe: 0, publish: 0, now: true, err: "TOO_LARGE",
  });
  assert.deepEqual(r.calls, [["push", '{"type":"t"}'], ["subscribe", "pkg.t"], ["unsubscribe", "pkg.t"],
    ["publish", "pkg.t", '{"action":"U"}'], ["log", 1, "host done"]]);
});

test("errors", () => {
  assert.deepEqual(call("gnr_page_rpc", "error", "{}"), { status: 1, reply: '{"code":"host_too_large","message":"store_set x: TOO_LARGE"}', calls: [] });
  assert.deepEqual(call("gnr_page_rpc", "nope\"", "{}"), { status: 1, reply: '{"code":"unknown_method","message":"unknown method: nope\\""}', calls: [] });
});

test("a host error on a read traps after logging", async () => {
  const fresh = await instance();
  assert.throws(() => fresh.call("gnr_page_rpc", "fail_get", "{}"), WebAssembly.RuntimeError);
  const log = fresh.h.calls[0];
  assert.equal(log[0], "log");
  assert.equal(log[1], 3);
  assert.match(log[2], /^abort: gnr\.store_get failed: UNAVAILABLE at .*page\.ts:\d+:\d+$/);
});

test("memory stays flat over many calls on one instance", () => {
  call("gnr_page_rpc", "alloc", "{}");
  const before = exports.memory.buffer.byteLength;
  for (let i = 0; i < 300; i++) assert.equal(call("gnr_page_rpc", "alloc", "{}").reply, "1000");
  assert.equal(exports.memory.buffer.byteLength, before);
});
