//! The scheduled export fanned out: the scheduled invocation queues one unit per pending project
//! day (`enqueue`, SendMessageBatch), and the worker (`work`, fed by the queue's event source
//! mapping) writes one unit per message. The queue is FIFO with a message group per project day,
//! so two units of one day never run at once (a unit deletes its day's parts its manifest does not
//! list), and a unit's id deduplicates the same slot queued twice (the scheduler's retry).

use super::units::{export_unit, pending_units, ExportUnit, Pending};
use super::DayFailure;
use crate::store::{ExportRecords, ListExecutions, ListLogs};
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use chrono::{DateTime, Duration, DurationRound, Utc};
use serde::Serialize;
use std::future::Future;

/// Messages a SendMessageBatch takes.
const BATCH: usize = 10;
/// Rounds of sending again the entries a batch did not take.
const SEND_ROUNDS: u32 = 3;

/// Where units are queued.
pub trait QueueUnits: Sync {
    /// Sends up to ten units in one request; the ids of those not taken, with why.
    fn send_batch(&self, units: &[ExportUnit]) -> impl Future<Output = Result<Vec<(String, String)>, String>> + Send;
}

/// The units queue on SQS (a FIFO queue).
#[derive(Clone, Debug)]
pub struct SqsUnits {
    pub client: aws_sdk_sqs::Client,
    pub url: String,
}

impl QueueUnits for SqsUnits {
    async fn send_batch(&self, units: &[ExportUnit]) -> Result<Vec<(String, String)>, String> {
        let mut req = self.client.send_message_batch().queue_url(&self.url);
        for (i, unit) in units.iter().enumerate() {
            let body = serde_json::to_string(unit).map_err(|e| e.to_string())?;
            let entry = aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .message_body(body)
                .message_group_id(fitted(unit.group()))
                .message_deduplication_id(dedup_id(unit))
                .build()
                .map_err(|e| e.to_string())?;
            req = req.entries(entry);
        }
        let out = req
            .send()
            .await
            .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string())?;
        Ok(out
            .failed()
            .iter()
            .filter_map(|f| {
                let unit = units.get(f.id().parse::<usize>().ok()?)?;
                Some((unit.id(), f.message().unwrap_or(f.code()).to_string()))
            })
            .collect())
    }
}

/// SQS takes at most 128 characters as a group or deduplication id: a longer one is hashed.
fn fitted(id: String) -> String {
    use sha2::Digest;
    if id.len() <= 128 {
        id
    } else {
        hex::encode(sha2::Sha256::digest(id.as_bytes()))
    }
}

fn dedup_id(unit: &ExportUnit) -> String {
    fitted(unit.id())
}

/// What a scheduled invocation queued.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Enqueued {
    /// Project days of the window that had changed since they were last written.
    pub pending: usize,
    pub queued: usize,
    /// Register days that could not be read, and units that could not be queued.
    pub failures: Vec<DayFailure>,
}

/// The slot units are queued for: the hour `now` is in, so the scheduler's retry of a run queues
/// the same units (deduplicated), and every unit reads its records after its slot.
pub fn slot_of(now: DateTime<Utc>) -> DateTime<Utc> {
    now.duration_trunc(Duration::hours(1)).unwrap_or(now)
}

/// Queues a unit per pending project day of the window, ten to a request.
pub async fn enqueue<S: ExportRecords, Q: QueueUnits>(store: &S, queue: &Q, now: DateTime<Utc>) -> Enqueued {
    let Pending { units, failures } = pending_units(store, slot_of(now)).await;
    let mut out = Enqueued {
        pending: units.len(),
        failures,
        ..Enqueued::default()
    };
    for chunk in units.chunks(BATCH) {
        let mut left: Vec<ExportUnit> = chunk.to_vec();
        let mut last: Vec<(String, String)> = Vec::new();
        for round in 0..SEND_ROUNDS {
            if left.is_empty() {
                break;
            }
            if round > 0 {
                crate::retry::sleep(round).await;
            }
            last = match queue.send_batch(&left).await {
                Ok(failed) => failed,
                Err(e) => left.iter().map(|u| (u.id(), e.clone())).collect(),
            };
            out.queued += left.len() - last.len();
            left.retain(|u| last.iter().any(|(id, _)| *id == u.id()));
        }
        for unit in &left {
            let error = last.iter().find(|(id, _)| *id == unit.id()).map(|(_, e)| e.clone());
            out.failures.push(DayFailure {
                project_id: Some(unit.project_id.clone()),
                date: unit.date.clone(),
                error: format!("not queued: {}", error.unwrap_or_default()),
            });
        }
    }
    out
}

/// Writes the unit of each message. A message that fails is delivered again (its day stays
/// pending meanwhile); one that holds no valid unit is dropped with a warning, as sending it
/// again cannot help.
pub async fn work<S: ListExecutions + ListLogs + ExportRecords>(store: &S, event: &SqsEvent) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for message in &event.records {
        let id = message.message_id.clone().unwrap_or_default();
        let unit = match serde_json::from_str::<ExportUnit>(message.body.as_deref().unwrap_or("")) {
            Ok(unit) => unit,
            Err(e) => {
                tracing::warn!(messageId = %id, error = %e, "an export message that holds no unit; dropped");
                continue;
            }
        };
        let started = std::time::Instant::now();
        match export_unit(store, &unit).await {
            Ok(done) => tracing::info!(
                messageId = %id,
                project = %unit.project_id,
                date = %unit.date,
                slot = %unit.slot,
                manifests = done.exported.manifests.len(),
                rows = done.exported.manifests.iter().map(|m| m.rows).sum::<u64>(),
                already = done.already.len(),
                durationMs = started.elapsed().as_millis() as u64,
                "export unit"
            ),
            // A unit naming no day or time never succeeds: delivering it again cannot help.
            Err(e @ super::ExportError::Invalid(_)) => {
                tracing::warn!(messageId = %id, error = %e, "an export unit that names no day; dropped");
            }
            Err(e) => {
                tracing::warn!(messageId = %id, project = %unit.project_id, date = %unit.date, error = %e, "an export unit failed; delivered again");
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id;
                response.batch_item_failures.push(failure);
            }
        }
    }
    response
}
