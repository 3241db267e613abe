//! The `stats` function's work: one batch of the table's stream into counter changes, taken in by
//! the store. Inserts and modifications of executions and event logs count; a removal is TTL's
//! (nothing else deletes records) and counts nothing, as counters expire with what they count.

use super::{BatchChanges, Counted, Sequence};
use crate::store::{counted_record, ArchivedRecord, KeepStats};
use crate::streams::{ItemFailure, StreamEvent};
use serde::Serialize;
use std::collections::BTreeMap;

/// Shard name when the event has none (an event source mapping without a tumbling window): exact
/// only while the stream has one shard at a time.
pub const UNKNOWN_SHARD: &str = "unknown";

/// The answer to a tumbling-window invocation: Lambda needs `state` (unused: counters are written
/// every batch) and takes the records to deliver again.
#[derive(Debug, Default, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StatsResponse {
    pub state: BTreeMap<String, String>,
    pub batch_item_failures: Vec<ItemFailure>,
}

/// What one batch did, for the log line.
#[derive(Debug, Default, PartialEq)]
pub struct Summary {
    pub records: usize,
    pub counted: usize,
    pub counters_written: usize,
    pub counters_skipped: usize,
    pub error: Option<String>,
}

fn record(image: Option<&serde_json::Value>) -> Option<ArchivedRecord> {
    counted_record(image?)
}

fn counted(r: &Option<ArchivedRecord>) -> Option<(&str, Counted<'_>)> {
    match r.as_ref()? {
        ArchivedRecord::Execution(e) => Some((e.project_id.as_str(), Counted::Execution(e))),
        ArchivedRecord::Log(l) => Some((l.project_id.as_str(), Counted::Log(l))),
        ArchivedRecord::Step { .. } => None,
    }
}

/// The changes a batch makes, record by record.
pub fn changes(batch: &StreamEvent) -> (BatchChanges, usize) {
    let mut out = BatchChanges::default();
    let mut counted_records = 0;
    for r in &batch.records {
        if !matches!(r.event_name.as_deref(), Some("INSERT") | Some("MODIFY")) {
            continue;
        }
        let old = record(r.dynamodb.old_image.as_ref());
        let new = record(r.dynamodb.new_image.as_ref());
        let (o, n) = (counted(&old), counted(&new));
        if o.is_some() || n.is_some() {
            counted_records += 1;
            out.add(&Sequence::of(&r.dynamodb.sequence_number), o, n);
        }
    }
    (out, counted_records)
}

/// Counts one batch. Any failure asks for the whole batch again: what was taken in already is
/// skipped on the next delivery, so nothing counts twice.
pub async fn count_batch(store: &impl KeepStats, batch: &StreamEvent) -> (StatsResponse, Summary) {
    let (changes, counted) = changes(batch);
    let shard = batch.shard_id.as_deref().unwrap_or(UNKNOWN_SHARD);
    let mut summary = Summary {
        records: batch.records.len(),
        counted,
        ..Summary::default()
    };
    let mut response = StatsResponse::default();
    match store.add_counts(shard, &changes).await {
        Ok(w) => {
            summary.counters_written = w.written;
            summary.counters_skipped = w.skipped;
        }
        Err(e) => {
            summary.error = Some(e.to_string());
            if let Some(first) = batch.records.first() {
                response.batch_item_failures.push(ItemFailure {
                    item_identifier: first.dynamodb.sequence_number.clone(),
                });
            }
        }
    }
    (response, summary)
}
