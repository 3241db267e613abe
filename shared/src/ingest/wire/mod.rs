//! The wire format of ingest: the envelope and each event, validated on its own so one bad event
//! cannot spoil the others. Every rule comes from `model`: the fields, the value rules queries
//! apply, and the limits.

use super::report::{codes, Outcome};
use crate::bodies::{self, Body};
use crate::config::Settings;
use crate::dates;
use crate::model::limits::{MAX_CLOCK_SKEW_HOURS, MAX_EVENTS, MAX_MESSAGE, MAX_TEXT};
use crate::model::values::{valid_id, ID_RULE};
use crate::model::ErrorSummary;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;

mod event;
mod log;

pub use event::{parse_event, Event};
pub use log::{parse_log, LogEvent};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bodies::BodySlot;
    use crate::model::{Field, Status};
    use serde_json::{json, Value};

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
