//! The Lambda adapter of ingest: a direct invocation (`{"events": [...]}`) or an SQS batch whose
//! message bodies are such envelopes, with partial batch failure reporting.

use super::{ingest_noting, parse_envelope, EnvelopeError, NotedDays, Outcome, Report};
use crate::config::Settings;
use crate::store::Ingests;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

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

/// The event-log type of the ERROR logs that tell a project's users an SQS message's event was
/// rejected for good.
pub const REJECTED_TYPE: &str = "RUNLEDGER_REJECTED";
/// An event rejected for good: its index within its message, the project it names, code, message.
type Rejection = (usize, Option<String>, &'static str, String);

/// Whether a rejection can go away by sending the event again.
fn transient(code: &str) -> bool {
    code == super::codes::UNAVAILABLE
}

/// The project an event names, when it names a valid one.
fn project_of(raw: &RawValue) -> Option<String> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct P {
        project_id: Option<String>,
    }
    let p = serde_json::from_str::<P>(raw.get()).ok()?.project_id?;
    crate::model::values::valid_id(&p).then_some(p)
}

/// Handles a direct invocation (`{"events": [...]}`) or an SQS batch whose message bodies are
/// envelopes. An SQS message is reported failed, and so redelivered and finally dead-lettered,
/// only while one of its events failed for a reason that may pass (storage unavailable). Events
/// rejected for good are not redelivered: the message is kept whole under `set-aside/ingest/`, and
/// each project a rejected event names gets an ERROR event log of type `RUNLEDGER_REJECTED` with
/// the code, the message and the kept object's key (a malformed message, naming no project, is
/// kept and logged for an operator).
pub async fn handle_invocation<S: Ingests>(
    store: &S,
    settings: &Settings,
    noted: &NotedDays,
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
        let outcomes = ingest_noting(store, settings, noted, &envelope.events, now).await;
        return Ok(InvocationResult::Direct(Report::from_outcomes(&outcomes)));
    }

    use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
    let event: SqsEvent = serde_json::from_str(payload.get()).map_err(|e| EnvelopeError::Malformed(e.to_string()))?;
    let mut events = Vec::new();
    let mut owner = Vec::new();
    let mut failed = vec![false; event.records.len()];
    // Per message: each permanent rejection, and why the whole message was refused.
    let mut rejections: Vec<Vec<Rejection>> = vec![Vec::new(); event.records.len()];
    let mut refused: Vec<Option<String>> = vec![None; event.records.len()];
    let mut first_of = vec![0; event.records.len()];
    for (m, message) in event.records.iter().enumerate() {
        match parse_envelope(message.body.as_deref().unwrap_or("")) {
            Ok(envelope) => {
                first_of[m] = events.len();
                owner.extend(std::iter::repeat_n(m, envelope.events.len()));
                events.extend(envelope.events);
            }
            Err(e) => refused[m] = Some(e.to_string()),
        }
    }
    let outcomes = ingest_noting(store, settings, noted, &events, now).await;
    for (i, outcome) in outcomes.iter().enumerate() {
        if let Outcome::Rejected { code, message } = outcome {
            let m = owner[i];
            if transient(code) {
                failed[m] = true;
            } else {
                rejections[m].push((i - first_of[m], project_of(&events[i]), code, message.clone()));
            }
        }
    }
    let mut kept = 0;
    let mut notices = Vec::new();
    for (m, message) in event.records.iter().enumerate() {
        if rejections[m].is_empty() && refused[m].is_none() {
            continue;
        }
        let id = message.message_id.clone().unwrap_or_default();
        let record = serde_json::json!({
            "messageId": id,
            "receivedAt": crate::dates::format(now),
            "refused": refused[m],
            "rejected": rejections[m].iter().map(|(index, project, code, text)| serde_json::json!({
                "index": index, "projectId": project, "code": code, "message": text,
            })).collect::<Vec<_>>(),
            "body": message.body,
        });
        let name = if crate::model::values::valid_id(&id) {
            id.clone()
        } else {
            use sha2::Digest;
            hex::encode(&sha2::Sha256::digest(id.as_bytes())[..16])
        };
        let date = now.date_naive().to_string();
        let bytes = serde_json::to_vec(&record).unwrap_or_default();
        let key = match crate::retry::retrying(crate::store::StoreError::is_retryable, || {
            store.set_aside(crate::store::set_aside::INGEST, &date, &name, bytes.clone())
        })
        .await
        {
            Ok(key) => key,
            Err(e) => {
                // Not kept: delivered again rather than lost.
                tracing::warn!(messageId = %id, error = %e, "a rejected message could not be kept");
                failed[m] = true;
                continue;
            }
        };
        kept += 1;
        tracing::warn!(
            messageId = %id,
            key = %key,
            rejected = rejections[m].len(),
            refused = refused[m].is_some(),
            "sqs message rejected for good; kept"
        );
        // Dated when the message was sent (SQS always says), so a redelivery is the same log.
        let sent = message
            .attributes
            .get("SentTimestamp")
            .and_then(|t| t.parse::<i64>().ok())
            .and_then(DateTime::from_timestamp_millis)
            .unwrap_or(now);
        for (index, project, code, text) in &rejections[m] {
            if let Some(project) = project {
                notices.push((m, notice(project, &id, *index, code, text, &key, sent)));
            }
        }
    }
    // The notices are event logs like any other, so they are listed, counted and exported.
    let raws: Vec<Box<RawValue>> = notices.iter().map(|(_, n)| n.clone()).collect();
    for ((m, _), outcome) in notices
        .iter()
        .zip(ingest_noting(store, settings, noted, &raws, now).await)
    {
        if matches!(outcome, Outcome::Rejected { code, .. } if transient(code)) {
            failed[*m] = true;
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
        rejectedForGood = rejections.iter().map(Vec::len).sum::<usize>(),
        messagesKept = kept,
        redelivered = response.batch_item_failures.len(),
        "sqs batch"
    );
    Ok(InvocationResult::Sqs(response))
}

/// The ERROR event log telling a project's users one of its events was rejected: its id follows
/// from the message and position, so a redelivered message does not log it twice.
fn notice(
    project: &str,
    message_id: &str,
    index: usize,
    code: &str,
    text: &str,
    key: &str,
    now: DateTime<Utc>,
) -> Box<RawValue> {
    use sha2::Digest;
    let digest = hex::encode(&sha2::Sha256::digest(format!("{message_id}#{index}").as_bytes())[..16]);
    let message: String = format!("event {index} of SQS message {message_id} was rejected: {text}")
        .chars()
        .take(crate::model::limits::MAX_MESSAGE)
        .collect();
    let v = serde_json::json!({
        "kind": "log",
        "projectId": project,
        "id": format!("rejected-{digest}"),
        "timestamp": crate::dates::format(now),
        "level": "ERROR",
        "type": REJECTED_TYPE,
        "message": message,
        "error": {"code": code, "message": text.chars().take(crate::model::limits::MAX_MESSAGE).collect::<String>()},
        "payload": {"messageId": message_id, "index": index, "kept": key},
    });
    RawValue::from_string(v.to_string()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::{LogQuery, ReadBudget};
    use crate::store::{ListLogs, MemoryStore, StoreConfig};
    use serde_json::json;

    fn sqs(messages: &[(&str, String)]) -> Box<RawValue> {
        let sent = (chrono::Utc::now() - chrono::Duration::minutes(1))
            .timestamp_millis()
            .to_string();
        let records: Vec<Value> = messages
            .iter()
            .map(|(id, body)| {
                json!({"messageId": id, "body": body, "eventSource": "aws:sqs",
                "attributes": {"SentTimestamp": sent}})
            })
            .collect();
        RawValue::from_string(json!({ "Records": records }).to_string()).unwrap()
    }

    #[tokio::test]
    async fn permanent_rejections_are_not_redelivered_and_reach_the_project() {
        let settings = Settings::defaults();
        let store = MemoryStore::memory(StoreConfig::from_settings(&settings));
        let now = chrono::Utc::now();
        let at = crate::dates::format(now - chrono::Duration::minutes(5));
        let bad = json!({"events": [
            {"kind": "execution", "projectId": "p-rej", "id": "e1", "workflowId": "w", "status": "DONE", "dateStarted": at},
            {"kind": "execution", "projectId": "p-rej", "id": "e2", "workflowId": "w", "status": "RUNNING", "dateStarted": "yesterday"},
        ]});
        let good = json!({"events": [
            {"kind": "execution", "projectId": "p-rej", "id": "e3", "workflowId": "w", "status": "RUNNING", "dateStarted": at},
        ]});
        let batch = sqs(&[
            ("m-bad", bad.to_string()),
            ("m-garbage", "not json".into()),
            ("m-good", good.to_string()),
        ]);
        for delivery in 0..2 {
            // Each delivery at its own time: the notices still come out once.
            let now = now + chrono::Duration::seconds(delivery);
            let InvocationResult::Sqs(r) = handle_invocation(&store, &settings, &NotedDays::default(), &batch, now)
                .await
                .unwrap()
            else {
                panic!("an SQS batch")
            };
            assert!(
                r.batch_item_failures.is_empty(),
                "nothing to gain by redelivery (delivery {delivery})"
            );
        }
        let date = now.date_naive().to_string();
        for id in ["m-bad", "m-garbage"] {
            let kept = store.backend.object(&crate::store::set_aside::object_key(
                crate::store::set_aside::INGEST,
                &date,
                id,
            ));
            let kept: Value = serde_json::from_slice(&kept.expect("the message is kept")).unwrap();
            assert_eq!(kept["messageId"], id);
            assert!(kept["body"].as_str().is_some(), "kept whole: {kept}");
        }
        let q = LogQuery {
            window: crate::query::Window {
                project: "p-rej".into(),
                limit: 100,
                now,
                ..Default::default()
            },
            types: vec![REJECTED_TYPE.into()],
            ..Default::default()
        };
        let logs = store
            .list_logs(&q, None, ReadBudget { items: 1000 })
            .await
            .unwrap()
            .items;
        assert_eq!(
            logs.len(),
            2,
            "one notice per rejected event, however often delivered: {logs:?}"
        );
        assert!(logs.iter().all(|l| l.entry.level == crate::model::Level::Error));
        assert!(logs.iter().any(|l| l
            .entry
            .error
            .as_ref()
            .is_some_and(|e| e.code.as_deref() == Some("invalid_event"))));
    }
}
