//! Ingest: validate each event on its own (`wire`), merge the events of each record in memory
//! (`plan`), then write: large bodies to S3 first, then the record (summary or step, small bodies
//! inline) as one put guarded by the version that was read. That put is the commit point: an S3
//! object nobody points at is invisible, so an event is stored completely or reported failed, never
//! half-visible. Lost races re-read strongly consistently and re-merge; throttling and 5xx retry
//! with capped backoff and jitter. An execution whose bodies or errors bring new tokens gets its
//! token fingerprints written before its records (a superset never hides a match). Event logs are
//! immutable: each is one put that succeeds only if it is new. `lambda` adapts direct and SQS
//! invocations; `report` is what producers get back.

pub mod days;
pub mod lambda;
pub mod plan;
pub mod report;
pub mod wire;

pub use days::{NotedDays, DAY_LEASE};
pub use lambda::{handle_invocation, InvocationResult};
pub use report::{codes, Outcome, Report};
pub use wire::{parse_any, parse_envelope, parse_event, parse_log, Envelope, EnvelopeError, Event, LogEvent, Parsed};

use crate::bodies::{Placement, StoredBody};
use crate::config::Settings;
use crate::model::counts::{Family, Interval};
use crate::model::limits::MAX_LOG_INLINE_RAW_BYTES;
use crate::retry;
use crate::search::Fingerprints;
use crate::store::{AppendLogs, CommitUnits, Ingests, LogWrite, NoteWrites, StoreError, TokensCommit, UnitKey};
use chrono::{DateTime, Utc};
use futures::stream::{self, StreamExt};
use plan::{plan_unit, UnitWrite};
use serde_json::value::RawValue;
use std::collections::{BTreeMap, HashMap};

/// Puts and uploads in flight at once per invocation.
const CONCURRENCY: usize = 8;

/// Validates and stores a batch of raw events; one outcome per event, in order. Holds no lease
/// of a project day from before: every project day of the events is noted.
pub async fn ingest<S: Ingests>(
    store: &S,
    settings: &Settings,
    raw: &[Box<RawValue>],
    now: DateTime<Utc>,
) -> Vec<Outcome> {
    ingest_noting(store, settings, &NotedDays::default(), raw, now).await
}

/// `ingest` within an instance that holds the leases `noted` of project days it noted before.
pub async fn ingest_noting<S: Ingests>(
    store: &S,
    settings: &Settings,
    noted: &NotedDays,
    raw: &[Box<RawValue>],
    now: DateTime<Utc>,
) -> Vec<Outcome> {
    let mut outcomes: Vec<Outcome> = Vec::with_capacity(raw.len());
    let mut parsed: Vec<Option<Parsed>> = Vec::with_capacity(raw.len());
    for r in raw {
        match parse_any(r, now, settings) {
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
    // An event whose project day is not in the register is not stored: the export would not
    // find it. Sending it again notes the day first.
    let unnoted = days::note_days(store, settings, noted, &parsed, now).await;
    for &i in &unnoted {
        outcomes[i] = Outcome::rejected(
            codes::UNAVAILABLE,
            "storage is unavailable; the event was not stored, send it again",
        );
    }
    let mut pending: Vec<usize> = (0..raw.len())
        .filter(|&i| parsed[i].is_some() && !unnoted.contains(&i))
        .collect();
    let mut attempt = 0;
    while !pending.is_empty() {
        let mut events: Vec<(usize, &Event)> = Vec::new();
        let mut logs: Vec<(usize, &LogEvent)> = Vec::new();
        for &i in &pending {
            match &parsed[i] {
                Some(Parsed::Record(e)) => events.push((i, e)),
                Some(Parsed::Log(l)) => logs.push((i, l)),
                None => {}
            }
        }
        // After a lost race, read what won with strong consistency before merging again.
        let (mut results, log_results) = futures::join!(
            apply_once(store, settings, &events, now, attempt > 0),
            append_logs(store, settings, &logs, now)
        );
        results.extend(log_results);
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

/// Stores event logs: large bodies to S3 first, then each log as one put that succeeds only if it
/// is new (a log already stored is a duplicate, whatever the retry).
async fn append_logs<S: AppendLogs + NoteWrites>(
    store: &S,
    settings: &Settings,
    logs: &[(usize, &LogEvent)],
    now: DateTime<Utc>,
) -> Results {
    let puts: Vec<(&str, DateTime<Utc>)> = logs
        .iter()
        .map(|(_, l)| (l.entry.project_id.as_str(), l.timestamp))
        .collect();
    if let Err(e) = note_puts(store, Family::Logs, puts.iter().copied(), 1).await {
        return logs.iter().map(|(i, _)| (*i, Err(e.clone()))).collect();
    }
    let results: Results = stream::iter(logs.iter().copied())
        .map(|(i, log)| async move { (i, append_log(store, settings, log, now).await) })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    // A duplicate or a failure made no stream record: take its noted put back.
    let not_put: std::collections::HashSet<usize> = results
        .iter()
        .filter(|(_, r)| !matches!(r, Ok(Outcome::Accepted)))
        .map(|(i, _)| *i)
        .collect();
    let back = logs
        .iter()
        .zip(&puts)
        .filter(|((i, _), _)| not_put.contains(i))
        .map(|(_, p)| *p);
    take_back(store, Family::Logs, back).await;
    results
}

/// Notes puts (`sign` 1) or takes them back (-1), one addition per project and hour.
async fn note_puts<'a, S: NoteWrites>(
    store: &S,
    family: Family,
    puts: impl Iterator<Item = (&'a str, DateTime<Utc>)>,
    sign: i64,
) -> Result<(), StoreError> {
    let mut by_hour: BTreeMap<(&str, DateTime<Utc>), i64> = BTreeMap::new();
    for (project, started) in puts {
        *by_hour.entry((project, Interval::Hour.floor(started))).or_default() += sign;
    }
    let mut done: Vec<((&str, DateTime<Utc>), i64)> = Vec::new();
    for (&(project, hour), &n) in &by_hour {
        match store.note_writes(project, family, hour, n).await {
            Ok(()) => done.push(((project, hour), n)),
            Err(e) => {
                // None of these puts will be made: undo what was noted of them.
                for ((project, hour), n) in done {
                    let _ = store.note_writes(project, family, hour, -n).await;
                }
                return Err(e);
            }
        }
    }
    Ok(())
}

/// Takes back noted puts that did not land. Should this fail, the counters' totals of that hour stay
/// marked inexact (a count that says too much is never claimed exact).
async fn take_back<'a, S: NoteWrites>(store: &S, family: Family, puts: impl Iterator<Item = (&'a str, DateTime<Utc>)>) {
    if let Err(e) = note_puts(store, family, puts, -1).await {
        tracing::warn!(error = %e, "noted puts that did not land could not be taken back");
    }
}

async fn append_log<S: AppendLogs>(
    store: &S,
    settings: &Settings,
    log: &LogEvent,
    now: DateTime<Utc>,
) -> Result<Outcome, StoreError> {
    let place = |body: &Option<crate::bodies::Body>| {
        body.as_ref()
            .map(|b| StoredBody::new_within(b, settings.body_inline_max_bytes, MAX_LOG_INLINE_RAW_BYTES))
    };
    let (payload, error_details) = (place(&log.payload), place(&log.error_details));
    for (stored, body) in [(&payload, &log.payload), (&error_details, &log.error_details)] {
        if let (Some(s), Some(b)) = (stored, body) {
            if s.placement == Placement::External {
                store.put_log_body(&log.entry.project_id, b).await?;
            }
        }
    }
    // A log dated ahead of the clock expires by the clock, like an execution.
    let expires_at = (log.timestamp.min(now) + chrono::Duration::days(settings.retention_days)).timestamp();
    let write = LogWrite {
        entry: log.entry.clone(),
        payload,
        error_details,
        tokens: log.tokens(),
        expires_at,
    };
    Ok(if store.append_log(&write).await? {
        Outcome::Accepted
    } else {
        Outcome::Duplicate
    })
}

/// The project and start of an execution summary a write puts (steps are not counted).
fn counted_put<'a>(w: &'a UnitWrite<'_>) -> Option<(&'a str, DateTime<Utc>)> {
    if w.commit.key.step.is_some() {
        return None;
    }
    let started = w.commit.fields.get(&crate::model::Field::DateStarted)?.value.as_str()?;
    Some((w.commit.key.project.as_str(), crate::dates::parse(started)?))
}

async fn apply_once<S: CommitUnits + NoteWrites>(
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
    let mut token_keys: Vec<(String, String)> = events
        .iter()
        .filter(|(_, e)| e.has_tokens())
        .map(|(_, e)| (e.unit.project.clone(), e.unit.execution.clone()))
        .collect();
    token_keys.sort();
    token_keys.dedup();
    let loaded = match store.load_units(&keys, &token_keys, consistent).await {
        Ok(s) => s,
        Err(e) => return events.iter().map(|(i, _)| (*i, Err(e.clone()))).collect(),
    };
    let stored = &loaded.units;

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

    // 2. Token fingerprints of each execution gaining tokens, before any record that adds them.
    let by_index: HashMap<usize, &Event> = events.iter().copied().collect();
    let mut additions: BTreeMap<(String, String), (Fingerprints, i64, Vec<usize>)> = BTreeMap::new();
    for (w, uw) in writes.iter().enumerate() {
        if failed.contains_key(&w) {
            continue;
        }
        let mut tokens = Fingerprints::default();
        for i in &uw.event_indexes {
            if let Some(e) = by_index.get(i) {
                e.add_tokens(&mut tokens);
            }
        }
        if tokens.is_empty() {
            continue;
        }
        let key = &uw.commit.key;
        let entry = additions
            .entry((key.project.clone(), key.execution.clone()))
            .or_insert_with(|| (Fingerprints::default(), 0, Vec::new()));
        entry.0.union(&tokens);
        entry.1 = entry.1.max(uw.commit.expires_at);
        entry.2.push(w);
    }
    let token_writes: Vec<(TokensCommit, Vec<usize>)> = additions
        .into_iter()
        .filter_map(|((project, execution), (adds, expires_at, ws))| {
            let have = loaded.tokens.get(&(project.clone(), execution.clone()));
            let mut fingerprints = have.map(|t| t.fingerprints.clone()).unwrap_or_default();
            fingerprints.union(&adds);
            if have.is_some_and(|t| t.fingerprints == fingerprints) {
                return None;
            }
            // Every record written so far expires by now + retention at the latest (expiry is
            // `min(dateStarted, first write)` + retention), so fingerprints kept that long outlive
            // every record they describe, whatever order its events came in.
            let latest = (now + chrono::Duration::days(settings.retention_days)).timestamp();
            let expires_at = [expires_at, latest, have.map_or(0, |t| t.expires_at)]
                .into_iter()
                .max()
                .unwrap_or(latest);
            let commit = TokensCommit {
                project,
                execution,
                fingerprints,
                expected_version: have.map(|t| t.version),
                expires_at,
            };
            Some((commit, ws))
        })
        .collect();
    let token_results: Vec<(Vec<usize>, Result<(), StoreError>)> = stream::iter(token_writes)
        .map(|(commit, ws)| async move { (ws, store.commit_tokens(&commit).await) })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    for (ws, r) in token_results {
        if let Err(e) = r {
            for w in ws {
                failed.insert(w, e.clone());
            }
        }
    }

    // 3. Records, each guarded by the version read: the commit point of its events. Their puts
    // are noted first, so a total never takes the counters for exact while one is unapplied.
    let mut ready: Vec<usize> = (0..writes.len()).filter(|w| !failed.contains_key(w)).collect();
    let noted = note_puts(
        store,
        Family::Executions,
        ready.iter().filter_map(|&w| counted_put(&writes[w])),
        1,
    )
    .await;
    if let Err(e) = noted {
        for w in ready.drain(..) {
            failed.insert(w, e.clone());
        }
    }
    let put_results: Vec<(usize, Result<(), StoreError>)> = stream::iter(ready)
        .map(|w| {
            let writes = &writes;
            async move { (w, store.commit(&writes[w].commit).await) }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let mut not_put = Vec::new();
    for (w, r) in put_results {
        if let Err(e) = r {
            not_put.extend(counted_put(&writes[w]));
            failed.insert(w, e);
        }
    }
    take_back(store, Family::Executions, not_put.into_iter()).await;

    for (w, e) in failed {
        for &i in &writes[w].event_indexes {
            if let Some(slot) = results.iter_mut().find(|(j, _)| *j == i) {
                slot.1 = Err(e.clone());
            }
        }
    }
    results
}
