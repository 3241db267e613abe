//! A record's error as stored, the same for executions, steps and event logs: its code, the message
//! as listings show it, the whole message when that was cut, and the details body.

use super::table::{string_attr, Item};
use crate::bodies::StoredBody;
use serde_json::{json, Value};

pub(super) const ERROR_CODE: &str = "ec";

/// The error message as listings show it (cut to `LISTING_MESSAGE` characters)...
pub(super) const ERROR_MESSAGE: &str = "em";

/// ...and the whole message, only when it was cut.
pub(super) const ERROR_MESSAGE_FULL: &str = "eM";

pub(super) const ERROR_DETAILS: &str = "ed";

pub(super) fn error_value(item: &Item, details: Option<&StoredBody>) -> Option<Value> {
    let message = string_attr(item, ERROR_MESSAGE_FULL).or_else(|| string_attr(item, ERROR_MESSAGE))?;
    let mut v = json!({ "message": message });
    if let Some(code) = string_attr(item, ERROR_CODE) {
        v["code"] = json!(code);
    }
    if let Some(d) = details {
        v["details"] = json!(d.sha256);
    }
    Some(v)
}

/// The texts of a record's error a search matches: its code and its whole message.
pub(super) fn error_texts(item: &Item) -> Vec<&str> {
    [ERROR_CODE, ERROR_MESSAGE_FULL, ERROR_MESSAGE]
        .iter()
        .filter(|a| **a != ERROR_MESSAGE || !item.contains_key(ERROR_MESSAGE_FULL))
        .filter_map(|a| string_attr(item, a))
        .collect()
}
