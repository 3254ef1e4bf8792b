//! The `todo` example page (examples/pages/README.md) with the Rust SDK `gnr`: a list shared
//! by every page through the global register `todo.items`, with a copy in each page's store
//! (`items`), kept fresh by dbevents on table `todo.item`.
//! Build: ./build.sh

use gnr::json::{self, Value};
use gnr::{Error, Handler, Page};

const TABLE: &str = "todo.item";

const HTML: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><title>Todo</title></head>
<body data-gnr-example="todo">
<h1>Todo</h1>
<ul id="items"></ul>
<input id="text" placeholder="New item"> <button id="add">Add</button>
<script src="/_gnr/client.js"></script>
<script src="/_gnr/examples/todo.js"></script>
</body></html>
"#;

#[derive(Default)]
struct Todo;

/// A stored JSON array; empty when unset (or not an array).
fn array(stored: Option<String>) -> Vec<Value> {
    stored.and_then(|text| json::parse(&text).ok()).and_then(Value::into_array).unwrap_or_default()
}

/// Copies the global list into this page's store and returns it.
fn refresh(page: &Page) -> Result<Value, Error> {
    let items = Value::Array(array(page.global_get("todo.items")?));
    page.store_set("items", &items.to_json())?;
    Ok(items)
}

/// `{"items":ITEMS}`
fn items_result(items: Value) -> String {
    Value::object([("items", items)]).to_json()
}

impl Handler for Todo {
    fn load(&mut self, page: &Page) -> Result<String, Error> {
        page.subscribe(TABLE)?;
        refresh(page)?;
        Ok(HTML.to_string())
    }

    fn rpc(&mut self, page: &Page, method: &str, params: &str) -> Result<String, Error> {
        match method {
            "add" => {
                let params = json::parse(params).unwrap_or(Value::Null);
                let text = match params.get("text").and_then(Value::as_str) {
                    Some(text) if !text.is_empty() => text,
                    _ => return Err(Error::bad_params("add needs a non-empty text")),
                };
                let mut items = array(page.global_get("todo.items")?);
                items.push(Value::object([("text", Value::from(text))]));
                let items = Value::Array(items);
                let text = items.to_json();
                page.global_set("todo.items", &text)?;
                page.store_set("items", &text)?;
                page.publish(TABLE, r#"{"action":"I"}"#)?;
                Ok(items_result(items))
            }
            "list" => Ok(items_result(Value::Array(array(page.store_get("items")?)))),
            _ => Err(Error::unknown_method(method)),
        }
    }

    fn event(&mut self, page: &Page, _input: &str) -> Result<(), Error> {
        let items = refresh(page)?;
        page.push(&Value::object([("type", Value::from("todo.items")), ("items", items)]).to_json())?;
        Ok(())
    }

    fn close(&mut self, page: &Page, _reason: &str) -> Result<(), Error> {
        page.debug("todo page closed");
        Ok(())
    }
}

gnr::export_handler!(Todo: events, close, push);
