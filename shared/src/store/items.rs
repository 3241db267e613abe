//! Mapping between domain records and DynamoDB items: every attribute name lives here. Names are
//! short because DynamoDB bills attribute names with every item and index entry (see
//! docs/data-model.md for the sizes).

use super::keys::{self, ListIndex, Source};
use super::{RecordBodies, StoredUnit, UnitCommit, UnitKey};
use crate::model::api_key::KeyRecord;
use crate::bodies::{self, Encoding, Placement, StoredBody};
use crate::dates;
use crate::merge::{Fields, Ranked};
use crate::model::records::{error_summary, listing_message, run_duration};
use crate::model::{ErrorSummary, ExecutionSummary, Field, Kind, RecordKind, Status, StepSummary};
use crate::search::Fingerprints;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
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
/// Merge ranks: one character per field of `Field::ALL`, `-` when the field is unset.
const RANKS: &str = "rk";
/// A step's `dateStarted` (an execution's is in its listing key).
const STARTED: &str = "ds";
/// `runDuration`, given or derived from the dates (the rank says whether it was given).
const DURATION: &str = "rd";
pub(super) const ERROR_CODE: &str = "ec";
/// The error message as listings show it (cut to `LISTING_MESSAGE` characters)...
pub(super) const ERROR_MESSAGE: &str = "em";
/// ...and the whole message, only when it was cut.
pub(super) const ERROR_MESSAGE_FULL: &str = "eM";
pub(super) const ERROR_DETAILS: &str = "ed";

/// The attributes every listing index projects besides its keys: the list fields, and the expiry
/// so listings hide expired records before TTL deletes them.
pub const LISTING_ATTRIBUTES: [&str; 13] = [
    "w",
    "wn",
    "u",
    "i",
    "tt",
    "tr",
    "s",
    "tc",
    DURATION,
    "de",
    ERROR_CODE,
    ERROR_MESSAGE,
    EXPIRES_AT,
];

/// The attribute holding a plain field's value (error and bodies have their own layout).
pub(super) fn attribute(f: Field) -> &'static str {
    match f {
        Field::WorkflowId => "w",
        Field::WorkflowName => "wn",
        Field::UserId => "u",
        Field::Integration => "i",
        Field::TriggerType => "tt",
        Field::TraceId => "tr",
        Field::StepName => "sn",
        Field::StepType => "sy",
        Field::Status => "s",
        Field::TaskCount => "tc",
        Field::RunDuration => DURATION,
        Field::DateStarted => STARTED,
        Field::DateEnded => "de",
        Field::Error => ERROR_MESSAGE,
        Field::Input => "bi",
        Field::Output => "bo",
    }
}

/// What the indexes event logs are filtered in project besides: level and type.
pub const LOG_FILTER_ATTRIBUTES: [&str; 2] = [super::log_items::LEVEL, super::log_items::TYPE];

/// What the trace index projects besides: every list field of an event log, so one Query returns a
/// whole trace (the log's full error stays in the table; the trace carries the listing message).
pub const LOG_TRACE_ATTRIBUTES: [&str; 10] = super::log_items::TRACE_ATTRIBUTES;

/// The non-key attributes `index` projects.
pub fn projection(index: ListIndex) -> Vec<&'static str> {
    let mut out = LISTING_ATTRIBUTES.to_vec();
    match index {
        ListIndex::Trace => out.extend(LOG_TRACE_ATTRIBUTES),
        ListIndex::User | ListIndex::Integration | ListIndex::Workflow => out.extend(LOG_FILTER_ATTRIBUTES),
        _ => {}
    }
    out
}

/// The entry an item has in `index`: its keys and what the index projects (the whole item for the
/// table); `None` when the item is not in the index.
pub fn index_entry(item: &Item, index: ListIndex) -> Option<Item> {
    item.get(index.key_attribute())?;
    if index == ListIndex::Table {
        return Some(item.clone());
    }
    let projected = projection(index);
    Some(
        item.iter()
            .filter(|(k, _)| {
                let k = k.as_str();
                k == PK || k == SK || k == LSK || k == index.key_attribute() || projected.contains(&k)
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    )
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

/// The listing key of an entry of `index`, or of a `LastEvaluatedKey` from it (which holds only key
/// attributes: for the table, `pk` and `sk`).
pub fn entry_key(item: &Item, index: ListIndex) -> &str {
    string_attr(item, index.sort_attribute()).unwrap_or("")
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

/// The unpacked size of an inline body attribute, without unpacking it: a raw body is its bytes, a
/// gzip one names its size in its trailer (ISIZE, little-endian); an S3 reference adds nothing.
fn inline_size(attr: &[u8]) -> usize {
    match attr.split_first() {
        Some((&TAG_RAW, data)) => data.len(),
        Some((&TAG_GZIP, data)) if data.len() >= 4 => {
            u32::from_le_bytes(data[data.len() - 4..].try_into().unwrap_or_default()) as usize
        }
        _ => 0,
    }
}

// ---- bodies: one Binary attribute each: a tag byte, then the data or the S3 reference.

const TAG_RAW: u8 = 0;
const TAG_GZIP: u8 = 1;
const TAG_EXTERNAL: u8 = 2;

pub(super) fn body_attr(b: &StoredBody) -> AttributeValue {
    let mut bytes = Vec::new();
    match &b.placement {
        Placement::Inline { encoding, data } => {
            bytes.push(match encoding {
                Encoding::Raw => TAG_RAW,
                Encoding::Gzip => TAG_GZIP,
            });
            bytes.extend_from_slice(data);
        }
        Placement::External => {
            bytes.push(TAG_EXTERNAL);
            bytes.extend_from_slice(&b.size.to_be_bytes());
            bytes.extend_from_slice(&hex::decode(&b.sha256).unwrap_or_default());
        }
    }
    AttributeValue::B(Blob::new(bytes))
}

pub(super) fn body_from_attr(v: &AttributeValue) -> Option<StoredBody> {
    let bytes = v.as_b().ok()?.as_ref();
    let (&tag, rest) = bytes.split_first()?;
    let encoding = match tag {
        TAG_RAW => Encoding::Raw,
        TAG_GZIP => Encoding::Gzip,
        TAG_EXTERNAL => {
            let size = u64::from_be_bytes(rest.get(..8)?.try_into().ok()?);
            return Some(StoredBody {
                sha256: hex::encode(rest.get(8..40)?),
                size,
                placement: Placement::External,
            });
        }
        _ => return None,
    };
    let raw = bodies::decode(encoding, rest).ok()?;
    Some(StoredBody {
        sha256: hex::encode(Sha256::digest(&raw)),
        size: raw.len() as u64,
        placement: Placement::Inline {
            encoding,
            data: rest.to_vec(),
        },
    })
}

// ---- ranks

fn ranks_attr(fields: &Fields) -> AttributeValue {
    s(Field::ALL
        .iter()
        .map(|f| match fields.get(f) {
            Some(r) => char::from(b'0' + r.rank.min(9)),
            None => '-',
        })
        .collect::<String>())
}

fn ranks(item: &Item) -> HashMap<Field, u8> {
    let text = string_attr(item, RANKS).unwrap_or("");
    Field::ALL
        .iter()
        .zip(text.bytes())
        .filter(|(_, c)| c.is_ascii_digit())
        .map(|(f, c)| (*f, c - b'0'))
        .collect()
}

pub(super) fn millis_string(millis: i64) -> Option<String> {
    chrono::DateTime::from_timestamp_millis(millis).map(dates::format)
}

fn value_millis(v: &Value) -> Option<i64> {
    dates::parse(v.as_str()?).map(|t| t.timestamp_millis())
}

// ---- records

/// The item a commit writes: summary or step, its bodies inline or referenced, and for an
/// execution its listing index keys.
pub fn unit_item(commit: &UnitCommit, list_shards: u32) -> Item {
    let key = &commit.key;
    let mut item: Item = HashMap::new();
    item.insert(PK.into(), s(keys::execution_pk(&key.project, &key.execution)));
    let kind = match &key.step {
        None => RecordKind::Execution,
        Some(step) => {
            item.insert(SK.into(), s(keys::step_sk(step)));
            RecordKind::Step
        }
    };
    for (field, ranked) in &commit.fields {
        let v = &ranked.value;
        match field.kind() {
            Kind::Text | Kind::Status => {
                if let Some(t) = v.as_str() {
                    item.insert(attribute(*field).into(), s(t));
                }
            }
            Kind::Count => {
                if let Some(c) = v.as_u64() {
                    item.insert(attribute(*field).into(), n(c));
                }
            }
            Kind::Time => {
                if let Some(m) = value_millis(v) {
                    item.insert(attribute(*field).into(), n(m));
                }
            }
            Kind::Error => {
                if let Some(e) = error_summary(v) {
                    if let Some(code) = e.code {
                        item.insert(ERROR_CODE.into(), s(code));
                    }
                    let short = listing_message(&e.message);
                    if short != e.message {
                        item.insert(ERROR_MESSAGE_FULL.into(), s(&e.message));
                    }
                    item.insert(ERROR_MESSAGE.into(), s(short));
                }
            }
            Kind::Body => {}
        }
    }
    for (attr, body) in [
        (attribute(Field::Input), &commit.bodies.input),
        (attribute(Field::Output), &commit.bodies.output),
        (ERROR_DETAILS, &commit.bodies.error_details),
    ] {
        if let Some(b) = body {
            item.insert(attr.into(), body_attr(b));
        }
    }
    if let Some(d) = run_duration(&commit.fields) {
        item.insert(DURATION.into(), n(d));
    }
    item.insert(RANKS.into(), ranks_attr(&commit.fields));
    item.insert(VERSION.into(), n(commit.expected_version.unwrap_or(0) + 1));
    item.insert(EXPIRES_AT.into(), n(commit.expires_at));
    if kind == RecordKind::Execution {
        item.insert(SK.into(), s(keys::SUMMARY_SK));
        // dateStarted lives in the listing key; an execution's own attribute would repeat it.
        item.remove(STARTED);
        add_listing_keys(&mut item, key, &commit.fields, list_shards);
    }
    item
}

fn add_listing_keys(item: &mut Item, key: &UnitKey, fields: &Fields, shards: u32) {
    let Some(started) = fields.get(&Field::DateStarted).and_then(|r| value_millis(&r.value)) else {
        return;
    };
    let Some(t) = chrono::DateTime::from_timestamp_millis(started) else {
        return;
    };
    let bucket = keys::month_bucket(t);
    let shard = keys::shard_of(&key.execution, shards);
    item.insert(LSK.into(), s(keys::listing_sk(started, &key.execution)));
    for index in ListIndex::ALL {
        let value = match index {
            ListIndex::Project => None,
            ListIndex::Status => match fields.get(&Field::Status).and_then(|r| r.value.as_str()) {
                Some(v) => Some(v),
                None => continue,
            },
            _ => match index
                .field()
                .and_then(|f| fields.get(&f))
                .and_then(|r| r.value.as_str())
            {
                Some(v) => Some(v),
                None => continue,
            },
        };
        item.insert(
            index.key_attribute().into(),
            s(keys::partition_key(
                Source::Executions,
                index,
                &key.project,
                &bucket,
                shard,
                shards,
                value,
            )),
        );
    }
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

pub(super) fn bodies_of(item: &Item) -> RecordBodies {
    let body = |attr: &str| item.get(attr).and_then(body_from_attr);
    RecordBodies {
        input: body(attribute(Field::Input)),
        output: body(attribute(Field::Output)),
        error_details: body(ERROR_DETAILS),
    }
}

/// The texts of a record's error a search matches: its code and its whole message.
pub(super) fn error_texts(item: &Item) -> Vec<&str> {
    [ERROR_CODE, ERROR_MESSAGE_FULL, ERROR_MESSAGE]
        .iter()
        .filter(|a| **a != ERROR_MESSAGE || !item.contains_key(ERROR_MESSAGE_FULL))
        .filter_map(|a| string_attr(item, a))
        .collect()
}

/// The merge state of a stored record. With `bodies`, the body fields carry their digests; without,
/// they are left out (a summary needs none, so reading one never decodes or hashes a body).
fn fields_of(item: &Item, bodies: Option<&RecordBodies>) -> Fields {
    let mut fields = Fields::new();
    for (field, rank) in ranks(item) {
        let value = match field.kind() {
            Kind::Text | Kind::Status => string_attr(item, attribute(field)).map(|t| json!(t)),
            Kind::Count => number_attr(item, attribute(field)).map(|c| json!(c)),
            Kind::Time if field == Field::DateStarted => started_millis(item).and_then(millis_string).map(|t| json!(t)),
            Kind::Time => number_attr(item, attribute(field))
                .and_then(millis_string)
                .map(|t| json!(t)),
            Kind::Error => error_value(item, bodies.and_then(|b| b.error_details.as_ref())),
            Kind::Body => match field {
                Field::Input => bodies.and_then(|b| b.input.as_ref()).map(|b| json!(b.sha256)),
                _ => bodies.and_then(|b| b.output.as_ref()).map(|b| json!(b.sha256)),
            },
        };
        if let Some(value) = value {
            fields.insert(field, Ranked { rank, value });
        }
    }
    fields
}

/// A stored record back into its merge state, bodies included.
pub fn unit_from_item(item: &Item) -> StoredUnit {
    let bodies = bodies_of(item);
    StoredUnit {
        fields: fields_of(item, Some(&bodies)),
        bodies,
        version: version(item).unwrap_or(0),
        expires_at: number_attr(item, EXPIRES_AT).unwrap_or(0),
    }
}

fn started_millis(item: &Item) -> Option<i64> {
    number_attr(item, STARTED).or_else(|| keys::parse_listing_sk(string_attr(item, LSK)?).map(|(m, _)| m))
}

/// Which unit an item stores.
pub fn unit_key_of(item: &Item) -> Option<UnitKey> {
    let pk = string_attr(item, PK)?.strip_prefix("EX#")?;
    let (project, execution) = pk.split_once('#')?;
    let sk = string_attr(item, SK)?;
    Some(UnitKey {
        project: project.to_string(),
        execution: execution.to_string(),
        step: keys::step_id_of(sk).map(str::to_string),
    })
}

pub fn unit_keys(key: &UnitKey) -> (String, String) {
    let pk = keys::execution_pk(&key.project, &key.execution);
    let sk = match &key.step {
        None => keys::SUMMARY_SK.to_string(),
        Some(step) => keys::step_sk(step),
    };
    (pk, sk)
}

/// Whether an entry belongs to `partition` of `index` and to the `source` family: recomputed from
/// the entry itself, so neither a partition-key digest collision nor a trace partition (which
/// holds both families) can put a foreign row in a listing.
pub fn in_partition(
    source: Source,
    project: &str,
    index: ListIndex,
    partition: &str,
    item: &Item,
    shards: u32,
) -> bool {
    let Some((started, id)) = string_attr(item, LSK).and_then(keys::parse_listing_sk) else {
        return false;
    };
    let Some(t) = chrono::DateTime::from_timestamp_millis(started) else {
        return false;
    };
    let bucket = keys::month_bucket(t);
    let shard = keys::shard_of(id, shards);
    let value = match source {
        Source::Executions => {
            if string_attr(item, PK) != Some(keys::execution_pk(project, id).as_str())
                || string_attr(item, SK) != Some(keys::SUMMARY_SK)
            {
                return false;
            }
            match index {
                ListIndex::Project | ListIndex::Table => None,
                ListIndex::Status => string_attr(item, attribute(Field::Status)),
                _ => index.field().and_then(|f| string_attr(item, attribute(f))),
            }
        }
        Source::Logs => {
            if string_attr(item, PK) != Some(keys::log_pk(project, &bucket, shard, shards).as_str())
                || string_attr(item, SK) != string_attr(item, LSK)
            {
                return false;
            }
            index.log_field().and_then(|f| super::log_items::text(item, f))
        }
    };
    keys::partition_key(source, index, project, &bucket, shard, shards, value) == partition
}

/// A position just at `lsk` in `partition`, as `ExclusiveStartKey`: a read resumes strictly after
/// it. `None` when `lsk` is a bound rather than an entry's key.
pub fn index_start(
    source: Source,
    project: &str,
    index: ListIndex,
    partition: &str,
    lsk: &str,
    shards: u32,
) -> Option<Item> {
    let (millis, id) = keys::parse_listing_sk(lsk)?;
    let (pk, sk) = match source {
        Source::Executions => (keys::execution_pk(project, id), keys::SUMMARY_SK.to_string()),
        // The table is read partition by partition (month and shard): the start key names the one
        // being read, wherever the entry at `lsk` lives.
        Source::Logs if index == ListIndex::Table => (partition.to_string(), lsk.to_string()),
        Source::Logs => {
            let bucket = keys::month_bucket(chrono::DateTime::from_timestamp_millis(millis)?);
            (
                keys::log_pk(project, &bucket, keys::shard_of(id, shards), shards),
                lsk.to_string(),
            )
        }
    };
    let mut start = HashMap::from([(PK.to_string(), s(pk)), (SK.to_string(), s(sk))]);
    if index != ListIndex::Table {
        start.insert(index.key_attribute().to_string(), s(partition));
        start.insert(LSK.to_string(), s(lsk));
    }
    Some(start)
}

/// An execution summary from a listing index entry (the projected attributes only).
pub fn summary_from_listing(project: &str, item: &Item) -> Option<ExecutionSummary> {
    let (started, id) = keys::parse_listing_sk(string_attr(item, LSK)?)?;
    let text = |a: &str| string_attr(item, a).map(str::to_string);
    Some(ExecutionSummary {
        id: id.to_string(),
        project_id: project.to_string(),
        workflow_id: text(attribute(Field::WorkflowId))?,
        workflow_name: text(attribute(Field::WorkflowName)),
        user_id: text(attribute(Field::UserId)),
        integration: text(attribute(Field::Integration)),
        trigger_type: text(attribute(Field::TriggerType)),
        trace_id: text(attribute(Field::TraceId)),
        status: Status::parse(string_attr(item, attribute(Field::Status))?)?,
        task_count: number_attr(item, attribute(Field::TaskCount)).map(|c| c as u64),
        run_duration: number_attr(item, DURATION).map(|c| c as u64),
        date_started: millis_string(started)?,
        date_ended: number_attr(item, attribute(Field::DateEnded)).and_then(millis_string),
        error: string_attr(item, ERROR_MESSAGE).map(|m| ErrorSummary {
            code: text(ERROR_CODE),
            message: m.to_string(),
        }),
    })
}

/// The full summary of a stored execution item, and its bodies.
pub fn execution_from_item(item: &Item) -> Option<(ExecutionSummary, RecordBodies)> {
    let key = unit_key_of(item)?;
    let summary = ExecutionSummary::from_fields(&key.project, &key.execution, &fields_of(item, None))?;
    Some((summary, bodies_of(item)))
}

/// A step's summary alone: its bodies stay untouched.
pub fn step_summary(item: &Item) -> Option<StepSummary> {
    let key = unit_key_of(item)?;
    StepSummary::from_fields(key.step.as_deref()?, &fields_of(item, None))
}

pub fn step_from_item(item: &Item) -> Option<(StepSummary, RecordBodies)> {
    Some((step_summary(item)?, bodies_of(item)))
}

/// A step's place in `dateStarted` order.
pub fn step_order(item: &Item) -> Option<String> {
    let id = keys::step_id_of(sort_key(item))?;
    Some(keys::step_order_key(number_attr(item, STARTED)?, id))
}

// ---- an execution's token fingerprints: one small item beside its summary

const TOKENS: &str = "tk";

pub fn tokens_key(project: &str, execution: &str) -> (String, String) {
    (keys::execution_pk(project, execution), keys::TOKENS_SK.to_string())
}

/// Which execution a fingerprint item belongs to, its fingerprints, version and expiry.
pub fn tokens_from_item(item: &Item) -> Option<((String, String), Fingerprints, u64, i64)> {
    let pk = string_attr(item, PK)?.strip_prefix("EX#")?;
    if string_attr(item, SK)? != keys::TOKENS_SK {
        return None;
    }
    let (project, execution) = pk.split_once('#')?;
    Some((
        (project.to_string(), execution.to_string()),
        fingerprints_of(item),
        version(item).unwrap_or(0),
        number_attr(item, EXPIRES_AT).unwrap_or(0),
    ))
}

pub(super) fn fingerprints_of(item: &Item) -> Fingerprints {
    match item.get(TOKENS).and_then(|v| v.as_b().ok()) {
        Some(b) => Fingerprints::decode(b.as_ref()),
        None => Fingerprints::default(),
    }
}

pub(super) fn fingerprints_attr(f: &Fingerprints) -> AttributeValue {
    AttributeValue::B(Blob::new(f.encode()))
}

pub fn tokens_item(project: &str, execution: &str, f: &Fingerprints, version: u64, expires_at: i64) -> Item {
    let (pk, sk) = tokens_key(project, execution);
    HashMap::from([
        (PK.to_string(), s(pk)),
        (SK.to_string(), s(sk)),
        (TOKENS.to_string(), fingerprints_attr(f)),
        (VERSION.to_string(), n(version)),
        (EXPIRES_AT.to_string(), n(expires_at)),
    ])
}

pub(super) const TOKENS_ATTRIBUTE: &str = TOKENS;

// ---- filters a listing applies to index entries that the index key does not decide

/// The attribute a dimension filter tests.
pub fn filter_attribute(f: Field) -> &'static str {
    attribute(f)
}

pub fn status_attribute() -> &'static str {
    attribute(Field::Status)
}

// ---- API keys

pub fn key_record(item: &Item) -> Option<KeyRecord> {
    Some(KeyRecord {
        key_id: string_attr(item, "keyId")?.to_string(),
        project_id: string_attr(item, "projectId")?.to_string(),
        name: string_attr(item, "name").unwrap_or("").to_string(),
        created_at: number_attr(item, "createdAt").unwrap_or(0),
        revoked_at: number_attr(item, REVOKED_AT),
        secret_hash: string_attr(item, "secretHash")?.to_string(),
    })
}

pub const REVOKED_AT: &str = "revokedAt";

/// The lookup entry and the project listing entry of a key.
pub fn key_items(r: &KeyRecord) -> [Item; 2] {
    let item = |pk: String, sk: String| {
        Item::from([
            (PK.to_string(), s(pk)),
            (SK.to_string(), s(sk)),
            ("keyId".to_string(), s(&r.key_id)),
            ("projectId".to_string(), s(&r.project_id)),
            ("name".to_string(), s(&r.name)),
            ("createdAt".to_string(), n(r.created_at)),
            ("secretHash".to_string(), s(&r.secret_hash)),
        ])
    };
    [
        item(keys::api_key_pk(&r.key_id), keys::API_KEY_SK.into()),
        item(keys::project_keys_pk(&r.project_id), keys::project_key_sk(&r.key_id)),
    ]
}

pub fn key_lookup(key_id: &str) -> (String, String) {
    (keys::api_key_pk(key_id), keys::API_KEY_SK.into())
}

pub fn key_entries(r: &KeyRecord) -> [(String, String); 2] {
    [
        key_lookup(&r.key_id),
        (keys::project_keys_pk(&r.project_id), keys::project_key_sk(&r.key_id)),
    ]
}

pub fn project_keys(project: &str) -> (String, &'static str) {
    (keys::project_keys_pk(project), keys::PROJECT_KEY_SK_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bodies::Body;

    #[test]
    fn the_template_projects_exactly_what_each_index_needs() {
        let template = include_str!("../../../infra/template.yaml");
        let mut total = 0;
        for index in ListIndex::ALL {
            let name = index.index_name().unwrap();
            let at = template.find(&format!("IndexName: {name}")).unwrap();
            let line = template[at..].lines().find(|l| l.contains("NonKeyAttributes")).unwrap();
            let want = projection(index);
            assert_eq!(
                line.trim(),
                format!("NonKeyAttributes: [{}]", want.join(", ")),
                "{name}"
            );
            total += want.len();
        }
        assert!(
            total <= 100,
            "DynamoDB projects at most 100 attributes over all indexes"
        );
        assert!(
            template.contains(&format!("AttributeName: {EXPIRES_AT}")),
            "the TTL attribute"
        );
    }
    use crate::merge::merge_fields;
    use std::collections::BTreeMap;

    fn fields(rank: u8, pairs: &[(Field, Value)]) -> Fields {
        let incoming: BTreeMap<Field, Value> = pairs.iter().cloned().collect();
        let mut f = Fields::new();
        merge_fields(&mut f, rank, &incoming);
        f
    }

    /// A failed execution of workflow `wf` started 2026-11-02T10:00Z, with `extra` fields.
    fn failed(extra: &[(Field, Value)]) -> Fields {
        let mut pairs = vec![
            (Field::WorkflowId, json!("wf")),
            (Field::Status, json!("FAILED")),
            (Field::DateStarted, json!("2026-11-02T10:00:00.000Z")),
        ];
        pairs.extend_from_slice(extra);
        fields(4, &pairs)
    }

    fn commit(fields: Fields, bodies: RecordBodies, step: Option<&str>) -> UnitCommit {
        UnitCommit {
            key: UnitKey {
                project: "p1".into(),
                execution: "e1".into(),
                step: step.map(str::to_string),
            },
            fields,
            bodies,
            expected_version: Some(6),
            expires_at: 1_900_000_000,
        }
    }

    #[test]
    fn summary_items_carry_index_keys_only_for_present_dimensions() {
        let f = failed(&[
            (Field::DateEnded, json!("2026-11-02T10:00:01.500Z")),
            (Field::Integration, json!("salesforce")),
        ]);
        let item = unit_item(&commit(f, RecordBodies::default(), None), 1);
        let key = |v: Option<&str>| keys::listing_pk("p1", "2026-11", 0, 1, v);
        assert_eq!(string_attr(&item, "gP"), Some(key(None).as_str()));
        assert_eq!(string_attr(&item, "gI"), Some(key(Some("salesforce")).as_str()));
        assert_eq!(string_attr(&item, "gS"), Some(key(Some("FAILED")).as_str()));
        assert!(in_partition(
            Source::Executions,
            "p1",
            ListIndex::Integration,
            &key(Some("salesforce")),
            &item,
            1
        ));
        assert!(!in_partition(
            Source::Executions,
            "p1",
            ListIndex::Integration,
            &key(Some("slack")),
            &item,
            1
        ));
        assert!(!in_partition(
            Source::Executions,
            "p2",
            ListIndex::Project,
            &key(None),
            &item,
            1
        ));
        assert!(!item.contains_key("gR"), "no traceId, so not in the trace index");
        assert!(!item.contains_key("gU"));
        assert_eq!(number_attr(&item, DURATION), Some(1500), "derived from the dates");
        assert_eq!(version(&item), Some(7));
        let listed = summary_from_listing("p1", &item).unwrap();
        assert_eq!(listed.id, "e1");
        assert_eq!(listed.date_started, "2026-11-02T10:00:00.000Z");
        assert_eq!(listed.run_duration, Some(1500));
    }

    #[test]
    fn records_round_trip_with_ranks_bodies_and_whole_errors() {
        let long = "m".repeat(500);
        let details = Body::new(br#"{"why":1}"#.to_vec());
        let input = Body::new(b"[1,2]".to_vec());
        let big = Body::new(vec![b'7'; 300_000]);
        let f = fields(
            1,
            &[
                (Field::StepName, json!("fetch")),
                (Field::Status, json!("RUNNING")),
                (Field::DateStarted, json!("2026-11-02T10:00:00.000Z")),
                (Field::DateEnded, json!("2026-11-02T10:00:02.000Z")),
                (
                    Field::Error,
                    json!({"code": "E", "message": long, "details": details.sha256}),
                ),
                (Field::Input, json!(input.sha256)),
                (Field::Output, json!(big.sha256)),
            ],
        );
        let bodies = RecordBodies {
            input: Some(StoredBody::new(&input, 4096)),
            output: Some(StoredBody::new(&big, 4096)),
            error_details: Some(StoredBody::new(&details, 4096)),
        };
        let item = unit_item(&commit(f.clone(), bodies.clone(), Some("s1")), 1);
        let back = unit_from_item(&item);
        assert_eq!(back.fields, f, "runDuration is derived, not a field");
        assert_eq!(back.bodies, bodies);
        assert_eq!(back.version, 7);
        let (step, _) = step_from_item(&item).unwrap();
        assert_eq!(step.error.unwrap().message, long, "get returns the whole message");
        let started = dates::parse("2026-11-02T10:00:00Z").unwrap().timestamp_millis();
        assert_eq!(step_order(&item).unwrap(), format!("{started:013}#s1"));
    }

    #[test]
    fn response_size_counts_inline_bodies_unpacked_without_unpacking_them() {
        let body = Body::new(format!("[{}]", "1,".repeat(3000) + "1").into_bytes());
        let stored = StoredBody::new(&body, 4096);
        assert!(matches!(
            stored.placement,
            Placement::Inline {
                encoding: Encoding::Gzip,
                ..
            }
        ));
        let AttributeValue::B(blob) = body_attr(&stored) else {
            unreachable!()
        };
        assert_eq!(inline_size(blob.as_ref()), body.raw.len());
    }

    #[test]
    fn listings_carry_a_short_error_message() {
        let f = failed(&[(Field::Error, json!({"message": "x".repeat(1000)}))]);
        let item = unit_item(&commit(f, RecordBodies::default(), None), 1);
        let listed = summary_from_listing("p1", &item).unwrap();
        assert_eq!(listed.error.unwrap().message.chars().count(), 200);
        let (full, _) = execution_from_item(&item).unwrap();
        assert_eq!(full.error.unwrap().message.len(), 1000);
    }
}
