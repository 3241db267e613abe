//! The wire format of ingest: the envelope and each event, validated on its own so one bad event
//! cannot spoil the others. Every rule comes from `model`: the fields, the value rules queries
//! apply, and the limits.

use super::report::{codes, Outcome};
use crate::bodies::{self, Body, BodySlot};
use crate::config::Settings;
use crate::dates;
use crate::model::limits::{MAX_CLOCK_SKEW_HOURS, MAX_EVENTS, MAX_MESSAGE, MAX_TEXT};
use crate::model::values::{valid_id, value_problem, ID_RULE};
use crate::model::{ErrorSummary, EventLog, Field, Level, LogField, RecordKind, Status};
use crate::search::Fingerprints;
use crate::store::UnitKey;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use sha2::Digest;
use std::collections::BTreeMap;

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
    pub unit: UnitKey,
    pub rank: u8,
    pub fields: BTreeMap<Field, Value>,
    pub bodies: Vec<(BodySlot, Body)>,
}

impl Event {
    /// Adds what a search finds in this event: its bodies and its error's code and message.
    pub fn add_tokens(&self, f: &mut Fingerprints) {
        for (_, body) in &self.bodies {
            f.add_json(&body.raw);
        }
        if let Some(error) = self.fields.get(&Field::Error) {
            for part in ["code", "message"] {
                if let Some(text) = error.get(part).and_then(Value::as_str) {
                    f.add_text(text);
                }
            }
        }
    }

    /// Whether the event carries anything a search could find.
    pub fn has_tokens(&self) -> bool {
        !self.bodies.is_empty() || self.fields.contains_key(&Field::Error)
    }
}

/// A validated event log.
#[derive(Clone, Debug, PartialEq)]
pub struct LogEvent {
    pub entry: EventLog,
    pub payload: Option<Body>,
    pub error_details: Option<Body>,
    pub timestamp: DateTime<Utc>,
}

impl LogEvent {
    /// Fingerprints of the tokens a search finds in it: payload, message, error.
    pub fn tokens(&self) -> Fingerprints {
        let mut f = Fingerprints::default();
        f.add_text(&self.entry.message);
        if let Some(e) = &self.entry.error {
            f.add_text(&e.message);
            if let Some(code) = &e.code {
                f.add_text(code);
            }
        }
        for body in [&self.payload, &self.error_details].into_iter().flatten() {
            f.add_json(&body.raw);
        }
        f
    }
}

/// One validated event of either family.
#[derive(Clone, Debug, PartialEq)]
pub enum Parsed {
    Record(Event),
    Log(LogEvent),
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

impl WireEvent {
    fn text(&self, f: Field) -> Option<&String> {
        match f {
            Field::WorkflowId => self.workflow_id.as_ref(),
            Field::WorkflowName => self.workflow_name.as_ref(),
            Field::UserId => self.user_id.as_ref(),
            Field::Integration => self.integration.as_ref(),
            Field::TriggerType => self.trigger_type.as_ref(),
            Field::TraceId => self.trace_id.as_ref(),
            Field::StepName => self.step_name.as_ref(),
            Field::StepType => self.step_type.as_ref(),
            _ => None,
        }
    }

    fn present(&self, f: Field) -> bool {
        match f {
            Field::TaskCount => self.task_count.is_some(),
            _ => self.text(f).is_some(),
        }
    }
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

fn id(name: &str, value: &str) -> Result<(), Outcome> {
    if valid_id(value) {
        Ok(())
    } else {
        Err(invalid(format!("{name} must be {ID_RULE}")))
    }
}

/// A value within the bytes of the storage keys it becomes part of (limits above count characters;
/// a key's limit counts bytes, and four-byte characters fill it first).
fn fits_keys(name: &str, v: &str) -> Result<(), Outcome> {
    let max = crate::store::value_bytes_max();
    if v.len() > max {
        return Err(invalid(format!(
            "{name} is {} bytes in UTF-8; stored values may have at most {max}",
            v.len()
        )));
    }
    Ok(())
}

/// A record's time, to the millisecond, within retention and the clock-skew allowance.
fn record_time(text: &str, name: &str, now: DateTime<Utc>, settings: &Settings) -> Result<DateTime<Utc>, Outcome> {
    let t = dates::parse(text).ok_or_else(|| invalid(format!("{name} must be an RFC 3339 timestamp")))?;
    let t = dates::to_millis(t);
    if t + chrono::Duration::days(settings.retention_days) <= now {
        return Err(Outcome::rejected(
            codes::EXPIRED,
            format!(
                "{name} is older than the {}-day retention period",
                settings.retention_days
            ),
        ));
    }
    if t > now + chrono::Duration::hours(MAX_CLOCK_SKEW_HOURS) {
        return Err(invalid(format!(
            "{name} is more than {MAX_CLOCK_SKEW_HOURS} hours in the future"
        )));
    }
    Ok(t)
}

/// Validates one event. `now` decides retention and clock skew.
pub fn parse_any(raw: &RawValue, now: DateTime<Utc>, settings: &Settings) -> Result<Parsed, Outcome> {
    let kind = serde_json::from_str::<KindOnly>(raw.get())
        .map_err(|e| invalid(format!("an event must be a JSON object: {e}")))?
        .kind;
    match kind.as_deref() {
        Some("log") => parse_log(raw, now, settings).map(Parsed::Log),
        _ => parse_event(raw, now, settings).map(Parsed::Record),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct WireLog {
    #[allow(dead_code)]
    kind: String,
    project_id: String,
    id: Option<String>,
    timestamp: String,
    level: String,
    #[serde(rename = "type")]
    log_type: String,
    message: String,
    end_user_id: Option<String>,
    persona_id: Option<String>,
    connect_credential_id: Option<String>,
    connect_credential_config_id: Option<String>,
    workflow_id: Option<String>,
    trace_id: Option<String>,
    integration_id: Option<String>,
    webhook_id: Option<String>,
    event_id: Option<String>,
    event_name: Option<String>,
    status: Option<String>,
    error: Option<WireError>,
    payload: Option<Box<RawValue>>,
}

impl WireLog {
    fn text(&self, f: LogField) -> Option<&String> {
        match f {
            LogField::EndUserId => self.end_user_id.as_ref(),
            LogField::PersonaId => self.persona_id.as_ref(),
            LogField::ConnectCredentialId => self.connect_credential_id.as_ref(),
            LogField::ConnectCredentialConfigId => self.connect_credential_config_id.as_ref(),
            LogField::WorkflowId => self.workflow_id.as_ref(),
            LogField::TraceId => self.trace_id.as_ref(),
            LogField::IntegrationId => self.integration_id.as_ref(),
            LogField::WebhookId => self.webhook_id.as_ref(),
            LogField::EventId => self.event_id.as_ref(),
            LogField::EventName => self.event_name.as_ref(),
            LogField::Status => self.status.as_ref(),
        }
    }
}

/// The id of an event log sent without one: a digest of its content (keys sorted, numbers read),
/// so sending the same event again is a duplicate, not a second entry.
fn derived_id(raw: &RawValue) -> String {
    let canonical = serde_json::from_str::<Value>(raw.get())
        .map(|v| v.to_string())
        .unwrap_or_else(|_| raw.get().to_string());
    format!("lg-{}", &hex::encode(sha2::Sha256::digest(canonical.as_bytes()))[..32])
}

/// A body within the size limit.
fn body(name: &str, raw: Option<Box<RawValue>>) -> Result<Option<Body>, Outcome> {
    let Some(raw) = raw else { return Ok(None) };
    let bytes = raw.get().as_bytes();
    if bytes.len() > bodies::MAX_BODY_BYTES {
        return Err(Outcome::rejected(
            codes::PAYLOAD_TOO_LARGE,
            format!(
                "{name} is {} bytes; the limit is {}",
                bytes.len(),
                bodies::MAX_BODY_BYTES
            ),
        ));
    }
    Ok(Some(Body::new(bytes.to_vec())))
}

/// An error's code and message within their limits.
fn error_summary(e: &WireError) -> Result<ErrorSummary, Outcome> {
    if e.message.is_empty() || e.message.chars().count() > MAX_MESSAGE {
        return Err(invalid(format!("error.message must be 1 to {MAX_MESSAGE} characters")));
    }
    if let Some(code) = &e.code {
        if code.is_empty() || code.chars().count() > MAX_TEXT {
            return Err(invalid(format!("error.code must be 1 to {MAX_TEXT} characters")));
        }
    }
    Ok(ErrorSummary {
        code: e.code.clone(),
        message: e.message.clone(),
    })
}

/// Validates one event log.
pub fn parse_log(raw: &RawValue, now: DateTime<Utc>, settings: &Settings) -> Result<LogEvent, Outcome> {
    let w: WireLog = serde_json::from_str(raw.get()).map_err(|e| invalid(e.to_string()))?;
    id("projectId", &w.project_id)?;
    let log_id = match &w.id {
        Some(given) => {
            id("id", given)?;
            given.clone()
        }
        None => derived_id(raw),
    };
    let timestamp = record_time(&w.timestamp, "timestamp", now, settings)?;
    let level = Level::parse(&w.level)
        .ok_or_else(|| invalid(format!("unknown level {:?}; use DEBUG, INFO, WARN or ERROR", w.level)))?;
    if let Some(p) = value_problem(&w.log_type, true) {
        return Err(invalid(format!("type {p}")));
    }
    fits_keys("type", &w.log_type)?;
    if w.message.is_empty() || w.message.chars().count() > MAX_MESSAGE {
        return Err(invalid(format!("message must be 1 to {MAX_MESSAGE} characters")));
    }
    let mut fields = BTreeMap::new();
    for f in LogField::ALL {
        let Some(v) = w.text(f) else { continue };
        // Filtered fields obey the rules queries apply, so every stored value can be found.
        let problem = match f.dimension() {
            Some(comma_list) => value_problem(v, comma_list),
            None => {
                (v.is_empty() || v.chars().count() > MAX_TEXT).then(|| format!("must be 1 to {MAX_TEXT} characters"))
            }
        };
        if let Some(p) = problem {
            return Err(invalid(format!("{} {p}", f.wire_name())));
        }
        fits_keys(f.wire_name(), v)?;
        fields.insert(f.wire_name(), v.clone());
    }
    let (error, error_details) = match w.error {
        Some(e) => (Some(error_summary(&e)?), body("error.details", e.details)?),
        None => (None, None),
    };
    Ok(LogEvent {
        entry: EventLog {
            id: log_id,
            project_id: w.project_id,
            timestamp: dates::format(timestamp),
            level,
            log_type: w.log_type,
            message: w.message,
            fields,
            error,
        },
        payload: body("payload", w.payload)?,
        error_details,
        timestamp,
    })
}

/// Validates one execution or step event. `now` decides retention and clock skew.
pub fn parse_event(raw: &RawValue, now: DateTime<Utc>, settings: &Settings) -> Result<Event, Outcome> {
    let kind = serde_json::from_str::<KindOnly>(raw.get())
        .map_err(|e| invalid(format!("an event must be a JSON object: {e}")))?
        .kind;
    let kind = match kind.as_deref() {
        Some("execution") => RecordKind::Execution,
        Some("step") => RecordKind::Step,
        Some(other) => return Err(invalid(format!("unknown kind {other:?}; use execution, step or log"))),
        None => return Err(invalid("missing field `kind`")),
    };
    let w: WireEvent = serde_json::from_str(raw.get()).map_err(|e| invalid(e.to_string()))?;

    id("projectId", &w.project_id)?;
    id("id", &w.id)?;
    let status = Status::parse(&w.status).ok_or_else(|| {
        invalid(format!(
            "unknown status {:?}; use QUEUED, RUNNING, SUCCEEDED, FAILED or CANCELLED",
            w.status
        ))
    })?;
    let started = record_time(&w.date_started, "dateStarted", now, settings)?;

    let mut fields = BTreeMap::new();
    fields.insert(Field::Status, json!(status.as_str()));
    fields.insert(Field::DateStarted, json!(dates::format(started)));
    if let Some(ended) = &w.date_ended {
        let ended = dates::parse(ended).ok_or_else(|| invalid("dateEnded must be an RFC 3339 timestamp"))?;
        let ended = dates::to_millis(ended);
        if ended < started {
            return Err(invalid("dateEnded is before dateStarted"));
        }
        fields.insert(Field::DateEnded, json!(dates::format(ended)));
    }
    if let Some(d) = w.run_duration {
        fields.insert(Field::RunDuration, json!(d));
    }

    for f in Field::ALL {
        let present = w.present(f);
        if present && !f.on(kind) {
            let home = match kind {
                RecordKind::Execution => "a step event",
                RecordKind::Step => "the execution event",
            };
            return Err(invalid(format!("{} belongs on {home}, not on this one", f.wire_name())));
        }
        if f.required(kind) && !present && !fields.contains_key(&f) {
            return Err(invalid(format!("missing field `{}`", f.wire_name())));
        }
        if let Some(v) = w.text(f) {
            // Dimensions obey the rules queries apply, so every stored value can be found.
            let problem = match f.dimension() {
                Some(comma_list) => value_problem(v, comma_list),
                None => (v.is_empty() || v.chars().count() > MAX_TEXT)
                    .then(|| format!("must be 1 to {MAX_TEXT} characters")),
            };
            if let Some(p) = problem {
                return Err(invalid(format!("{} {p}", f.wire_name())));
            }
            fits_keys(f.wire_name(), v)?;
            fields.insert(f, json!(v));
        }
    }
    if let Some(c) = w.task_count {
        fields.insert(Field::TaskCount, json!(c));
    }

    let execution = match kind {
        RecordKind::Step => {
            let e = w
                .execution_id
                .clone()
                .ok_or_else(|| invalid("missing field `executionId`"))?;
            id("executionId", &e)?;
            e
        }
        RecordKind::Execution => {
            if w.execution_id.is_some() {
                return Err(invalid("executionId belongs on a step event, not on an execution"));
            }
            w.id.clone()
        }
    };

    // Ids within their characters can still pass the bytes of a key they are part of.
    if let Some(p) = crate::store::ids_problem(
        &w.project_id,
        &execution,
        (kind == RecordKind::Step).then_some(w.id.as_str()),
    ) {
        return Err(invalid(p));
    }

    let mut bodies = Vec::new();
    let mut take = |slot: BodySlot, raw: Option<Box<RawValue>>| -> Result<Option<String>, Outcome> {
        let Some(body) = body(slot.name(), raw)? else {
            return Ok(None);
        };
        let sha = body.sha256.clone();
        bodies.push((slot, body));
        Ok(Some(sha))
    };
    if let Some(sha) = take(BodySlot::Input, w.input)? {
        fields.insert(Field::Input, json!(sha));
    }
    if let Some(sha) = take(BodySlot::Output, w.output)? {
        fields.insert(Field::Output, json!(sha));
    }
    if let Some(e) = w.error {
        let summary = error_summary(&e)?;
        // The error is one field, details digest included, so it is always taken whole.
        let mut error = json!({ "message": summary.message });
        if let Some(code) = summary.code {
            error["code"] = json!(code);
        }
        if let Some(sha) = take(BodySlot::ErrorDetails, e.details)? {
            error["details"] = json!(sha);
        }
        fields.insert(Field::Error, error);
    }

    Ok(Event {
        unit: UnitKey {
            project: w.project_id,
            execution,
            step: (kind == RecordKind::Step).then_some(w.id),
        },
        rank: status.rank(),
        fields,
        bodies,
    })
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
        assert_eq!(e.fields[&Field::Status], json!("SUCCEEDED"));
        assert_eq!(e.fields[&Field::DateStarted], json!("2026-11-25T09:00:00.000Z"));
        assert_eq!(
            e.fields[&Field::Error],
            json!({"message": "boom", "details": e.bodies[1].1.sha256}),
            "the error carries its details digest, so it is taken whole"
        );
        assert_eq!(e.bodies[0].1.raw, br#"{"b": 1.50,  "a":[ ]}"#);
        assert_eq!(e.bodies[1].0, BodySlot::ErrorDetails);
        assert_eq!(e.fields[&Field::Input], json!(e.bodies[0].1.sha256));
        assert_eq!(e.rank, Status::Succeeded.rank());
    }

    #[test]
    fn rejects_bad_events_with_clear_codes() {
        for (event, code) in [
            (exec(json!({"status": "DONE"})), codes::INVALID_EVENT),
            (exec(json!({"dateStarted": "last tuesday"})), codes::INVALID_EVENT),
            (exec(json!({"dateEnded": "2026-11-25T09:00:00Z"})), codes::INVALID_EVENT),
            (exec(json!({"id": "a#b"})), codes::INVALID_EVENT),
            (exec(json!({"id": ".."})), codes::INVALID_EVENT),
            (exec(json!({"projectId": "."})), codes::INVALID_EVENT),
            (exec(json!({"colour": "red"})), codes::INVALID_EVENT),
            (exec(json!({"stepName": "s"})), codes::INVALID_EVENT),
            (exec(json!({"dateStarted": "2026-08-01T00:00:00Z"})), codes::EXPIRED),
            (
                exec(json!({"dateStarted": "2026-11-28T00:00:00Z"})),
                codes::INVALID_EVENT,
            ),
            (json!({"kind": "nope"}), codes::INVALID_EVENT),
            (json!([1, 2]), codes::INVALID_EVENT),
        ] {
            assert_eq!(reject_code(event.clone()), code, "{event}");
        }
        let big = format!("\"{}\"", "x".repeat(bodies::MAX_BODY_BYTES));
        let mut e = exec(json!({}));
        e["output"] = serde_json::from_str(&big).unwrap();
        assert_eq!(reject_code(e), codes::PAYLOAD_TOO_LARGE);
    }

    #[test]
    fn values_too_long_in_bytes_for_a_storage_key_are_refused() {
        // 256 characters pass the character limit, but 1,024 bytes cannot sit in a sort key.
        let wide = "\u{1F600}".repeat(256);
        for field in ["integration", "workflowId", "userId", "triggerType"] {
            assert_eq!(
                reject_code(exec(json!({ field: wide }))),
                codes::INVALID_EVENT,
                "{field}"
            );
        }
        let log = json!({"kind": "log", "projectId": "p1", "timestamp": "2026-11-20T06:21:41.900Z",
            "level": "INFO", "type": wide, "message": "m"});
        let refused = parse_log(&raw(log), now(), &Settings::defaults()).unwrap_err();
        assert!(matches!(refused, Outcome::Rejected { .. }));
        let wide_id = "\u{1F600}".repeat(128);
        let both = exec(json!({"projectId": wide_id, "id": wide_id}));
        assert_eq!(
            reject_code(both),
            codes::INVALID_EVENT,
            "a body's S3 key would pass 1,024 bytes"
        );
        let fits = "\u{1F600}".repeat(crate::store::value_bytes_max() / 4);
        assert!(parse_event(&raw(exec(json!({ "integration": fits }))), now(), &Settings::defaults()).is_ok());
    }

    #[test]
    fn values_no_query_could_match_are_refused() {
        assert_eq!(reject_code(exec(json!({"userId": " u1"}))), codes::INVALID_EVENT);
        assert_eq!(reject_code(exec(json!({"integration": "a,b"}))), codes::INVALID_EVENT);
        assert_eq!(reject_code(exec(json!({"traceId": ""}))), codes::INVALID_EVENT);
        assert!(parse_event(
            &raw(exec(json!({"workflowName": " Sync, leads "}))),
            now(),
            &Settings::defaults()
        )
        .is_ok());
    }

    #[test]
    fn step_events_need_their_execution_and_name() {
        let step = json!({"kind": "step", "projectId": "p1", "executionId": "e1", "id": "s1", "stepName": "fetch",
                          "status": "SUCCEEDED", "dateStarted": "2026-11-25T10:00:00Z"});
        let e = parse_event(&raw(step.clone()), now(), &Settings::defaults()).unwrap();
        assert_eq!(e.unit.step.as_deref(), Some("s1"));
        assert_eq!(e.unit.execution, "e1");
        let mut no_exec = step.clone();
        no_exec.as_object_mut().unwrap().remove("executionId");
        assert_eq!(reject_code(no_exec), codes::INVALID_EVENT);
        let mut no_name = step.clone();
        no_name.as_object_mut().unwrap().remove("stepName");
        assert_eq!(reject_code(no_name), codes::INVALID_EVENT);
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
