// The counter example page (examples/pages/README.md) in AssemblyScript.

import {
  serve, Result, GnrError, method,
  storeGetJSON, storeSet, userGetJSON, userSet,
  JSONValue,
} from "../../../../sdk/assemblyscript/assembly";

export { gnr_abi_v1 } from "../../../../sdk/assemblyscript/assembly";

/** No events, no close, no push. */
export function gnr_features(host: i64): i64 {
  return 0;
}

export function gnr_page_load(): i32 { return serve(load); }
export function gnr_page_rpc(): i32 { return serve(rpc); }

function asInt(v: JSONValue | null): i64 {
  if (v === null) return 0;
  let n = v.asNumber();
  return n === null ? 0 : n.toI64();
}

function load(): Result {
  let count = asInt(storeGetJSON("count"));
  let total = asInt(userGetJSON("total"));
  return Result.ok(
    "<!doctype html>\n" +
    "<html><head><meta charset=\"utf-8\"><title>Counter</title></head>\n" +
    "<body data-gnr-example=\"counter\">\n" +
    "<h1>Counter</h1>\n" +
    "<p>This page: <span id=\"count\">" + count.toString() +
    "</span> &middot; all your pages: <span id=\"total\">" + total.toString() + "</span></p>\n" +
    "<button id=\"inc\">+1</button>\n" +
    "<script src=\"/_gnr/client.js\"></script>\n" +
    "<script src=\"/_gnr/examples/counter.js\"></script>\n" +
    "</body></html>\n");
}

function counts(count: i64, total: i64): Result {
  return Result.ok("{\"count\":" + count.toString() + ",\"total\":" + total.toString() + "}");
}

function rpc(): Result {
  let m = method();
  if (m != "get" && m != "increment") return new GnrError("unknown_method", "unknown method: " + m);
  let count = asInt(storeGetJSON("count"));
  let total = asInt(userGetJSON("total"));
  if (m == "get") return counts(count, total);
  count++;
  total++;
  let rc = storeSet("count", count.toString());
  if (rc < 0) return GnrError.host("store_set count", rc);
  rc = userSet("total", total.toString());
  if (rc < 0) return GnrError.host("user_set total", rc);
  return counts(count, total);
}
