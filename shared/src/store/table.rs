//! The table itself: its key attributes, the bookkeeping every record item carries (expiry,
//! version, write token), and the helpers that read and write attribute values. Names are short
//! because DynamoDB bills attribute names with every item and index entry (docs/data-model.md).

use super::body::inline_size;
use super::execution::RANKS;
use crate::dates;
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;
use std::collections::HashMap;

pub type Item = HashMap<String, AttributeValue>;

pub const PK: &str = "pk";

pub const SK: &str = "sk";

/// Sort key of every listing index.
pub const LSK: &str = "lsk";

/// TTL attribute (epoch seconds); the template's TimeToLiveSpecification names it too.
pub const EXPIRES_AT: &str = "exp";

/// Optimistic-concurrency version, bumped on every write.
pub const VERSION: &str = "v";

/// Token of the guarded put that wrote the item (`GuardedPut`).
pub const WRITE_TOKEN: &str = "wt";

/// Attributes that serve the store, not the record: what an item would shed at its floor.
pub const BOOKKEEPING: [&str; 4] = [RANKS, VERSION, EXPIRES_AT, WRITE_TOKEN];

/// A fresh write token: 64 random bits, 16 hex characters.
pub fn write_token() -> AttributeValue {
    AttributeValue::S(format!("{:016x}", rand::random::<u64>()))
}

pub(super) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(super) fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub fn string_attr<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str)
}

pub fn number_attr(item: &Item, name: &str) -> Option<i64> {
    item.get(name).and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok())
}

pub fn version(item: &Item) -> Option<u64> {
    number_attr(item, VERSION).map(|v| v as u64)
}

/// Whether the item's retention has passed (DynamoDB deletes expired items late, or never locally).
pub fn is_expired(item: &Item, now_epoch: i64) -> bool {
    number_attr(item, EXPIRES_AT).is_some_and(|t| t <= now_epoch)
}

pub fn sort_key(item: &Item) -> &str {
    string_attr(item, SK).unwrap_or("")
}

pub fn listing_key(item: &Item) -> &str {
    string_attr(item, LSK).unwrap_or("")
}

/// About what a record adds to a JSON response: its stored size, with room for escaping, plus its
/// inline bodies as they unpack.
pub fn response_size(item: &Item) -> usize {
    let stored = super::capacity::item_size(item);
    let unpacked: usize = item
        .values()
        .filter_map(|v| v.as_b().ok())
        .map(|b| inline_size(b.as_ref()))
        .sum();
    stored * 2 + unpacked
}

pub(super) fn millis_string(millis: i64) -> Option<String> {
    chrono::DateTime::from_timestamp_millis(millis).map(dates::format)
}

pub(super) fn value_millis(v: &Value) -> Option<i64> {
    dates::parse(v.as_str()?).map(|t| t.timestamp_millis())
}
