//! Event-log items: one item per event log, in its project's month partition of the table, sorted
//! by time, entered in the user, integration, workflow and trace indexes when it names those.

use super::body::{body_attr, body_from_attr};
use super::execution;
use super::index;
use super::index::{ListIndex, Source};
use super::record_error::{self, error_value};
use super::table::{millis_string, n, s, string_attr, Item, EXPIRES_AT, LSK, PK, SK};
use super::tokens;
use super::tokens::fingerprints_attr;
use crate::bodies::StoredBody;
use crate::model::records::error_summary;
use crate::model::{EventLog, Field, Level, LogField};
use crate::search::Fingerprints;
use std::collections::{BTreeMap, HashMap};

/// An event log to store: the entry, its bodies as stored, and the fingerprints of its tokens.
#[derive(Clone, Debug, PartialEq)]
pub struct LogWrite {
    pub entry: EventLog,
    pub payload: Option<StoredBody>,
    pub error_details: Option<StoredBody>,
    pub tokens: Fingerprints,
    /// Epoch seconds.
    pub expires_at: i64,
}

/// An event log as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct LogRecord {
    pub entry: EventLog,
    pub payload: Option<StoredBody>,
    pub error_details: Option<StoredBody>,
    pub tokens: Fingerprints,
}

/// What every event log's partition key begins with.
pub(super) const PARTITION_PREFIX: &str = "LG#";

/// The table partition of a project's event logs of one month (and shard).
pub fn log_pk(project: &str, bucket: &str, shard: u32, shards: u32) -> String {
    let mut key = format!("{PARTITION_PREFIX}{project}#{bucket}");
    if shards > 1 {
        key.push_str(&format!("#s{shard}"));
    }
    key
}

/// The project and month of a log partition key.
pub fn parse_log_pk(pk: &str) -> Option<(&str, &str)> {
    let mut parts = pk.strip_prefix(PARTITION_PREFIX)?.split('#');
    Some((parts.next()?, parts.next()?))
}

const LEVEL: &str = "lv";
const TYPE: &str = "ty";
const MESSAGE: &str = "lm";
const PAYLOAD: &str = "pl";

/// What the indexes event logs are filtered in project besides: level and type.
pub const FILTERED: [&str; 2] = [LEVEL, TYPE];

/// What the trace index projects besides the listing attributes (which cover the fields logs share
/// with executions: `u`, `w`, `tr`, `i`, `s`, the listed error and `exp`): every other list field
/// of an event log, so one Query returns a whole trace (the log's full error stays in the table;
/// the trace carries the listing message).
pub const TRACED: [&str; 10] = [LEVEL, TYPE, MESSAGE, "pe", "cc", "cf", "wh", "ei", "en", PAYLOAD];

/// The attribute of an optional field; those an execution also has are its attributes, so the
/// indexes project them once for both.
fn attribute(f: LogField) -> &'static str {
    match f {
        LogField::EndUserId => execution::attribute(Field::UserId),
        LogField::PersonaId => "pe",
        LogField::ConnectCredentialId => "cc",
        LogField::ConnectCredentialConfigId => "cf",
        LogField::WorkflowId => execution::attribute(Field::WorkflowId),
        LogField::TraceId => execution::attribute(Field::TraceId),
        LogField::IntegrationId => execution::attribute(Field::Integration),
        LogField::WebhookId => "wh",
        LogField::EventId => "ei",
        LogField::EventName => "en",
        LogField::Status => execution::attribute(Field::Status),
    }
}

/// The attributes a level or type filter tests.
pub(super) fn level_attribute() -> &'static str {
    LEVEL
}

pub(super) fn type_attribute() -> &'static str {
    TYPE
}

pub fn text(item: &Item, f: LogField) -> Option<&str> {
    string_attr(item, attribute(f))
}

/// The attribute a log filter tests.
pub fn filter_attribute(f: LogField) -> &'static str {
    attribute(f)
}

pub(super) fn millis_of(w: &LogWrite) -> Option<i64> {
    crate::dates::parse(&w.entry.timestamp).map(|t| t.timestamp_millis())
}

/// The table key of a log: its month partition and its listing key.
pub fn log_key(project: &str, timestamp_millis: i64, id: &str, shards: u32) -> Option<(String, String)> {
    let t = chrono::DateTime::from_timestamp_millis(timestamp_millis)?;
    let bucket = index::month_bucket(t);
    Some((
        log_pk(project, &bucket, index::shard_of(id, shards), shards),
        index::listing_sk(timestamp_millis, id),
    ))
}

pub fn log_item(w: &LogWrite, shards: u32) -> Option<Item> {
    let e = &w.entry;
    let millis = millis_of(w)?;
    let (pk, sk) = log_key(&e.project_id, millis, &e.id, shards)?;
    let bucket = index::month_bucket(chrono::DateTime::from_timestamp_millis(millis)?);
    let shard = index::shard_of(&e.id, shards);
    let mut item: Item = HashMap::from([
        (PK.to_string(), s(pk)),
        (SK.to_string(), s(&sk)),
        (LSK.to_string(), s(&sk)),
        (LEVEL.to_string(), s(e.level.as_str())),
        (TYPE.to_string(), s(&e.log_type)),
        (MESSAGE.to_string(), s(&e.message)),
        (EXPIRES_AT.to_string(), n(w.expires_at)),
    ]);
    for f in LogField::ALL {
        if let Some(v) = e.field(f) {
            item.insert(attribute(f).to_string(), s(v));
        }
    }
    if let Some(err) = &e.error {
        record_error::put_error(&mut item, err);
    }
    if let Some(b) = &w.error_details {
        record_error::put_details(&mut item, b);
    }
    if let Some(b) = &w.payload {
        item.insert(PAYLOAD.into(), body_attr(b));
    }
    if !w.tokens.is_empty() {
        item.insert(tokens::TOKENS_ATTRIBUTE.into(), fingerprints_attr(&w.tokens));
    }
    for index in [
        ListIndex::User,
        ListIndex::Integration,
        ListIndex::Workflow,
        ListIndex::Trace,
    ] {
        let Some(value) = index.log_field().and_then(|f| e.field(f)) else {
            continue;
        };
        let partition = index::partition_key(Source::Logs, index, &e.project_id, &bucket, shard, shards, Some(value));
        item.insert(index.key_attribute().to_string(), s(partition));
    }
    Some(item)
}

/// An event log from its item, or from a trace-index entry (which carries the listing message of
/// its error, not the whole error).
pub fn log_from_item(item: &Item) -> Option<LogRecord> {
    let (project, _) = parse_log_pk(string_attr(item, PK)?)?;
    let (millis, id) = index::parse_listing_sk(string_attr(item, SK)?)?;
    let mut fields = BTreeMap::new();
    for f in LogField::ALL {
        if let Some(v) = text(item, f) {
            fields.insert(f.wire_name(), v.to_string());
        }
    }
    let error_details = record_error::details(item);
    let error = error_value(item, error_details.as_ref()).and_then(|v| error_summary(&v));
    Some(LogRecord {
        entry: EventLog {
            id: id.to_string(),
            project_id: project.to_string(),
            timestamp: millis_string(millis)?,
            level: Level::parse(string_attr(item, LEVEL)?)?,
            log_type: string_attr(item, TYPE)?.to_string(),
            message: string_attr(item, MESSAGE)?.to_string(),
            fields,
            error,
        },
        payload: item.get(PAYLOAD).and_then(body_from_attr),
        error_details,
        tokens: tokens::fingerprints_of(item),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bodies::{Body, StoredBody};
    use crate::model::ErrorSummary;
    use crate::search::Fingerprints;

    #[test]
    fn log_items_round_trip_and_enter_the_indexes_of_their_fields() {
        let mut fields = BTreeMap::new();
        fields.insert(LogField::TraceId.wire_name(), "t-1".to_string());
        fields.insert(LogField::EndUserId.wire_name(), "user-7".to_string());
        fields.insert(LogField::WebhookId.wire_name(), "wh-1".to_string());
        let payload = Body::new(br#"{"recordId":"00Q5g000004XyZ"}"#.to_vec());
        let mut tokens = Fingerprints::default();
        tokens.add_json(&payload.raw);
        let w = LogWrite {
            entry: EventLog {
                id: "l1".into(),
                project_id: "p1".into(),
                timestamp: "2026-11-20T06:21:41.900Z".into(),
                level: Level::Info,
                log_type: "WEBHOOK_TRIGGER".into(),
                message: "Webhook Trigger request received".into(),
                fields,
                error: Some(ErrorSummary {
                    code: Some("E".into()),
                    message: "m".repeat(300),
                }),
            },
            payload: Some(StoredBody::new(&payload, 4096)),
            error_details: None,
            tokens: tokens.clone(),
            expires_at: 1_900_000_000,
        };
        let item = log_item(&w, 1).unwrap();
        assert_eq!(string_attr(&item, PK), Some("LG#p1#2026-11"));
        assert!(item.contains_key("gU") && item.contains_key("gR") && !item.contains_key("gI"));
        let back = log_from_item(&item).unwrap();
        assert_eq!(back.entry, w.entry);
        assert_eq!(back.payload, w.payload);
        assert_eq!(back.tokens, tokens);
        let trace = index::trace_pk("p1", "t-1", 0, 1);
        assert!(index::in_partition(
            Source::Logs,
            "p1",
            ListIndex::Trace,
            &trace,
            &item,
            &super::super::shard_layout::ShardLayout::single()
        ));
        assert!(!index::in_partition(
            Source::Executions,
            "p1",
            ListIndex::Trace,
            &trace,
            &item,
            &super::super::shard_layout::ShardLayout::single()
        ));
        let table = log_pk("p1", "2026-11", 0, 1);
        assert!(index::in_partition(
            Source::Logs,
            "p1",
            ListIndex::Table,
            &table,
            &item,
            &super::super::shard_layout::ShardLayout::single()
        ));
    }
}
