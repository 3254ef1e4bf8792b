// The todo example page (examples/pages/README.md) in AssemblyScript.

import {
  serve, Result, GnrError, method, inputObject, logDebug,
  storeGetJSON, storeSet, globalGetJSON, globalSet, push, subscribe, publish,
  FEATURE_EVENTS, FEATURE_CLOSE, FEATURE_PUSH,
  JSONValue, JSONArray, JSONObject, JSONString,
} from "../../../../sdk/assemblyscript/assembly";

export { gnr_abi_v1 } from "../../../../sdk/assemblyscript/assembly";

const TABLE = "todo.item";

export function gnr_features(host: i64): i64 {
  return host & (FEATURE_EVENTS | FEATURE_CLOSE | FEATURE_PUSH);
}

export function gnr_page_load(): i32 { return serve(load); }
export function gnr_page_rpc(): i32 { return serve(rpc); }
export function gnr_page_event(): i32 { return serve(event); }
export function gnr_page_close(): i32 { return serve(close); }

const HTML =
  "<!doctype html>\n" +
  "<html><head><meta charset=\"utf-8\"><title>Todo</title></head>\n" +
  "<body data-gnr-example=\"todo\">\n" +
  "<h1>Todo</h1>\n" +
  "<ul id=\"items\"></ul>\n" +
  "<input id=\"text\" placeholder=\"New item\"> <button id=\"add\">Add</button>\n" +
  "<script src=\"/_gnr/client.js\"></script>\n" +
  "<script src=\"/_gnr/examples/todo.js\"></script>\n" +
  "</body></html>\n";

/** An array value, or a new empty one when v is unset or not an array. */
function arrayOr(v: JSONValue | null): JSONArray {
  if (v !== null) {
    let a = v.asArray();
    if (a !== null) return a;
  }
  return new JSONArray();
}

function sharedItems(): JSONArray {
  return arrayOr(globalGetJSON("todo.items"));
}

function load(): Result {
  let rc = subscribe(TABLE);
  if (rc < 0) return GnrError.host("subscribe " + TABLE, rc);
  let items = sharedItems().toString();
  rc = storeSet("items", items);
  if (rc < 0) return GnrError.host("store_set items", rc);
  return Result.ok(HTML);
}

function itemsReply(items: string): Result {
  return Result.ok("{\"items\":" + items + "}");
}

function add(): Result {
  let text = inputObject().get("text");
  let str: JSONString | null = text === null ? null : text.asString();
  if (str === null || str.value.length == 0) {
    return new GnrError("bad_params", "add needs a non-empty text");
  }
  let list = sharedItems();
  list.push(new JSONObject().setString("text", str.value));
  let items = list.toString();
  let rc = globalSet("todo.items", items);
  if (rc < 0) return GnrError.host("global_set todo.items", rc);
  rc = storeSet("items", items);
  if (rc < 0) return GnrError.host("store_set items", rc);
  rc = publish(TABLE, "{\"action\":\"I\"}");
  if (rc < 0) return GnrError.host("publish " + TABLE, rc);
  return itemsReply(items);
}

function rpc(): Result {
  let m = method();
  if (m == "add") return add();
  if (m == "list") return itemsReply(arrayOr(storeGetJSON("items")).toString());
  return new GnrError("unknown_method", "unknown method: " + m);
}

function event(): Result {
  let items = sharedItems().toString();
  let rc = storeSet("items", items);
  if (rc < 0) return GnrError.host("store_set items", rc);
  rc = push("{\"type\":\"todo.items\",\"items\":" + items + "}");
  if (rc < 0) return GnrError.host("push", rc);
  return Result.ok();
}

function close(): Result {
  logDebug("todo page closed");
  return Result.ok();
}
