//! The scheduled run: every project day of the retention window changed since it was last
//! written, from the register ingest keeps, with a deadline and a record of what failed.

use super::units::{export_unit, pending_units};
use super::*;
use crate::store::{ExportRecords, ListExecutions, ListLogs};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

/// A project day the scheduled run could not write (`project_id` is absent when the register's
/// day could not be read).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DayFailure {
    pub project_id: Option<String>,
    pub date: String,
    pub error: String,
}

/// What a scheduled run did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduledRun {
    pub manifests: Vec<Manifest>,
    /// Project days of the window that had changed since they were last written.
    pub pending: usize,
    /// Pending project days left for the next run: the deadline came first.
    pub deferred: usize,
    /// Project days left as they were (`Exported::kept_days`), as `projectId/date`.
    pub kept: Vec<String>,
    pub failures: Vec<DayFailure>,
}

/// The days the scheduled run looks at, newest first: every finished UTC day whose records cannot
/// have begun to expire (at least yesterday).
pub(super) fn window(now: DateTime<Utc>, retention_days: i64) -> Vec<String> {
    let today = now.date_naive();
    (1..=(retention_days - 2).max(1))
        .map(|k| (today - Duration::days(k)).to_string())
        .collect()
}

/// The scheduled run in one process: every project day of the window that changed since the run
/// last wrote it (one read of the register per day), each a unit (`export_unit`) for `now`. A
/// failing project day is reported and the run goes on; it stays pending, so the next run (or
/// the retry of this one, which the caller causes by failing) writes it. No new day is started
/// within `DAY_RESERVE` (at most a third of the run's time) of `deadline`: what is left waits for
/// the next run. The queued export (`pending_units` to a queue, a worker per unit) does the same
/// work many units at a time.
pub async fn export_changed<S: ListExecutions + ListLogs + ExportRecords>(
    store: &S,
    now: DateTime<Utc>,
    deadline: Option<DateTime<Utc>>,
) -> ScheduledRun {
    let stop = deadline.map(|d| d - DAY_RESERVE.min((d - now) / 3).max(Duration::zero()));
    let pending = pending_units(store, now).await;
    let mut run = ScheduledRun {
        pending: pending.units.len(),
        failures: pending.failures,
        ..ScheduledRun::default()
    };
    for unit in &pending.units {
        if stop.is_some_and(|stop| Utc::now() > stop) {
            run.deferred += 1;
            continue;
        }
        match export_unit(store, unit).await {
            Ok(done) => {
                run.kept.extend(
                    done.exported
                        .kept_days
                        .iter()
                        .map(|d| format!("{}/{d}", unit.project_id)),
                );
                run.manifests.extend(done.exported.manifests);
            }
            Err(e) => {
                tracing::warn!(project = %unit.project_id, date = %unit.date, error = %e, "exporting a project day failed");
                run.failures.push(DayFailure {
                    project_id: Some(unit.project_id.clone()),
                    date: unit.date.clone(),
                    error: e.to_string(),
                });
            }
        }
    }
    run
}
