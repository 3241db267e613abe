//! Ingest: validate each event on its own (`wire`), merge the events of each record in memory
//! (`plan`), then write: large bodies to S3 first, then the record (summary or step, small bodies
//! inline) as one put guarded by the version that was read. That put is the commit point: an S3
//! object nobody points at is invisible, so an event is stored completely or reported failed, never
//! half-visible. Lost races re-read strongly consistently and re-merge; throttling and 5xx retry
//! with capped backoff and jitter. `lambda` adapts direct and SQS invocations; `report` is what
//! producers get back.

pub mod lambda;
pub mod plan;
pub mod report;
pub mod wire;

pub use lambda::{handle_invocation, InvocationResult};
pub use report::{codes, Outcome, Report};
pub use wire::{parse_envelope, parse_event, Envelope, EnvelopeError, Event};

use crate::config::Settings;
use crate::retry;
use crate::store::{CommitUnits, StoreError, UnitKey};
use chrono::{DateTime, Utc};
use futures::stream::{self, StreamExt};
use plan::{plan_unit, UnitWrite};
use serde_json::value::RawValue;
use std::collections::{BTreeMap, HashMap};

/// Puts and uploads in flight at once per invocation.
const CONCURRENCY: usize = 8;

/// Validates and stores a batch of raw events; one outcome per event, in order.
pub async fn ingest<S: CommitUnits>(
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
        // After a lost race, read what won with strong consistency before merging again.
        let results = apply_once(store, settings, &events, now, attempt > 0).await;
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

type Results = Vec<(usize, Result<Outcome, StoreError>)>;

async fn apply_once<S: CommitUnits>(
    store: &S,
    settings: &Settings,
    events: &[(usize, &Event)],
    now: DateTime<Utc>,
    consistent: bool,
) -> Results {
    let mut units: BTreeMap<UnitKey, Vec<(usize, &Event)>> = BTreeMap::new();
    for &(i, e) in events {
        units.entry(e.unit.clone()).or_default().push((i, e));
    }
    let keys: Vec<UnitKey> = units.keys().cloned().collect();
    let stored = match store.load_units(&keys, consistent).await {
        Ok(s) => s,
        Err(e) => return events.iter().map(|(i, _)| (*i, Err(e.clone()))).collect(),
    };

    let mut results: Results = Vec::new();
    let mut writes: Vec<UnitWrite> = Vec::new();
    for (key, evs) in &units {
        let (write, outcomes) = plan_unit(
            key,
            evs,
            stored.get(key),
            settings.body_inline_max_bytes,
            settings.retention_days,
            now,
        );
        results.extend(outcomes.into_iter().map(|(i, o)| (i, Ok(o))));
        writes.extend(write);
    }

    // 1. Large bodies to S3, before anything points at them.
    let uploads: Vec<(usize, &UnitKey, &crate::bodies::Body)> = writes
        .iter()
        .enumerate()
        .flat_map(|(w, uw)| uw.uploads.iter().map(move |b| (w, &uw.commit.key, *b)))
        .collect();
    let upload_results: Vec<(usize, Result<(), StoreError>)> = stream::iter(uploads)
        .map(|(w, key, body)| async move { (w, store.put_body(key, body).await) })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let mut failed: HashMap<usize, StoreError> = HashMap::new();
    for (w, r) in upload_results {
        if let Err(e) = r {
            failed.insert(w, e);
        }
    }

    // 2. Records, each guarded by the version read: the commit point of its events.
    let ready: Vec<usize> = (0..writes.len()).filter(|w| !failed.contains_key(w)).collect();
    let put_results: Vec<(usize, Result<(), StoreError>)> = stream::iter(ready)
        .map(|w| {
            let writes = &writes;
            async move { (w, store.commit(&writes[w].commit).await) }
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
