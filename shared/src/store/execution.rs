//! Execution items and the record layout they share with steps: the key (`EX#{project}#{id}` /
//! `A`), one attribute per field (`Field`), merge ranks, and the mapping from and to records. A
//! summary also carries its listing index keys (`index`).

use super::body::{body_attr, body_from_attr, body_object_key};
use super::index;
use super::index::{listing_sk, ListIndex, Source};
use super::record_error::{self, error_value, ERROR_MESSAGE};
use super::step;
use super::step::step_sk;
use super::table::{
    millis_string, n, number_attr, s, string_attr, value_millis, version, Item, EXPIRES_AT, LSK, PK, SK, VERSION,
};
use super::tokens::StoredTokens;
use crate::bodies::StoredBody;
use crate::model::merge::{Fields, Ranked};
use crate::model::records::{error_summary, run_duration};
use crate::model::{ExecutionSummary, Field, Kind, RecordKind, Status, StepSummary};
use crate::query::Page;
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::json;
use std::collections::HashMap;

/// The bodies of a record, as stored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecordBodies {
    pub input: Option<StoredBody>,
    pub output: Option<StoredBody>,
    pub error_details: Option<StoredBody>,
}

/// An execution as get returns it: the summary (full error message), its bodies, and the first
/// page of its steps in `dateStarted` order.
#[derive(Clone, Debug, PartialEq)]
pub struct ExecutionRecord {
    pub summary: ExecutionSummary,
    pub bodies: RecordBodies,
    pub steps: Page<StepSummary>,
}

/// A record ingest merges into: an execution summary, or one step of an execution.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UnitKey {
    pub project: String,
    pub execution: String,
    pub step: Option<String>,
}

/// A record as stored, with what a commit needs to replace it.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredUnit {
    pub fields: Fields,
    pub bodies: RecordBodies,
    pub version: u64,
    /// Epoch seconds; fixed at the first write.
    pub expires_at: i64,
}

/// A merged record to write, guarded by the version that was read (`None`: must not exist yet).
#[derive(Clone, Debug, PartialEq)]
pub struct UnitCommit {
    pub key: UnitKey,
    pub fields: Fields,
    pub bodies: RecordBodies,
    pub expected_version: Option<u64>,
    pub expires_at: i64,
}

/// What ingest reads before it merges: the units, and the fingerprints of the executions that
/// gain tokens.
#[derive(Clone, Debug, Default)]
pub struct Loaded {
    pub units: HashMap<UnitKey, StoredUnit>,
    /// By (project, execution).
    pub tokens: HashMap<(String, String), StoredTokens>,
}

/// Sort key of an execution summary.
pub const SUMMARY_SK: &str = "A";

/// What every key of an execution's partition begins with (its summary, steps and tokens).
pub(super) const PARTITION_PREFIX: &str = "EX#";

pub fn execution_pk(project: &str, execution_id: &str) -> String {
    format!("{PARTITION_PREFIX}{project}#{execution_id}")
}

/// Why ids of these lengths would make a key past its limit (S3 object keys 1,024 bytes, DynamoDB
/// partition keys 2,048 and sort keys 1,024); `None` when every key they become part of fits.
pub fn ids_problem(project: &str, execution: &str, step: Option<&str>) -> Option<String> {
    let digest = "0".repeat(64);
    let checks = [
        (
            "a stored body's S3 key",
            body_object_key(project, Some(execution), &digest).len(),
            1024,
        ),
        ("an execution's key", execution_pk(project, execution).len(), 2048),
        ("a listing key", listing_sk(0, execution).len(), 1024),
        ("a step's key", step.map_or(0, |s| step_sk(s).len()), 1024),
    ];
    checks
        .into_iter()
        .find(|(_, len, max)| len > max)
        .map(|(what, len, max)| format!("the ids make {what} {len} bytes long; the limit is {max}"))
}

/// Merge ranks: one character per field of `Field::ALL`, `-` when the field is unset.
pub(super) const RANKS: &str = "rk";

/// A step's `dateStarted` (an execution's is in its listing key).
pub(super) const STARTED: &str = "ds";

/// `runDuration`, given or derived from the dates (the rank says whether it was given).
const DURATION: &str = "rd";

/// The attributes every listing index projects besides its keys: the list fields, and the expiry
/// so listings hide expired records before TTL deletes them.
pub const LISTED: [&str; 13] = [
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
    record_error::LISTED[0],
    record_error::LISTED[1],
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

/// The item a commit writes: summary or step, its bodies inline or referenced, and for an
/// execution its listing index keys.
/// `shards`: the listing shard count of the epoch the execution started in.
pub fn unit_item(commit: &UnitCommit, shards: u32) -> Item {
    let key = &commit.key;
    let mut item: Item = HashMap::new();
    item.insert(PK.into(), s(execution_pk(&key.project, &key.execution)));
    let kind = match &key.step {
        None => RecordKind::Execution,
        Some(step) => {
            item.insert(SK.into(), s(step::step_sk(step)));
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
                    record_error::put_error(&mut item, &e);
                }
            }
            Kind::Body => {}
        }
    }
    for (attr, body) in [
        (attribute(Field::Input), &commit.bodies.input),
        (attribute(Field::Output), &commit.bodies.output),
        (record_error::DETAILS, &commit.bodies.error_details),
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
        item.insert(SK.into(), s(SUMMARY_SK));
        // dateStarted lives in the listing key; an execution's own attribute would repeat it.
        item.remove(STARTED);
        add_listing_keys(&mut item, key, &commit.fields, shards);
    }
    item
}

/// The time an execution summary is listed by (its `dateStarted`); `None` for a step, or a summary
/// not yet started, which no listing holds.
pub(super) fn listing_millis(commit: &UnitCommit) -> Option<i64> {
    if commit.key.step.is_some() {
        return None;
    }
    commit
        .fields
        .get(&Field::DateStarted)
        .and_then(|r| value_millis(&r.value))
}

fn add_listing_keys(item: &mut Item, key: &UnitKey, fields: &Fields, shards: u32) {
    let Some(started) = fields.get(&Field::DateStarted).and_then(|r| value_millis(&r.value)) else {
        return;
    };
    let Some(t) = chrono::DateTime::from_timestamp_millis(started) else {
        return;
    };
    let bucket = index::month_bucket(t);
    let shard = index::shard_of(&key.execution, shards);
    item.insert(LSK.into(), s(index::listing_sk(started, &key.execution)));
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
            s(index::partition_key(
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

pub(super) fn bodies_of(item: &Item) -> RecordBodies {
    let body = |attr: &str| item.get(attr).and_then(body_from_attr);
    RecordBodies {
        input: body(attribute(Field::Input)),
        output: body(attribute(Field::Output)),
        error_details: body(record_error::DETAILS),
    }
}

/// The merge state of a stored record. With `bodies`, the body fields carry their digests; without,
/// they are left out (a summary needs none, so reading one never decodes or hashes a body).
pub(super) fn fields_of(item: &Item, bodies: Option<&RecordBodies>) -> Fields {
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
    number_attr(item, STARTED).or_else(|| index::parse_listing_sk(string_attr(item, LSK)?).map(|(m, _)| m))
}

/// Which unit an item stores.
pub fn unit_key_of(item: &Item) -> Option<UnitKey> {
    let pk = string_attr(item, PK)?.strip_prefix(PARTITION_PREFIX)?;
    let (project, execution) = pk.split_once('#')?;
    let sk = string_attr(item, SK)?;
    Some(UnitKey {
        project: project.to_string(),
        execution: execution.to_string(),
        step: step::step_id_of(sk).map(str::to_string),
    })
}

pub fn unit_keys(key: &UnitKey) -> (String, String) {
    let pk = execution_pk(&key.project, &key.execution);
    let sk = match &key.step {
        None => SUMMARY_SK.to_string(),
        Some(step) => step::step_sk(step),
    };
    (pk, sk)
}

/// An execution summary from a listing index entry (the projected attributes only).
pub fn summary_from_listing(project: &str, item: &Item) -> Option<ExecutionSummary> {
    let (started, id) = index::parse_listing_sk(string_attr(item, LSK)?)?;
    let text = |a: &str| string_attr(item, a).map(str::to_string);
    Some(ExecutionSummary {
        id: id.to_string(),
        project_id: project.to_string(),
        workflow_id: text(attribute(Field::WorkflowId))?,
        texts: Field::optional_texts()
            .filter_map(|f| Some((f, text(attribute(f))?)))
            .collect(),
        status: Status::parse(string_attr(item, attribute(Field::Status))?)?,
        task_count: number_attr(item, attribute(Field::TaskCount)).map(|c| c as u64),
        run_duration: number_attr(item, DURATION).map(|c| c as u64),
        date_started: millis_string(started)?,
        date_ended: number_attr(item, attribute(Field::DateEnded)).and_then(millis_string),
        error: record_error::listed(item),
    })
}

/// The full summary of a stored execution item, and its bodies.
pub fn execution_from_item(item: &Item) -> Option<(ExecutionSummary, RecordBodies)> {
    let key = unit_key_of(item)?;
    let summary = ExecutionSummary::from_fields(&key.project, &key.execution, &fields_of(item, None))?;
    Some((summary, bodies_of(item)))
}

/// The attribute a dimension filter tests.
pub fn filter_attribute(f: Field) -> &'static str {
    attribute(f)
}

pub fn status_attribute() -> &'static str {
    attribute(Field::Status)
}

#[cfg(test)]
mod tests {
    use super::super::body::inline_size;
    use super::super::index::{in_partition, listing_pk, projection};
    use super::super::step::{step_from_item, step_order};
    use super::*;
    use crate::bodies::{Body, Encoding, Placement, StoredBody};
    use crate::dates;
    use serde_json::Value;

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
    use crate::model::merge::merge_fields;
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
        let key = |v: Option<&str>| listing_pk("p1", "2026-11", 0, 1, v);
        assert_eq!(string_attr(&item, "gP"), Some(key(None).as_str()));
        assert_eq!(string_attr(&item, "gI"), Some(key(Some("salesforce")).as_str()));
        assert_eq!(string_attr(&item, "gS"), Some(key(Some("FAILED")).as_str()));
        assert!(in_partition(
            Source::Executions,
            "p1",
            ListIndex::Integration,
            &key(Some("salesforce")),
            &item,
            &super::super::shard_layout::ShardLayout::single()
        ));
        assert!(!in_partition(
            Source::Executions,
            "p1",
            ListIndex::Integration,
            &key(Some("slack")),
            &item,
            &super::super::shard_layout::ShardLayout::single()
        ));
        assert!(!in_partition(
            Source::Executions,
            "p2",
            ListIndex::Project,
            &key(None),
            &item,
            &super::super::shard_layout::ShardLayout::single()
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
