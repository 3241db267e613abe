//! A record's error as stored, the same for executions, steps and event logs: its code, the message
//! as listings show it, the whole message when that was cut, and the details body.

use super::body::{body_attr, body_from_attr};
use super::table::{s, string_attr, Item};
use crate::bodies::StoredBody;
use crate::model::records::listing_message;
use crate::model::ErrorSummary;
use serde_json::{json, Value};

const ERROR_CODE: &str = "ec";

/// The error message as listings show it (cut to `LISTING_MESSAGE` characters)...
pub(super) const ERROR_MESSAGE: &str = "em";

/// ...and the whole message, only when it was cut.
const ERROR_MESSAGE_FULL: &str = "eM";

const ERROR_DETAILS: &str = "ed";

/// What listing indexes project of an error: its code and the listing message.
pub(super) const LISTED: [&str; 2] = [ERROR_CODE, ERROR_MESSAGE];

/// Where a record keeps the body of its error's details.
pub(super) const DETAILS: &str = ERROR_DETAILS;

/// Writes an error's code and message into a record's item.
pub(super) fn put_error(item: &mut Item, e: &ErrorSummary) {
    if let Some(code) = &e.code {
        item.insert(ERROR_CODE.into(), s(code));
    }
    let short = listing_message(&e.message);
    if short != e.message {
        item.insert(ERROR_MESSAGE_FULL.into(), s(&e.message));
    }
    item.insert(ERROR_MESSAGE.into(), s(short));
}

/// Writes the error's details body.
pub(super) fn put_details(item: &mut Item, details: &StoredBody) {
    item.insert(ERROR_DETAILS.into(), body_attr(details));
}

pub(super) fn details(item: &Item) -> Option<StoredBody> {
    item.get(ERROR_DETAILS).and_then(body_from_attr)
}

/// The error as a listing entry shows it: the listing message and the code.
pub(super) fn listed(item: &Item) -> Option<ErrorSummary> {
    Some(ErrorSummary {
        code: string_attr(item, ERROR_CODE).map(str::to_string),
        message: string_attr(item, ERROR_MESSAGE)?.to_string(),
    })
}

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
