// A page used by sdk.test.mjs to exercise the SDK through a mock host.

import {
  serve, Result, GnrError, method, input, inputObject, pageInfo, now, log, LOG_INFO,
  storeGet, storeSet, storeDelete, storeKeys, userGet, userSet, globalGet, globalSet,
  push, subscribe, unsubscribe, publish, errorName,
  parse, quote, JSONNumber, JSONObject, JSONArray,
} from "../assembly";

export { gnr_abi_v1 } from "../assembly";

export function gnr_page_load(): i32 { return serve(load); }
export function gnr_page_rpc(): i32 { return serve(rpc); }

function load(): Result {
  return Result.ok("<p>" + inputObject().toString() + "</p>");
}

function orNull(s: string | null): string {
  return s === null ? "null" : s;
}

function rpc(): Result {
  let m = method();
  if (m == "roundtrip") {
    let v = parse(input());
    return v === null ? new GnrError("bad_json", "not JSON") : Result.json(v);
  }
  if (m == "quote") return Result.ok(quote(input()));
  if (m == "toI64") {
    let v = parse(input());
    let n: JSONNumber | null = v === null ? null : v.asNumber();
    return n === null ? new GnrError("bad_params", "not a number") : Result.ok(n.toI64().toString());
  }
  if (m == "fromF64") return Result.ok(JSONNumber.fromF64(parseFloat(input())).raw);
  if (m == "host") {
    // Every wrapper once; the mock host records the calls, the reply sums up what came back.
    let o = new JSONObject();
    o.set("page", parse(pageInfo())!);
    o.setI64("set", storeSet("a", "[1, 2]"));
    o.setI64("bad_set", storeSet("b", "{nope"));
    o.setString("get", orNull(storeGet("a")));
    o.setString("unset", orNull(storeGet("zz")));
    o.setI64("set_b", storeSet("b", "true"));
    o.setString("keys", storeKeys());
    o.setI64("delete", storeDelete("a"));
    o.setString("keys2", storeKeys());
    o.setI64("user_set", userSet("u", "\"é\""));
    o.setString("user_get", orNull(userGet("u")));
    o.setI64("global_set", globalSet("g", "{\"k\":1}"));
    o.setString("global_get", orNull(globalGet("g")));
    o.setI64("push", push("{\"type\":\"t\"}"));
    o.setI64("subscribe", subscribe("pkg.t"));
    o.setI64("unsubscribe", unsubscribe("pkg.t"));
    o.setI64("publish", publish("pkg.t", "{\"action\":\"U\"}"));
    o.setBool("now", now() > 1600000000000);
    o.setString("err", errorName(-3));
    log(LOG_INFO, "host done");
    return Result.json(o);
  }
  if (m == "error") return GnrError.host("store_set x", -3);
  if (m == "fail_get") {
    storeGet("fail"); // the mock answers UNAVAILABLE: the call traps
    return Result.ok("unreachable");
  }
  if (m == "alloc") {
    // Garbage: a 1000-item list built, written and parsed back, per call.
    let a = new JSONArray();
    for (let i = 0; i < 1000; i++) a.push(new JSONObject().setI64("i", i).setString("s", "item " + i.toString()));
    let t = a.toString();
    return Result.ok(parse(t)!.asArray()!.length.toString());
  }
  return new GnrError("unknown_method", "unknown method: " + m);
}
