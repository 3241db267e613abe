//! Warehouse exports: a project's records as gzipped JSON Lines (or Parquet) under
//! `exports/projectId=.../date=YYYY-MM-DD/`, in parts of bounded size, with a manifest per day and
//! format (`manifest.json` for JSON Lines, `manifest.parquet.json` for Parquet: rows, bytes and
//! SHA-256 of every part). Rows are the archive's (`archive::row`): the fields as the API returns
//! them, with every body. An execution's steps land in its own day.
//!
//! A day's folder always holds that whole day: a range is widened to whole UTC days, and an export
//! of a day replaces that day's set in its format. Parts are named by the run, so a manifest never
//! lists an object another run rewrote; after the manifest is written, the format's parts it does
//! not list are deleted. A day with no records is left as it is (an export outlives the records),
//! and so is a day whose records have begun to expire when it already holds an export in that
//! format: the export is its history, and a new one would hold less.
//!
//! It streams: executions are read a page at a time in `dateStarted` order, and a part is
//! uploaded as soon as it is full, so memory holds one part and one page whatever the range.
//!
//! The scheduled run (`export_changed`) writes every project day of the retention window that
//! changed since it last wrote it, from the register ingest keeps (`NoteProjectDays`).

mod parquet;
pub mod queue;
mod scheduled;
mod units;
mod writer;

pub use scheduled::{export_changed, DayFailure, ScheduledRun};
pub use units::{export_unit, pending_units, ExportUnit, Pending, UnitDone};
use writer::Writer;

use crate::archive::{gzip_rows, row, Row};
use crate::dates;
use crate::model::limits::MAX_LIMIT;
use crate::query::{ListQuery, LogQuery, Position, ReadBudget, Window};
use crate::retry::retrying;
use crate::store::{Archived, ExportRecords, ListExecutions, ListLogs, StoreError};
use chrono::{DateTime, Duration, Utc};
use futures::stream::{self, StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Uncompressed bytes of rows per part (about: rows are measured, not written, to size a part).
pub const PART_MAX_BYTES: usize = 32 * 1024 * 1024;
/// Executions whose records are read at once.
const CONCURRENCY: usize = 16;
/// How long before its start a scheduled run takes as the time it has written a day as of. Ingest
/// notes a change before it writes the records, so a change noted shortly before the run may land
/// after the run read the day: such a day stays pending and the next run writes it again. Well
/// over twice ingest's longest invocation (its 30 s timeout), with room for index propagation and
/// clock differences between instances.
pub const SETTLE: Duration = Duration::minutes(15);
/// A scheduled run starts no new project day with less than this left before its deadline (or a
/// third of its whole time, when that is shorter).
const DAY_RESERVE: Duration = Duration::minutes(5);
/// The manifest name of exports before manifests were per format (it was written by both).
const LEGACY_MANIFEST: &str = "manifest.json";

/// An on-demand export: `{"projectId", "afterDate", "beforeDate", "format"?}`.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExportRequest {
    pub project_id: String,
    pub after_date: String,
    pub before_date: String,
    #[serde(default)]
    pub format: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Jsonl,
    Parquet,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Jsonl => "jsonl",
            Format::Parquet => "parquet",
        }
    }

    fn extension(self) -> &'static str {
        match self {
            Format::Jsonl => "jsonl.gz",
            Format::Parquet => "parquet",
        }
    }

    /// The day's manifest of this format. JSON Lines keeps the name every export had before.
    pub fn manifest_name(self) -> &'static str {
        match self {
            Format::Jsonl => LEGACY_MANIFEST,
            Format::Parquet => "manifest.parquet.json",
        }
    }

    /// Whether an object of a day's folder is a part of this format.
    fn is_part(self, name: &str) -> bool {
        name.starts_with("part-") && name.ends_with(&format!(".{}", self.extension()))
    }

    /// The part's bytes and the rows the encoder wrote, which are all of them or an error.
    fn encode(self, rows: &[Row]) -> Result<(Vec<u8>, u64), ExportError> {
        let encoded = match self {
            Format::Jsonl => gzip_rows(rows),
            Format::Parquet => parquet::encode(rows).map_err(|e| format!("parquet: {e}")),
        }
        .map_err(ExportError::Encode)?;
        if encoded.1 != rows.len() as u64 {
            return Err(ExportError::Encode(format!(
                "{} encoder wrote {} rows of {}",
                self.name(),
                encoded.1,
                rows.len()
            )));
        }
        Ok(encoded)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PartInfo {
    pub key: String,
    pub rows: u64,
    pub bytes: u64,
    pub sha256: String,
}

/// The manifest of one project, day and format. `rows` is what the encoders wrote, part by part.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub project_id: String,
    pub date: String,
    pub format: Format,
    /// The day's bounds: `afterDate <= dateStarted/timestamp < beforeDate`.
    pub after_date: String,
    pub before_date: String,
    pub rows: u64,
    pub parts: Vec<PartInfo>,
}

/// What an export wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Exported {
    pub manifests: Vec<Manifest>,
    /// Days left as they were: their records have begun to expire and the day already holds an
    /// export in this format.
    pub kept_days: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{0}")]
    Invalid(String),
    #[error("storage failed: {0}")]
    Store(#[from] StoreError),
    #[error("a part could not be written: {0}")]
    Encode(String),
}

fn parse_request(req: &ExportRequest) -> Result<(DateTime<Utc>, DateTime<Utc>, Format), ExportError> {
    if !crate::model::values::valid_id(&req.project_id) {
        return Err(ExportError::Invalid(format!(
            "projectId must be {}",
            crate::model::values::ID_RULE
        )));
    }
    let date = |v: &str, name: &str| {
        dates::parse(v).ok_or_else(|| ExportError::Invalid(format!("{name} must be RFC 3339 or YYYY-MM-DD")))
    };
    let (after, before) = (
        date(&req.after_date, "afterDate")?,
        date(&req.before_date, "beforeDate")?,
    );
    if after >= before {
        return Err(ExportError::Invalid("beforeDate must be later than afterDate".into()));
    }
    let format = match req.format.as_deref() {
        None | Some("jsonl") => Format::Jsonl,
        Some("parquet") => Format::Parquet,
        Some(other) => {
            return Err(ExportError::Invalid(format!(
                "unknown format {other:?}; use jsonl or parquet"
            )))
        }
    };
    Ok((after, before, format))
}

/// `[after, before)` widened to whole UTC days.
fn whole_days(after: DateTime<Utc>, before: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let floor = |t: DateTime<Utc>| t.date_naive().and_hms_opt(0, 0, 0).map_or(t, |d| d.and_utc());
    let end = floor(before);
    (floor(after), if end == before { end } else { end + Duration::days(1) })
}

fn row_of(r: &Archived) -> Result<Row, ExportError> {
    row(r).map_err(ExportError::Encode)
}

/// Exports every record of one project dated on the UTC days `[afterDate, beforeDate)` touches
/// (`dateStarted`, `timestamp`); one manifest per day that has records.
pub async fn export<S: ListExecutions + ListLogs + ExportRecords>(
    store: &S,
    req: &ExportRequest,
    now: DateTime<Utc>,
) -> Result<Exported, ExportError> {
    export_named(store, req, now, &run_name(now)).await
}

/// What names a run's parts apart from every other run's: the time it exports as of.
fn run_name(now: DateTime<Utc>) -> String {
    now.format("%Y%m%dT%H%M%S%3fZ").to_string()
}

/// `export` with the parts named by `run`: the same run of the same records writes the same
/// objects, byte for byte.
async fn export_named<S: ListExecutions + ListLogs + ExportRecords>(
    store: &S,
    req: &ExportRequest,
    now: DateTime<Utc>,
    run: &str,
) -> Result<Exported, ExportError> {
    let (after, before, format) = parse_request(req)?;
    let (after, before) = whole_days(after, before);
    let project = req.project_id.as_str();
    let mut writer = Writer {
        store,
        project,
        format,
        run: run.to_string(),
        now,
        days: BTreeMap::new(),
        open: None,
    };
    // A page is read without a budget cut: an export reads everything in its range.
    let budget = ReadBudget { items: u64::MAX / 4 };
    let window = Window {
        project: project.to_string(),
        after: Some(after),
        before: Some(before),
        ascending: true,
        limit: 100,
        now,
        search: None,
    };
    let query = ListQuery {
        window: window.clone(),
        ..Default::default()
    };
    let mut resume: Option<Position> = None;
    loop {
        // A long export meets transient failures: each read is retried, never the whole export.
        let page = retrying(StoreError::is_retryable, || {
            store.list_executions(&query, resume.as_ref(), budget)
        })
        .await?;
        let records: Vec<Vec<Archived>> = stream::iter(page.items.iter())
            .map(|e| {
                retrying(StoreError::is_retryable, || {
                    store.execution_records(project, &e.id, now.timestamp())
                })
            })
            .buffered(CONCURRENCY)
            .try_collect()
            .await?;
        for (summary, records) in page.items.iter().zip(records) {
            let day = summary.date_started.get(..10).unwrap_or_default().to_string();
            for r in &records {
                writer.add(&day, row_of(r)?).await?;
            }
        }
        resume = page.next;
        if resume.is_none() {
            break;
        }
    }
    writer.close().await?;
    let logs = LogQuery {
        window: Window {
            limit: MAX_LIMIT as usize,
            ..window
        },
        ..Default::default()
    };
    let mut resume: Option<Position> = None;
    loop {
        let page = retrying(StoreError::is_retryable, || {
            store.list_logs(&logs, resume.as_ref(), budget)
        })
        .await?;
        for log in &page.items {
            let whole = retrying(StoreError::is_retryable, || store.log_record(log)).await?;
            let r = row_of(&whole)?;
            let day = r.date.clone();
            writer.add(&day, r).await?;
        }
        resume = page.next;
        if resume.is_none() {
            break;
        }
    }
    writer.finish().await
}

#[cfg(test)]
mod tests {
    use super::scheduled::window;
    use super::writer::begun_to_expire;
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        dates::parse(s).unwrap()
    }

    #[test]
    fn a_range_covers_the_whole_days_it_touches() {
        assert_eq!(
            whole_days(at("2026-11-20T06:00:00Z"), at("2026-11-21T01:00:00Z")),
            (at("2026-11-20"), at("2026-11-22"))
        );
        assert_eq!(
            whole_days(at("2026-11-20"), at("2026-11-21")),
            (at("2026-11-20"), at("2026-11-21"))
        );
    }

    #[test]
    fn the_window_is_the_finished_days_none_of_whose_records_can_have_expired() {
        let now = at("2026-11-25T01:15:00Z");
        let days = window(now, 90);
        assert_eq!(days.first().map(String::as_str), Some("2026-11-24"));
        assert_eq!(days.len(), 88);
        assert!(days.iter().all(|d| !begun_to_expire(d, now, 90)), "{days:?}");
        assert!(begun_to_expire(
            &(now.date_naive() - Duration::days(89)).to_string(),
            now,
            90
        ));
        assert_eq!(window(now, 1), vec!["2026-11-24".to_string()], "at least yesterday");
    }

    #[test]
    fn parts_are_told_apart_by_format() {
        assert!(Format::Jsonl.is_part("part-20261125T011500000Z-00000.jsonl.gz"));
        assert!(
            Format::Jsonl.is_part("part-00003.jsonl.gz"),
            "an earlier version's names"
        );
        assert!(!Format::Jsonl.is_part("part-00000.parquet"));
        assert!(!Format::Parquet.is_part("manifest.parquet.json"));
    }
}
