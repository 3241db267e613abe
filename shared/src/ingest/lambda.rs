//! The Lambda adapter of ingest: a direct invocation (`{"events": [...]}`) or an SQS batch whose
//! message bodies are such envelopes, with partial batch failure reporting.

use super::{ingest, parse_envelope, EnvelopeError, Outcome, Report};
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

/// Handles a direct invocation (`{"events": [...]}`) or an SQS batch whose message bodies are
/// envelopes. An SQS message is reported failed, and so redelivered and finally dead-lettered,
/// unless every event in it was stored or was already stored.
pub async fn handle_invocation<S: Ingests>(
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
