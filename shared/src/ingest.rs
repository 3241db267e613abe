//! Ingest: validate each event on its own, merge all events of a summary (execution or step) in
//! memory, then write. Bodies go first (S3 objects, then content-addressed body items, batched and
//! idempotent); the summary, which names the current body digests, goes last as one conditional put
//! guarded by the version that was read. That put is the commit point: a body nobody points at is
//! invisible, so an event is stored completely or reported failed, never half-visible. Lost races
//! re-read and re-merge; throttling and 5xx retry with capped backoff and jitter.

use crate::bodies::{self, Body, Placement};
use crate::config::Settings;
use crate::dates;
use crate::keys::{self, BodyField};
use crate::merge::{merge_fields, Fields};
use crate::model::Status;
use crate::retry;
use crate::store::items;
use crate::store::{GuardedPut, IngestWrites, Item, StoreError};
use chrono::{DateTime, Utc};
use futures::stream::{self, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};

pub const MAX_EVENTS: usize = 1000;
const MAX_TEXT: usize = 256;
const MAX_MESSAGE: usize = 4096;
/// Producers' clocks may run ahead; anything further in the future is a bug upstream.
const MAX_CLOCK_SKEW_HOURS: i64 = 24;
/// Puts and uploads in flight at once per invocation.
const CONCURRENCY: usize = 8;

/// Per-event result codes.
pub mod codes {
    pub const INVALID_EVENT: &str = "invalid_event";
    pub const UNSUPPORTED_KIND: &str = "unsupported_kind";
    pub const EXPIRED: &str = "expired";
    pub const PAYLOAD_TOO_LARGE: &str = "payload_too_large";
    pub const UNAVAILABLE: &str = "unavailable";
    pub const STORE_REJECTED: &str = "store_rejected";
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Accepted,
    Duplicate,
    Rejected { code: &'static str, message: String },
}

impl Outcome {
    fn rejected(code: &'static str, message: impl Into<String>) -> Self {
        Outcome::Rejected {
            code,
            message: message.into(),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub accepted: usize,
    pub duplicates: usize,
    pub rejected: Vec<Rejection>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Rejection {
    pub index: usize,
    pub code: &'static str,
    pub message: String,
}

impl Report {
    pub fn from_outcomes(outcomes: &[Outcome]) -> Self {
        let mut r = Report::default();
        for (index, o) in outcomes.iter().enumerate() {
            match o {
                Outcome::Accepted => r.accepted += 1,
                Outcome::Duplicate => r.duplicates += 1,
                Outcome::Rejected { code, message } => r.rejected.push(Rejection {
                    index,
                    code,
                    message: message.clone(),
                }),
            }
        }
        r
    }
}

/// `{"events": [...]}`; events stay raw so one bad event cannot spoil the others.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    pub events: Vec<Box<RawValue>>,
}

#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    #[error("the payload is not an ingest envelope {{\"events\": [...]}}: {0}")]
    Malformed(String),
    #[error("an envelope carries 1 to {MAX_EVENTS} events, this one {0}")]
    Count(usize),
}

pub fn parse_envelope(text: &str) -> Result<Envelope, EnvelopeError> {
    let envelope: Envelope = serde_json::from_str(text).map_err(|e| EnvelopeError::Malformed(e.to_string()))?;
    if envelope.events.is_empty() || envelope.events.len() > MAX_EVENTS {
        return Err(EnvelopeError::Count(envelope.events.len()));
    }
    Ok(envelope)
}

/// A validated execution or step event.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub project: String,
    pub execution_id: String,
    /// `None` for an execution event.
    pub step_id: Option<String>,
    pub rank: u8,
    pub fields: BTreeMap<String, Value>,
    pub bodies: Vec<(BodyField, Body)>,
}

#[derive(Deserialize)]
struct KindOnly {
    kind: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct WireEvent {
    #[allow(dead_code)]
    kind: String,
    project_id: String,
    id: String,
    execution_id: Option<String>,
    workflow_id: Option<String>,
    workflow_name: Option<String>,
    user_id: Option<String>,
    integration: Option<String>,
    trigger_type: Option<String>,
    trace_id: Option<String>,
    step_name: Option<String>,
    step_type: Option<String>,
    status: String,
    date_started: String,
    date_ended: Option<String>,
    task_count: Option<u32>,
    run_duration: Option<u64>,
    error: Option<WireError>,
    input: Option<Box<RawValue>>,
    output: Option<Box<RawValue>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireError {
    code: Option<String>,
    message: String,
    details: Option<Box<RawValue>>,
}

fn invalid(message: impl Into<String>) -> Outcome {
    Outcome::rejected(codes::INVALID_EVENT, message)
}

fn text(fields: &mut BTreeMap<String, Value>, name: &str, value: Option<String>) -> Result<(), Outcome> {
    if let Some(v) = value {
        if v.is_empty() || v.len() > MAX_TEXT {
            return Err(invalid(format!("{name} must be 1 to {MAX_TEXT} characters")));
        }
        fields.insert(name.to_string(), json!(v));
    }
    Ok(())
}

/// Validates one event. `now` decides retention and clock skew.
pub fn parse_event(raw: &RawValue, now: DateTime<Utc>, settings: &Settings) -> Result<Event, Outcome> {
    let kind = serde_json::from_str::<KindOnly>(raw.get())
        .map_err(|e| invalid(format!("an event must be a JSON object: {e}")))?
        .kind;
    let is_step = match kind.as_deref() {
        Some("execution") => false,
        Some("step") => true,
        Some("log") => {
            return Err(Outcome::rejected(
                codes::UNSUPPORTED_KIND,
                "log events are not accepted by this version",
            ))
        }
        Some(other) => return Err(invalid(format!("unknown kind {other:?}; use execution or step"))),
        None => return Err(invalid("missing field `kind`")),
    };
    let w: WireEvent = serde_json::from_str(raw.get()).map_err(|e| invalid(e.to_string()))?;

    if !keys::valid_project_id(&w.project_id) {
        return Err(invalid(
            "projectId must be 1 to 128 characters without '#', '/', '?' or spaces",
        ));
    }
    if !keys::valid_id(&w.id) {
        return Err(invalid(
            "id must be 1 to 128 characters without '#', '/', '?' or spaces",
        ));
    }
    let status = Status::parse(&w.status).ok_or_else(|| {
        invalid(format!(
            "unknown status {:?}; use QUEUED, RUNNING, SUCCEEDED, FAILED or CANCELLED",
            w.status
        ))
    })?;
    let started = dates::parse(&w.date_started).ok_or_else(|| invalid("dateStarted must be an RFC 3339 timestamp"))?;
    let started = dates::to_millis(started);
    if started + chrono::Duration::days(settings.retention_days) <= now {
        return Err(Outcome::rejected(
            codes::EXPIRED,
            format!(
                "dateStarted is older than the {}-day retention period",
                settings.retention_days
            ),
        ));
    }
    if started > now + chrono::Duration::hours(MAX_CLOCK_SKEW_HOURS) {
        return Err(invalid("dateStarted is more than 24 hours in the future"));
    }

    let mut fields = BTreeMap::new();
    let date_started = dates::format(started);
    fields.insert("status".to_string(), json!(status.as_str()));
    fields.insert("dateStarted".to_string(), json!(date_started));
    if let Some(ended) = &w.date_ended {
        let ended = dates::parse(ended).ok_or_else(|| invalid("dateEnded must be an RFC 3339 timestamp"))?;
        let ended = dates::to_millis(ended);
        if ended < started {
            return Err(invalid("dateEnded is before dateStarted"));
        }
        fields.insert("dateEnded".to_string(), json!(dates::format(ended)));
    }
    if let Some(d) = w.run_duration {
        fields.insert("runDuration".to_string(), json!(d));
    }

    let execution_id = if is_step {
        for (name, present) in [
            ("workflowId", w.workflow_id.is_some()),
            ("workflowName", w.workflow_name.is_some()),
            ("userId", w.user_id.is_some()),
            ("integration", w.integration.is_some()),
            ("triggerType", w.trigger_type.is_some()),
            ("traceId", w.trace_id.is_some()),
            ("taskCount", w.task_count.is_some()),
        ] {
            if present {
                return Err(invalid(format!("{name} belongs on the execution event, not on a step")));
            }
        }
        let execution_id = w.execution_id.ok_or_else(|| invalid("missing field `executionId`"))?;
        if !keys::valid_id(&execution_id) {
            return Err(invalid(
                "executionId must be 1 to 128 characters without '#', '/', '?' or spaces",
            ));
        }
        text(
            &mut fields,
            "stepName",
            Some(w.step_name.ok_or_else(|| invalid("missing field `stepName`"))?),
        )?;
        text(&mut fields, "stepType", w.step_type)?;
        execution_id
    } else {
        for (name, present) in [
            ("executionId", w.execution_id.is_some()),
            ("stepName", w.step_name.is_some()),
            ("stepType", w.step_type.is_some()),
        ] {
            if present {
                return Err(invalid(format!("{name} belongs on a step event, not on an execution")));
            }
        }
        text(
            &mut fields,
            "workflowId",
            Some(w.workflow_id.ok_or_else(|| invalid("missing field `workflowId`"))?),
        )?;
        text(&mut fields, "workflowName", w.workflow_name)?;
        text(&mut fields, "userId", w.user_id)?;
        text(&mut fields, "integration", w.integration)?;
        text(&mut fields, "triggerType", w.trigger_type)?;
        text(&mut fields, "traceId", w.trace_id)?;
        if let Some(c) = w.task_count {
            fields.insert("taskCount".to_string(), json!(c));
        }
        w.id.clone()
    };

    let mut raw_bodies = vec![(BodyField::Input, w.input), (BodyField::Output, w.output)];
    if let Some(e) = w.error {
        if e.message.is_empty() || e.message.len() > MAX_MESSAGE {
            return Err(invalid(format!("error.message must be 1 to {MAX_MESSAGE} characters")));
        }
        let mut error = json!({ "message": e.message });
        if let Some(code) = e.code {
            if code.len() > MAX_TEXT {
                return Err(invalid(format!("error.code must be at most {MAX_TEXT} characters")));
            }
            error["code"] = json!(code);
        }
        fields.insert("error".to_string(), error);
        raw_bodies.push((BodyField::ErrorDetails, e.details));
    }
    let mut bodies = Vec::new();
    for (field, raw) in raw_bodies {
        let Some(raw) = raw else { continue };
        let bytes = raw.get().as_bytes();
        if bytes.len() > bodies::MAX_BODY_BYTES {
            return Err(Outcome::rejected(
                codes::PAYLOAD_TOO_LARGE,
                format!(
                    "{} is {} bytes; the limit is {}",
                    field.name(),
                    bytes.len(),
                    bodies::MAX_BODY_BYTES
                ),
            ));
        }
        let body = Body::new(bytes.to_vec());
        fields.insert(field.reference_field().to_string(), json!(body.sha256));
        bodies.push((field, body));
    }

    Ok(Event {
        project: w.project_id,
        step_id: is_step.then_some(w.id),
        execution_id,
        rank: status.rank(),
        fields,
        bodies,
    })
}

/// Validates and stores a batch of raw events; one outcome per event, in order.
pub async fn ingest<S: IngestWrites>(
    store: &S,
    settings: &Settings,
    raw: &[Box<RawValue>],
    now: DateTime<Utc>,
) -> Vec<Outcome> {
    let mut outcomes: Vec<Outcome> = Vec::with_capacity(raw.len());
    let mut parsed: Vec<Option<Event>> = Vec::with_capacity(raw.len());
    for r in raw {
        match parse_event(r, now, settings) {
            Ok(e) => {
                outcomes.push(Outcome::Accepted);
                parsed.push(Some(e));
            }
            Err(o) => {
                outcomes.push(o);
                parsed.push(None);
            }
        }
    }
    let mut pending: Vec<usize> = (0..raw.len()).filter(|&i| parsed[i].is_some()).collect();
    let mut attempt = 0;
    while !pending.is_empty() {
        let events: Vec<(usize, &Event)> = pending
            .iter()
            .map(|&i| (i, parsed[i].as_ref().expect("parsed")))
            .collect();
        let results = apply_once(store, settings, &events).await;
        let mut retry_these = Vec::new();
        for (i, result) in results {
            match result {
                Ok(o) => outcomes[i] = o,
                Err(e) if e.is_retryable() && attempt + 1 < retry::MAX_ATTEMPTS => retry_these.push(i),
                Err(StoreError::Permanent(message)) => {
                    tracing::warn!(index = i, error = %message, "event refused by the store");
                    outcomes[i] =
                        Outcome::rejected(codes::STORE_REJECTED, "the store refused this event; it was not stored");
                }
                Err(e) => {
                    tracing::warn!(index = i, error = %e, "event not stored after retries");
                    outcomes[i] = Outcome::rejected(
                        codes::UNAVAILABLE,
                        "storage is unavailable; the event was not stored, send it again",
                    );
                }
            }
        }
        pending = retry_these;
        if !pending.is_empty() {
            retry::sleep(attempt).await;
            attempt += 1;
        }
    }
    outcomes
}

/// A summary (execution or step): the item whose conditional put commits its events.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct UnitKey {
    pk: String,
    step_id: Option<String>,
}

impl UnitKey {
    fn record_sk(&self) -> String {
        match &self.step_id {
            None => keys::SUMMARY_SK.to_string(),
            Some(s) => keys::step_sk(s),
        }
    }

    fn body_sk(&self, field: BodyField, sha256: &str) -> String {
        match &self.step_id {
            None => keys::execution_body_sk(field, sha256),
            Some(s) => keys::step_body_sk(s, field, sha256),
        }
    }
}

/// What one summary needs written after merging its events.
struct UnitWrite<'a> {
    event_indexes: Vec<usize>,
    uploads: Vec<(String, &'a Body)>,
    bodies: Vec<Item>,
    record: GuardedPut,
}

type Results = Vec<(usize, Result<Outcome, StoreError>)>;

fn fail_all(events: &[(usize, &Event)], e: &StoreError) -> Results {
    events.iter().map(|(i, _)| (*i, Err(e.clone()))).collect()
}

async fn apply_once<S: IngestWrites>(store: &S, settings: &Settings, events: &[(usize, &Event)]) -> Results {
    let mut units: BTreeMap<UnitKey, Vec<(usize, &Event)>> = BTreeMap::new();
    for &(i, e) in events {
        let key = UnitKey {
            pk: keys::execution_pk(&e.project, &e.execution_id),
            step_id: e.step_id.clone(),
        };
        units.entry(key).or_default().push((i, e));
    }
    let wanted: Vec<(String, String)> = units.keys().map(|k| (k.pk.clone(), k.record_sk())).collect();
    let stored: HashMap<(String, String), Item> = match store.batch_get(&wanted).await {
        Ok(items) => items
            .into_iter()
            .filter_map(|it| {
                let pk = items::string_attr(&it, keys::PK)?.to_string();
                let sk = items::string_attr(&it, keys::SK)?.to_string();
                Some(((pk, sk), it))
            })
            .collect(),
        Err(e) => return fail_all(events, &e),
    };

    let mut results: Results = Vec::new();
    let mut writes: Vec<UnitWrite> = Vec::new();
    for (key, evs) in &units {
        let (write, outcomes) = plan_unit(key, evs, stored.get(&(key.pk.clone(), key.record_sk())), settings);
        results.extend(outcomes.into_iter().map(|(i, o)| (i, Ok(o))));
        writes.extend(write);
    }

    // 1. Large bodies to S3, before anything points at them.
    let uploads: Vec<(usize, &String, &Body)> = writes
        .iter()
        .enumerate()
        .flat_map(|(w, uw)| uw.uploads.iter().map(move |(k, b)| (w, k, *b)))
        .collect();
    let upload_results: Vec<(usize, Result<(), StoreError>)> = stream::iter(uploads)
        .map(|(w, key, body)| async move { (w, store.put_object(key, body.raw.clone()).await) })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let mut failed: HashMap<usize, StoreError> = HashMap::new();
    for (w, r) in upload_results {
        if let Err(e) = r {
            failed.insert(w, e);
        }
    }

    // 2. Body items: immutable, so plain batched puts; a retry rewrites identical items.
    let body_items: Vec<Item> = (0..writes.len())
        .filter(|w| !failed.contains_key(w))
        .flat_map(|w| writes[w].bodies.iter().cloned())
        .collect();
    if let Err(e) = store.batch_put(&body_items).await {
        for (w, write) in writes.iter().enumerate() {
            if !write.bodies.is_empty() {
                failed.entry(w).or_insert_with(|| e.clone());
            }
        }
    }

    // 3. Summaries, each guarded by the version read: the commit point of its events.
    let ready: Vec<usize> = (0..writes.len()).filter(|w| !failed.contains_key(w)).collect();
    let put_results: Vec<(usize, Result<(), StoreError>)> = stream::iter(ready)
        .map(|w| {
            let writes = &writes;
            async move { (w, store.guarded_put(&writes[w].record).await) }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    for (w, r) in put_results {
        if let Err(e) = r {
            failed.insert(w, e);
        }
    }

    for (w, e) in failed {
        for &i in &writes[w].event_indexes {
            if let Some(slot) = results.iter_mut().find(|(j, _)| *j == i) {
                slot.1 = Err(e.clone());
            }
        }
    }
    results
}

/// Merges a summary's events, in arrival order, into what is stored; says which events changed it.
fn plan_unit<'a>(
    key: &UnitKey,
    evs: &[(usize, &'a Event)],
    record: Option<&Item>,
    settings: &Settings,
) -> (Option<UnitWrite<'a>>, Vec<(usize, Outcome)>) {
    let before: Fields = record.map(items::record_fields).unwrap_or_default();
    let mut fields = before.clone();
    let mut outcomes = Vec::new();
    for &(i, e) in evs {
        let changed = merge_fields(&mut fields, e.rank, &e.fields);
        outcomes.push((i, if changed { Outcome::Accepted } else { Outcome::Duplicate }));
    }
    if fields == before {
        return (None, outcomes);
    }

    let (project, execution_id) = (&evs[0].1.project, &evs[0].1.execution_id);
    let expires = fields
        .get("dateStarted")
        .and_then(|r| r.value.as_str())
        .and_then(|d| items::expires_at(d, settings));
    let mut write = UnitWrite {
        event_indexes: evs.iter().map(|(i, _)| *i).collect(),
        uploads: Vec::new(),
        bodies: Vec::new(),
        record: GuardedPut {
            item: Item::new(),
            expected_version: record.and_then(items::version),
        },
    };
    // Write each body the merged summary now points at, unless it already did.
    for field in BodyField::ALL {
        let reference = field.reference_field();
        let Some(sha) = fields.get(reference).and_then(|r| r.value.as_str()) else {
            continue;
        };
        if before.get(reference).and_then(|r| r.value.as_str()) == Some(sha) {
            continue;
        }
        let Some(body) = evs
            .iter()
            .flat_map(|(_, e)| &e.bodies)
            .find(|(f, b)| *f == field && b.sha256 == sha)
            .map(|(_, b)| b)
        else {
            continue;
        };
        let placement = bodies::place(body, settings.body_inline_max_bytes);
        let object_key = keys::body_object_key(project, execution_id, &body.sha256);
        if placement == Placement::External {
            write.uploads.push((object_key.clone(), body));
        }
        write.bodies.push(items::body_item(
            key.pk.clone(),
            key.body_sk(field, sha),
            body,
            &placement,
            &object_key,
            expires,
        ));
    }
    let ver = write.record.expected_version.unwrap_or(0) + 1;
    write.record.item = match &key.step_id {
        None => items::execution_item(project, execution_id, &fields, settings, ver),
        Some(step) => items::step_item(project, execution_id, step, &fields, settings, ver),
    };
    (Some(write), outcomes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(v: Value) -> Box<RawValue> {
        RawValue::from_string(v.to_string()).unwrap()
    }

    fn now() -> DateTime<Utc> {
        dates::parse("2026-11-25T12:00:00Z").unwrap()
    }

    fn exec(extra: Value) -> Value {
        let mut e = json!({"kind": "execution", "projectId": "p1", "id": "e1", "workflowId": "wf",
                           "status": "running", "dateStarted": "2026-11-25T10:00:00Z"});
        e.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        e
    }

    fn reject_code(v: Value) -> &'static str {
        match parse_event(&raw(v), now(), &Settings::defaults()) {
            Err(Outcome::Rejected { code, .. }) => code,
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    #[test]
    fn parses_an_execution_event_keeping_body_bytes_exactly() {
        let text = r#"{"kind":"execution","projectId":"p1","id":"e1","workflowId":"wf","status":"succeeded",
            "dateStarted":"2026-11-25T10:00:00+01:00","dateEnded":"2026-11-25T09:00:01.5Z",
            "input":{"b": 1.50,  "a":[ ]},"error":{"message":"boom","details":{"x":1}}}"#;
        let e = parse_event(
            &RawValue::from_string(text.into()).unwrap(),
            now(),
            &Settings::defaults(),
        )
        .unwrap();
        assert_eq!(e.fields["status"], json!("SUCCEEDED"));
        assert_eq!(e.fields["dateStarted"], json!("2026-11-25T09:00:00.000Z"));
        assert_eq!(e.fields["error"], json!({"message": "boom"}));
        assert_eq!(e.bodies[0].1.raw, br#"{"b": 1.50,  "a":[ ]}"#);
        assert_eq!(e.bodies[1].0, BodyField::ErrorDetails);
        assert_eq!(
            e.fields["inputRef"],
            json!(e.bodies[0].1.sha256),
            "the digest is merged like any field"
        );
        assert_eq!(e.rank, Status::Succeeded.rank());
    }

    #[test]
    fn rejects_bad_events_with_clear_codes() {
        assert_eq!(reject_code(exec(json!({"status": "DONE"}))), codes::INVALID_EVENT);
        assert_eq!(
            reject_code(exec(json!({"dateStarted": "last tuesday"}))),
            codes::INVALID_EVENT
        );
        assert_eq!(
            reject_code(exec(json!({"dateEnded": "2026-11-25T09:00:00Z"}))),
            codes::INVALID_EVENT
        );
        assert_eq!(reject_code(exec(json!({"id": "a#b"}))), codes::INVALID_EVENT);
        assert_eq!(reject_code(exec(json!({"colour": "red"}))), codes::INVALID_EVENT);
        assert_eq!(reject_code(exec(json!({"stepName": "s"}))), codes::INVALID_EVENT);
        assert_eq!(
            reject_code(exec(json!({"dateStarted": "2026-08-01T00:00:00Z"}))),
            codes::EXPIRED
        );
        assert_eq!(
            reject_code(exec(json!({"dateStarted": "2026-11-28T00:00:00Z"}))),
            codes::INVALID_EVENT
        );
        assert_eq!(
            reject_code(json!({"kind": "log", "projectId": "p1"})),
            codes::UNSUPPORTED_KIND
        );
        assert_eq!(reject_code(json!({"kind": "nope"})), codes::INVALID_EVENT);
        assert_eq!(reject_code(json!([1, 2])), codes::INVALID_EVENT);
        let big = format!("\"{}\"", "x".repeat(bodies::MAX_BODY_BYTES));
        let mut e = exec(json!({}));
        e["output"] = serde_json::from_str(&big).unwrap();
        assert_eq!(reject_code(e), codes::PAYLOAD_TOO_LARGE);
    }

    #[test]
    fn step_events_need_their_execution_and_name() {
        let step = json!({"kind": "step", "projectId": "p1", "executionId": "e1", "id": "s1", "stepName": "fetch",
                          "status": "SUCCEEDED", "dateStarted": "2026-11-25T10:00:00Z"});
        let e = parse_event(&raw(step.clone()), now(), &Settings::defaults()).unwrap();
        assert_eq!(e.step_id.as_deref(), Some("s1"));
        assert_eq!(e.execution_id, "e1");
        let mut no_exec = step.clone();
        no_exec.as_object_mut().unwrap().remove("executionId");
        assert_eq!(reject_code(no_exec), codes::INVALID_EVENT);
        let mut with_workflow = step;
        with_workflow["workflowId"] = json!("wf");
        assert_eq!(reject_code(with_workflow), codes::INVALID_EVENT);
    }

    #[test]
    fn envelopes_carry_one_to_a_thousand_events() {
        assert!(parse_envelope(r#"{"events":[{}]}"#).is_ok());
        assert!(matches!(
            parse_envelope(r#"{"events":[]}"#),
            Err(EnvelopeError::Count(0))
        ));
        assert!(matches!(
            parse_envelope(r#"{"event":[]}"#),
            Err(EnvelopeError::Malformed(_))
        ));
        assert!(matches!(parse_envelope("not json"), Err(EnvelopeError::Malformed(_))));
        let many = format!("{{\"events\":[{}]}}", vec!["{}"; 1001].join(","));
        assert!(matches!(parse_envelope(&many), Err(EnvelopeError::Count(1001))));
    }
}

/// What one invocation of the ingest function returns.
#[derive(Debug)]
pub enum InvocationResult {
    Direct(Report),
    Sqs(aws_lambda_events::event::sqs::SqsBatchResponse),
}

impl InvocationResult {
    pub fn to_json(&self) -> Value {
        match self {
            InvocationResult::Direct(r) => serde_json::to_value(r).unwrap_or(Value::Null),
            InvocationResult::Sqs(r) => serde_json::to_value(r).unwrap_or(Value::Null),
        }
    }
}

/// Handles a direct invocation (`{"events": [...]}`) or an SQS batch whose message bodies are
/// envelopes. An SQS message is reported failed, and so redelivered and finally dead-lettered,
/// unless every event in it was stored or was already stored.
pub async fn handle_invocation<S: IngestWrites>(
    store: &S,
    settings: &Settings,
    payload: &RawValue,
    now: DateTime<Utc>,
) -> Result<InvocationResult, EnvelopeError> {
    #[derive(Deserialize)]
    struct Probe {
        #[serde(rename = "Records")]
        records: Option<Value>,
    }
    let is_sqs = serde_json::from_str::<Probe>(payload.get()).is_ok_and(|p| p.records.is_some());
    if !is_sqs {
        let envelope = parse_envelope(payload.get())?;
        let outcomes = ingest(store, settings, &envelope.events, now).await;
        return Ok(InvocationResult::Direct(Report::from_outcomes(&outcomes)));
    }

    use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
    let event: SqsEvent = serde_json::from_str(payload.get()).map_err(|e| EnvelopeError::Malformed(e.to_string()))?;
    let mut events = Vec::new();
    let mut owner = Vec::new();
    let mut failed = vec![false; event.records.len()];
    for (m, message) in event.records.iter().enumerate() {
        match parse_envelope(message.body.as_deref().unwrap_or("")) {
            Ok(envelope) => {
                owner.extend(std::iter::repeat_n(m, envelope.events.len()));
                events.extend(envelope.events);
            }
            Err(e) => {
                tracing::warn!(messageId = message.message_id.as_deref().unwrap_or(""), error = %e, "malformed message");
                failed[m] = true;
            }
        }
    }
    let outcomes = ingest(store, settings, &events, now).await;
    for (i, outcome) in outcomes.iter().enumerate() {
        if let Outcome::Rejected { code, .. } = outcome {
            tracing::warn!(
                messageId = event.records[owner[i]].message_id.as_deref().unwrap_or(""),
                code,
                "event rejected"
            );
            failed[owner[i]] = true;
        }
    }
    let mut response = SqsBatchResponse::default();
    for (m, message) in event.records.iter().enumerate() {
        if failed[m] {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = message.message_id.clone().unwrap_or_default();
            response.batch_item_failures.push(failure);
        }
    }
    let report = Report::from_outcomes(&outcomes);
    tracing::info!(
        accepted = report.accepted,
        duplicates = report.duplicates,
        rejected = report.rejected.len(),
        "sqs batch"
    );
    Ok(InvocationResult::Sqs(response))
}
