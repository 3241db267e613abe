//! Conversions between domain records and DynamoDB items.

use super::Item;
use crate::bodies::{Body, BodyRef, Encoding, Placement};
use crate::config::Settings;
use crate::dates;
use crate::keys::{self, ListIndex};
use crate::merge::{Fields, Ranked};
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;
use std::collections::HashMap;

/// Map attribute holding the merge rank of each field.
const RANKS: &str = "rk";
const BODY_SHA: &str = "sha256";
const BODY_SIZE: &str = "size";
const BODY_ENCODING: &str = "enc";
const BODY_DATA: &str = "data";
const BODY_OBJECT: &str = "s3Key";
const BODY_CONTENT_TYPE: &str = "contentType";
const EXTERNAL: &str = "s3";

/// Fields of an execution summary that a producer may set, in response order.
pub const EXECUTION_FIELDS: [&str; 12] = [
    "workflowId",
    "workflowName",
    "userId",
    "integration",
    "triggerType",
    "traceId",
    "status",
    "taskCount",
    "runDuration",
    "dateStarted",
    "dateEnded",
    "error",
];
/// Fields of a step summary that a producer may set, in response order.
pub const STEP_FIELDS: [&str; 7] = [
    "stepName",
    "stepType",
    "status",
    "dateStarted",
    "dateEnded",
    "runDuration",
    "error",
];

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub fn string_attr<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str)
}

pub fn number_attr(item: &Item, name: &str) -> Option<i64> {
    item.get(name).and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok())
}

pub fn version(item: &Item) -> Option<u64> {
    number_attr(item, keys::VERSION).map(|v| v as u64)
}

/// Whether the item's retention has passed (DynamoDB deletes expired items late, or never locally).
pub fn is_expired(item: &Item, now_epoch: i64) -> bool {
    number_attr(item, keys::EXPIRES_AT).is_some_and(|t| t <= now_epoch)
}

/// Epoch seconds at which a record started at `date_started` expires.
pub fn expires_at(date_started: &str, settings: &Settings) -> Option<i64> {
    dates::parse(date_started).map(|t| (t + chrono::Duration::days(settings.retention_days)).timestamp())
}

fn json_to_attr(v: &Value) -> AttributeValue {
    serde_dynamo::to_attribute_value(v).unwrap_or(AttributeValue::Null(true))
}

pub fn attr_to_json(v: &AttributeValue) -> Value {
    serde_dynamo::from_attribute_value(v.clone()).unwrap_or(Value::Null)
}

/// The producer-set fields of a stored record, with their ranks.
pub fn record_fields(item: &Item) -> Fields {
    let mut fields = Fields::new();
    if let Some(AttributeValue::M(ranks)) = item.get(RANKS) {
        for (name, rank) in ranks {
            let (Some(value), Ok(rank)) = (item.get(name), rank.as_n()) else {
                continue;
            };
            fields.insert(
                name.clone(),
                Ranked {
                    rank: rank.parse().unwrap_or(0),
                    value: attr_to_json(value),
                },
            );
        }
    }
    fields
}

fn field_str<'a>(fields: &'a Fields, name: &str) -> Option<&'a str> {
    fields.get(name).and_then(|r| r.value.as_str())
}

/// `runDuration` as given, or derived from the dates.
fn run_duration(fields: &Fields) -> Option<i64> {
    if let Some(v) = fields.get("runDuration").and_then(|r| r.value.as_i64()) {
        return Some(v);
    }
    let start = dates::parse(field_str(fields, "dateStarted")?)?;
    let end = dates::parse(field_str(fields, "dateEnded")?)?;
    Some((end - start).num_milliseconds().max(0))
}

fn record_item(pk: String, sk: String, ids: &[(&str, &str)], fields: &Fields, settings: &Settings, ver: u64) -> Item {
    let mut item: Item = HashMap::new();
    item.insert(keys::PK.into(), s(pk));
    item.insert(keys::SK.into(), s(sk));
    for (name, value) in ids {
        item.insert((*name).into(), s(*value));
    }
    let mut ranks = HashMap::new();
    for (name, ranked) in fields {
        item.insert(name.clone(), json_to_attr(&ranked.value));
        ranks.insert(name.clone(), n(ranked.rank));
    }
    item.insert(RANKS.into(), AttributeValue::M(ranks));
    if let Some(d) = run_duration(fields) {
        item.insert("runDuration".into(), n(d));
    }
    if let Some(t) = field_str(fields, "dateStarted").and_then(|d| expires_at(d, settings)) {
        item.insert(keys::EXPIRES_AT.into(), n(t));
    }
    item.insert(keys::VERSION.into(), n(ver));
    item
}

/// An execution summary with its listing index keys.
pub fn execution_item(project: &str, id: &str, fields: &Fields, settings: &Settings, ver: u64) -> Item {
    let mut item = record_item(
        keys::execution_pk(project, id),
        keys::SUMMARY_SK.into(),
        &[("projectId", project), ("id", id)],
        fields,
        settings,
        ver,
    );
    if let Some(started) = field_str(fields, "dateStarted") {
        if let Some(t) = dates::parse(started) {
            let bucket = keys::month_bucket(t);
            let shard = keys::shard_of(id, settings.list_shards);
            item.insert(keys::LSK.into(), s(keys::listing_sk(started, id)));
            item.insert(
                ListIndex::Project.key_attribute().into(),
                s(keys::listing_pk(project, &bucket, shard, settings.list_shards, None)),
            );
            for index in ListIndex::DIMENSIONS {
                let value = index.field().and_then(|f| field_str(fields, f));
                if let Some(value) = value {
                    item.insert(
                        index.key_attribute().into(),
                        s(keys::listing_pk(
                            project,
                            &bucket,
                            shard,
                            settings.list_shards,
                            Some(value),
                        )),
                    );
                }
            }
        }
    }
    item
}

pub fn step_item(
    project: &str,
    execution_id: &str,
    step_id: &str,
    fields: &Fields,
    settings: &Settings,
    ver: u64,
) -> Item {
    record_item(
        keys::execution_pk(project, execution_id),
        keys::step_sk(step_id),
        &[("projectId", project), ("executionId", execution_id), ("id", step_id)],
        fields,
        settings,
        ver,
    )
}

/// An immutable, content-addressed body item: inline bytes, or the S3 object holding them.
pub fn body_item(
    pk: String,
    sk: String,
    body: &Body,
    placement: &Placement,
    object_key: &str,
    expires_at: Option<i64>,
) -> Item {
    let mut item: Item = HashMap::from([
        (keys::PK.into(), s(pk)),
        (keys::SK.into(), s(sk)),
        (BODY_SHA.into(), s(&body.sha256)),
        (BODY_SIZE.into(), n(body.raw.len())),
    ]);
    match placement {
        Placement::Inline { encoding, data } => {
            item.insert(BODY_ENCODING.into(), s(encoding.as_str()));
            item.insert(BODY_DATA.into(), AttributeValue::B(Blob::new(data.clone())));
        }
        Placement::External => {
            item.insert(BODY_ENCODING.into(), s(EXTERNAL));
            item.insert(BODY_OBJECT.into(), s(object_key));
            item.insert(BODY_CONTENT_TYPE.into(), s(crate::bodies::CONTENT_TYPE));
        }
    }
    if let Some(t) = expires_at {
        item.insert(keys::EXPIRES_AT.into(), n(t));
    }
    item
}

/// Digest of the current body of `field` according to a summary item.
pub fn body_reference(summary: &Item, field: crate::keys::BodyField) -> Option<&str> {
    string_attr(summary, field.reference_field())
}

/// How a stored body is to be returned.
pub enum StoredBody {
    Inline(Vec<u8>),
    External { object_key: String, reference: BodyRef },
}

pub fn stored_body(item: &Item) -> Option<StoredBody> {
    let enc = string_attr(item, BODY_ENCODING)?;
    if enc == EXTERNAL {
        return Some(StoredBody::External {
            object_key: string_attr(item, BODY_OBJECT)?.to_string(),
            reference: BodyRef {
                url: String::new(),
                size: number_attr(item, BODY_SIZE)? as u64,
                sha256: string_attr(item, BODY_SHA)?.to_string(),
                content_type: string_attr(item, BODY_CONTENT_TYPE)
                    .unwrap_or(crate::bodies::CONTENT_TYPE)
                    .to_string(),
            },
        });
    }
    let data = item.get(BODY_DATA)?.as_b().ok()?;
    crate::bodies::decode(Encoding::parse(enc)?, data.as_ref())
        .ok()
        .map(StoredBody::Inline)
}

/// The public JSON view of a summary item: identity, then `fields` in order (null when unknown).
pub fn summary_json(item: &Item, identity: &[&str], fields: &[&str]) -> serde_json::Map<String, Value> {
    let mut out = serde_json::Map::new();
    for name in identity.iter().chain(fields) {
        out.insert(
            (*name).to_string(),
            item.get(*name).map(attr_to_json).unwrap_or(Value::Null),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merge::merge_fields;
    use serde_json::json;
    use std::collections::BTreeMap;

    fn fields(rank: u8, pairs: Value) -> Fields {
        let incoming: BTreeMap<String, Value> = pairs
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut f = Fields::new();
        merge_fields(&mut f, rank, &incoming);
        f
    }

    #[test]
    fn summary_items_carry_index_keys_only_for_present_dimensions() {
        let f = fields(
            2,
            json!({"workflowId": "wf", "status": "FAILED", "dateStarted": "2026-11-02T10:00:00.000Z",
                                 "dateEnded": "2026-11-02T10:00:01.500Z", "integration": "salesforce"}),
        );
        let item = execution_item("p1", "e1", &f, &Settings::defaults(), 1);
        assert_eq!(string_attr(&item, "gP"), Some("X#p1#2026-11"));
        assert_eq!(string_attr(&item, "gI"), Some("X#p1#2026-11#salesforce"));
        assert_eq!(string_attr(&item, "gS"), Some("X#p1#2026-11#FAILED"));
        assert!(!item.contains_key("gR"), "no traceId, so not in the trace index");
        assert!(!item.contains_key("gU"));
        assert_eq!(string_attr(&item, "lsk"), Some("2026-11-02T10:00:00.000Z#e1"));
        assert_eq!(number_attr(&item, "runDuration"), Some(1500), "derived from the dates");
        assert_eq!(
            number_attr(&item, "expiresAt"),
            Some(dates::parse("2027-01-31T10:00:00Z").unwrap().timestamp())
        );
    }

    #[test]
    fn fields_round_trip_through_items_but_derived_values_do_not_become_fields() {
        let f = fields(
            1,
            json!({"workflowId": "wf", "status": "RUNNING", "dateStarted": "2026-11-02T10:00:00.000Z",
                                 "dateEnded": "2026-11-02T10:00:02.000Z", "taskCount": 3,
                                 "error": {"code": "E", "message": "m"}}),
        );
        let item = execution_item("p1", "e1", &f, &Settings::defaults(), 7);
        assert_eq!(record_fields(&item), f);
        assert_eq!(version(&item), Some(7));
    }

    #[test]
    fn bodies_round_trip_inline_and_as_references() {
        let body = Body::new(br#"{"k":"v"}"#.to_vec());
        let inline = crate::bodies::place(&body, 8192);
        let item = body_item("pk".into(), "B#input#x".into(), &body, &inline, "obj", None);
        assert!(matches!(stored_body(&item), Some(StoredBody::Inline(b)) if b == body.raw));
        let item = body_item(
            "pk".into(),
            "B#input#x".into(),
            &body,
            &Placement::External,
            "obj",
            None,
        );
        match stored_body(&item) {
            Some(StoredBody::External { object_key, reference }) => {
                assert_eq!(object_key, "obj");
                assert_eq!(reference.size, body.raw.len() as u64);
            }
            _ => panic!("expected a reference"),
        }
    }
}
