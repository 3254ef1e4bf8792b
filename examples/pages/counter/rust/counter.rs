//! The `counter` example page (examples/pages/README.md) with the Rust SDK `gnr`.
//! Build: ./build.sh

use gnr::json::{self, Value};
use gnr::{Error, Handler, HostError, Page};

#[derive(Default)]
struct Counter;

/// An integer stored as JSON text; 0 when unset (or not an integer).
fn int(stored: Option<String>) -> i64 {
    stored.and_then(|text| json::parse(&text).ok()).and_then(|v| v.as_i64()).unwrap_or(0)
}

fn count(page: &Page) -> Result<i64, HostError> {
    Ok(int(page.store_get("count")?))
}

fn total(page: &Page) -> Result<i64, HostError> {
    Ok(int(page.user_get("total")?))
}

/// `{"count":COUNT,"total":TOTAL}`
fn result(count: i64, total: i64) -> String {
    Value::object([("count", Value::from(count)), ("total", Value::from(total))]).to_json()
}

// The page HTML around the two numbers (examples/pages/README.md, byte for byte).
const HTML_HEAD: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><title>Counter</title></head>
<body data-gnr-example="counter">
<h1>Counter</h1>
<p>This page: <span id="count">"#;
const HTML_MIDDLE: &str = r#"</span> &middot; all your pages: <span id="total">"#;
const HTML_TAIL: &str = r#"</span></p>
<button id="inc">+1</button>
<script src="/_gnr/client.js"></script>
<script src="/_gnr/examples/counter.js"></script>
</body></html>
"#;

impl Handler for Counter {
    fn load(&mut self, page: &Page) -> Result<String, Error> {
        let (count, total) = (count(page)?, total(page)?);
        let mut html = String::from(HTML_HEAD);
        html.push_str(&json::int_text(count));
        html.push_str(HTML_MIDDLE);
        html.push_str(&json::int_text(total));
        html.push_str(HTML_TAIL);
        Ok(html)
    }

    fn rpc(&mut self, page: &Page, method: &str, _params: &str) -> Result<String, Error> {
        match method {
            "increment" => {
                let count = count(page)? + 1;
                page.store_set("count", &json::int_text(count))?;
                let total = total(page)? + 1;
                page.user_set("total", &json::int_text(total))?;
                Ok(result(count, total))
            }
            "get" => Ok(result(count(page)?, total(page)?)),
            _ => Err(Error::unknown_method(method)),
        }
    }
}

gnr::export_handler!(Counter);
