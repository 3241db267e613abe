//! The scheduled run: every project day of the retention window changed since it was last
//! written, from the register ingest keeps, with a deadline and a record of what failed.

use super::writer::day_start;
use super::*;
use crate::retry::retrying;
use crate::store::{ExportRecords, ListExecutions, ListLogs, ProjectDay, StoreError};
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

/// Writes one project day in JSON Lines, and in Parquet too when the day holds a Parquet export,
/// so neither format of the day goes stale.
async fn export_day<S: ListExecutions + ListLogs + ExportRecords>(
    store: &S,
    day: &ProjectDay,
    now: DateTime<Utc>,
) -> Result<Exported, ExportError> {
    let names = retrying(StoreError::is_retryable, || store.export_names(&day.project, &day.date)).await?;
    let mut formats = vec![Format::Jsonl];
    if names.iter().any(|n| n == Format::Parquet.manifest_name()) {
        formats.push(Format::Parquet);
    }
    let next = day_start(&day.date)
        .map(|t| (t + Duration::days(1)).date_naive().to_string())
        .ok_or_else(|| ExportError::Invalid(format!("no day {}", day.date)))?;
    let mut out = Exported::default();
    for format in formats {
        let req = ExportRequest {
            project_id: day.project.clone(),
            after_date: day.date.clone(),
            before_date: next.clone(),
            format: Some(format.name().to_string()),
        };
        let done = export(store, &req, now).await?;
        out.manifests.extend(done.manifests);
        out.kept_days.extend(done.kept_days);
    }
    Ok(out)
}

/// The scheduled run: every project day of the window that changed since the run last wrote it
/// (one Query of the register per day), each written whole and then marked written as of
/// `now - SETTLE`. A failing project day is reported and the run goes on; it stays pending, so the
/// next run (or the retry of this one, which the caller causes by failing) writes it. No new day
/// is started within `DAY_RESERVE` (at most a third of the run's time) of `deadline`: what is left
/// waits for the next run.
pub async fn export_changed<S: ListExecutions + ListLogs + ExportRecords>(
    store: &S,
    now: DateTime<Utc>,
    deadline: Option<DateTime<Utc>>,
) -> ScheduledRun {
    let mut run = ScheduledRun::default();
    let as_of = (now - SETTLE).timestamp_millis();
    let stop = deadline.map(|d| d - DAY_RESERVE.min((d - now) / 3).max(Duration::zero()));
    for date in window(now, store.retention_days()) {
        let days = match retrying(StoreError::is_retryable, || store.project_days(&date)).await {
            Ok(days) => days,
            Err(e) => {
                run.failures.push(DayFailure {
                    project_id: None,
                    date,
                    error: e.to_string(),
                });
                continue;
            }
        };
        for day in days.iter().filter(|d| d.pending()) {
            run.pending += 1;
            if stop.is_some_and(|stop| Utc::now() > stop) {
                run.deferred += 1;
                continue;
            }
            let result = match export_day(store, day, now).await {
                Ok(done) => retrying(StoreError::is_retryable, || store.mark_exported(day, as_of))
                    .await
                    .map(|()| done)
                    .map_err(ExportError::from),
                Err(e) => Err(e),
            };
            match result {
                Ok(done) => {
                    run.kept
                        .extend(done.kept_days.iter().map(|d| format!("{}/{d}", day.project)));
                    run.manifests.extend(done.manifests);
                }
                Err(e) => {
                    tracing::warn!(project = %day.project, date = %day.date, error = %e, "exporting a project day failed");
                    run.failures.push(DayFailure {
                        project_id: Some(day.project.clone()),
                        date: day.date.clone(),
                        error: e.to_string(),
                    });
                }
            }
        }
    }
    run
}
