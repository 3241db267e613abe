//! Ingest's notes in the register of project days (`NoteProjectDays`), made before anything of an
//! invocation is stored so the scheduled export finds every project day that changed since it
//! last wrote it.
//!
//! A note is a lease: it sets `changedAt` to `now + DAY_LEASE`, and the process (`NotedDays`)
//! makes no other note of that project and day until the lease has passed. Every record written
//! meanwhile is covered: it is written at a time before the lease's end, which the register
//! holds. The export marks a day written as of `run start - SETTLE`; a lease running past that
//! mark leaves the day pending, and one that ended before it ended `SETTLE` (well over an
//! invocation) before the run began, so the records it covers were stored before the run read
//! the day. A day is thus written again for a change within a lease, never missed.

use super::wire::Parsed;
use crate::config::Settings;
use crate::retry;
use crate::store::{NoteProjectDays, StoreError};
use chrono::{DateTime, Duration, Utc};
use futures::stream::{self, StreamExt};
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

/// How far ahead of its invocation a note covers a project's day: at most one note per project
/// and day per process in this time.
pub const DAY_LEASE: Duration = Duration::seconds(60);
/// Leases a process remembers; past it, the ones that ended are forgotten, and if that is not
/// enough, all (which only costs notes).
const REMEMBERED: usize = 100_000;
/// Notes in flight at once per invocation.
const CONCURRENCY: usize = 8;

/// A project and a day (`YYYY-MM-DD`).
pub type ProjectDate = (String, String);

/// The leases this process holds: until when (epoch milliseconds) the register covers its writes
/// of each project's day. Each instance holds one (`api::process::Process`).
#[derive(Debug, Default)]
pub struct NotedDays {
    leases: Mutex<HashMap<ProjectDate, i64>>,
}

impl NotedDays {
    fn covers(&self, day: &ProjectDate, at_ms: i64) -> bool {
        let leases = self.leases.lock().unwrap_or_else(|e| e.into_inner());
        leases.get(day).is_some_and(|&until| at_ms < until)
    }

    fn hold(&self, day: ProjectDate, until_ms: i64, now_ms: i64) {
        let mut leases = self.leases.lock().unwrap_or_else(|e| e.into_inner());
        if leases.len() >= REMEMBERED {
            leases.retain(|_, &mut until| until > now_ms);
            if leases.len() >= REMEMBERED {
                leases.clear();
            }
        }
        let until = leases.entry(day).or_insert(until_ms);
        *until = (*until).max(until_ms);
    }
}

/// The project day each event changes (`None`: an event not parsed, or one that changes no day
/// yet), and the events whose day could not be told because reading their executions failed.
async fn days_of<S: NoteProjectDays>(store: &S, parsed: &[Option<Parsed>]) -> (Vec<Option<ProjectDate>>, Vec<usize>) {
    let day_of = |at: Option<&str>| at.and_then(|t| t.get(..10)).map(str::to_string);
    let mut executions: HashMap<(String, String), Option<String>> = HashMap::new();
    for p in parsed.iter().flatten() {
        if let Parsed::Record(e) = p {
            if e.unit.step.is_none() {
                let day = day_of(e.fields.get(&crate::model::Field::DateStarted).and_then(|v| v.as_str()));
                executions.insert((e.unit.project.clone(), e.unit.execution.clone()), day);
            }
        }
    }
    let unknown: Vec<(String, String)> = parsed
        .iter()
        .flatten()
        .filter_map(|p| match p {
            Parsed::Record(e) if e.unit.step.is_some() => Some((e.unit.project.clone(), e.unit.execution.clone())),
            _ => None,
        })
        .filter(|owner| !executions.contains_key(owner))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let stored = if unknown.is_empty() {
        Ok(HashMap::new())
    } else {
        retry::retrying(StoreError::is_retryable, || store.execution_days(&unknown)).await
    };
    if let Err(e) = &stored {
        tracing::warn!(error = %e, "the days of steps' executions could not be read");
    }
    let mut undecided = Vec::new();
    let days = parsed
        .iter()
        .enumerate()
        .map(|(i, p)| match p.as_ref()? {
            Parsed::Log(l) => day_of(Some(&l.entry.timestamp)).map(|d| (l.entry.project_id.clone(), d)),
            Parsed::Record(e) => {
                let owner = (e.unit.project.clone(), e.unit.execution.clone());
                let own = day_of(e.fields.get(&crate::model::Field::DateStarted).and_then(|v| v.as_str()));
                let day = if e.unit.step.is_none() {
                    own
                } else if let Some(day) = executions.get(&owner) {
                    day.clone().or(own)
                } else {
                    match &stored {
                        Ok(stored) => stored.get(&owner).cloned().or(own),
                        Err(_) => {
                            undecided.push(i);
                            None
                        }
                    }
                };
                day.map(|d| (owner.0, d))
            }
        })
        .collect();
    (days, undecided)
}

/// Notes each project and day the events change, before anything of them is stored: one
/// conditional UpdateItem per distinct project and day that `noted` holds no lease of, retried.
/// A step changes the day its execution started on (where an export puts it), read from the
/// stored summary in one BatchGetItem for steps whose execution is not in the batch; until the
/// execution is stored, a step is in no export, and the execution's own event notes its day.
///
/// Returns the events that must not be stored: those whose day could not be noted. The others'
/// days are covered, so storing them is safe, and sending the rest again notes their days first.
pub async fn note_days<S: NoteProjectDays>(
    store: &S,
    settings: &Settings,
    noted: &NotedDays,
    parsed: &[Option<Parsed>],
    now: DateTime<Utc>,
) -> HashSet<usize> {
    let (days, mut unnoted) = days_of(store, parsed).await;
    let now_ms = now.timestamp_millis();
    let until_ms = (now + DAY_LEASE).timestamp_millis();
    let wanted: HashSet<&ProjectDate> = days.iter().flatten().filter(|d| !noted.covers(d, now_ms)).collect();
    let failed: HashSet<&ProjectDate> = stream::iter(wanted)
        .map(|day| async move {
            let (project, date) = day;
            let expires_at = crate::dates::parse(date).map_or(0, |t| {
                (t + Duration::days(settings.retention_days + 2)).timestamp()
            });
            let done = retry::retrying(StoreError::is_retryable, || {
                store.note_project_day(project, date, until_ms, expires_at)
            })
            .await;
            match done {
                Ok(()) => {
                    noted.hold(day.clone(), until_ms, now_ms);
                    None
                }
                Err(e) => {
                    tracing::warn!(project = %project, date = %date, error = %e, "the register of project days could not be written");
                    Some(day)
                }
            }
        })
        .buffer_unordered(CONCURRENCY)
        .filter_map(|d| async move { d })
        .collect()
        .await;
    unnoted.extend(
        days.iter()
            .enumerate()
            .filter(|(_, d)| d.as_ref().is_some_and(|d| failed.contains(d)))
            .map(|(i, _)| i),
    );
    unnoted.into_iter().collect()
}
