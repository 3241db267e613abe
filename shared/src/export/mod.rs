//! Warehouse exports: a project's records of a date range as gzipped JSON Lines (or Parquet) under
//! `exports/projectId=.../date=YYYY-MM-DD/`, in parts of bounded size, with a `manifest.json` per
//! day (rows, bytes and SHA-256 of every part). Rows are the archive's (`archive::row`): the
//! fields as the API returns them, with every body. An execution's steps land in its own day.
//!
//! `"format": "parquet"` writes the same rows as Parquet (`parquet`), one row group per part.
//!
//! It streams: executions are read a page at a time in `dateStarted` order, and a part is
//! uploaded as soon as it is full, so memory holds one part and one page whatever the range.

mod parquet;

use crate::archive::{gzip_lines, row};
use crate::dates;
use crate::model::limits::MAX_LIMIT;
use crate::query::{ListQuery, LogQuery, Position, ReadBudget};
use crate::retry::retrying;
use crate::store::{Archived, ExportRecords, ListExecutions, ListLogs, StoreError};
use chrono::{DateTime, Duration, Utc};
use futures::stream::{self, StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Uncompressed bytes of rows per part.
pub const PART_MAX_BYTES: usize = 32 * 1024 * 1024;
/// Executions whose records are read at once.
const CONCURRENCY: usize = 16;

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
    fn extension(self) -> &'static str {
        match self {
            Format::Jsonl => "jsonl.gz",
            Format::Parquet => "parquet",
        }
    }

    fn encode(self, lines: &[String]) -> Result<Vec<u8>, StoreError> {
        match self {
            Format::Jsonl => Ok(gzip_lines(lines)),
            Format::Parquet => parquet::encode(lines).map_err(|e| StoreError::Permanent(format!("parquet: {e}"))),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PartInfo {
    pub key: String,
    pub rows: u64,
    pub bytes: u64,
    pub sha256: String,
}

/// `manifest.json` of one project and day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub project_id: String,
    pub date: String,
    pub format: Format,
    pub after_date: String,
    pub before_date: String,
    pub rows: u64,
    pub parts: Vec<PartInfo>,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{0}")]
    Invalid(String),
    #[error("storage failed: {0}")]
    Store(#[from] StoreError),
}

/// Parts of one day being written.
struct Day {
    date: String,
    lines: Vec<String>,
    bytes: usize,
    parts: Vec<PartInfo>,
    rows: u64,
}

struct Writer<'a, S> {
    store: &'a S,
    project: &'a str,
    format: Format,
    days: BTreeMap<String, Day>,
    /// The day rows are being added to; earlier days are complete.
    open: Option<String>,
}

impl<S: ExportRecords> Writer<'_, S> {
    async fn add(&mut self, date: &str, line: String) -> Result<(), StoreError> {
        if self.open.as_deref() != Some(date) {
            self.close().await?;
            self.open = Some(date.to_string());
        }
        let day = self.days.entry(date.to_string()).or_insert_with(|| Day {
            date: date.to_string(),
            lines: Vec::new(),
            bytes: 0,
            parts: Vec::new(),
            rows: 0,
        });
        day.bytes += line.len() + 1;
        day.lines.push(line);
        if day.bytes >= PART_MAX_BYTES {
            self.flush(date).await?;
        }
        Ok(())
    }

    /// Uploads what the open day still holds; used when a pass over one kind of record ends.
    async fn close(&mut self) -> Result<(), StoreError> {
        match self.open.take() {
            Some(open) => self.flush(&open).await,
            None => Ok(()),
        }
    }

    /// Uploads what a day holds as its next part.
    async fn flush(&mut self, date: &str) -> Result<(), StoreError> {
        let Some(day) = self.days.get_mut(date) else {
            return Ok(());
        };
        if day.lines.is_empty() {
            return Ok(());
        }
        let name = format!("part-{:05}.{}", day.parts.len(), self.format.extension());
        let bytes = self.format.encode(&day.lines)?;
        let info = PartInfo {
            key: format!("exports/projectId={}/date={}/{name}", self.project, day.date),
            rows: day.lines.len() as u64,
            bytes: bytes.len() as u64,
            sha256: hex::encode(Sha256::digest(&bytes)),
        };
        let store = self.store;
        retrying(StoreError::is_retryable, || {
            store.put_export(self.project, date, &name, bytes.clone())
        })
        .await?;
        day.rows += info.rows;
        day.parts.push(info);
        day.lines.clear();
        day.bytes = 0;
        Ok(())
    }
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

/// Exports `afterDate <= dateStarted/timestamp < beforeDate` of one project; one manifest per day
/// that had records.
pub async fn export<S: ListExecutions + ListLogs + ExportRecords>(
    store: &S,
    req: &ExportRequest,
    now: DateTime<Utc>,
) -> Result<Vec<Manifest>, ExportError> {
    let (after, before, format) = parse_request(req)?;
    let project = req.project_id.as_str();
    let mut writer = Writer {
        store,
        project,
        format,
        days: BTreeMap::new(),
        open: None,
    };
    // A page is read without a budget cut: an export reads everything in its range.
    let budget = ReadBudget { items: u64::MAX / 4 };
    let query = ListQuery {
        project: project.to_string(),
        after: Some(after),
        before: Some(before),
        ascending: true,
        limit: 100,
        now,
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
                if let Some((_, _, line)) = row(r) {
                    writer.add(&day, line).await?;
                }
            }
        }
        resume = page.next;
        if resume.is_none() {
            break;
        }
    }
    writer.close().await?;
    let logs = LogQuery {
        project: project.to_string(),
        after: Some(after),
        before: Some(before),
        ascending: true,
        limit: MAX_LIMIT as usize,
        now,
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
            if let Some((_, day, line)) = row(&whole) {
                writer.add(&day, line).await?;
            }
        }
        resume = page.next;
        if resume.is_none() {
            break;
        }
    }
    writer.close().await?;
    let mut manifests = Vec::new();
    for day in writer.days.into_values() {
        let manifest = Manifest {
            project_id: project.to_string(),
            date: day.date.clone(),
            format,
            after_date: dates::format(after),
            before_date: dates::format(before),
            rows: day.rows,
            parts: day.parts,
        };
        let text = serde_json::to_vec_pretty(&manifest).unwrap_or_default();
        retrying(StoreError::is_retryable, || {
            store.put_export(project, &day.date, "manifest.json", text.clone())
        })
        .await?;
        manifests.push(manifest);
    }
    Ok(manifests)
}

/// The scheduled run: the previous UTC day of every project that stored records dated on it.
pub async fn export_yesterday<S: ListExecutions + ListLogs + ExportRecords>(
    store: &S,
    now: DateTime<Utc>,
) -> Result<Vec<Manifest>, ExportError> {
    let today = now.date_naive();
    let yesterday = today - Duration::days(1);
    let mut out = Vec::new();
    let day = yesterday.to_string();
    for project in retrying(StoreError::is_retryable, || store.projects_on(&day)).await? {
        let req = ExportRequest {
            project_id: project,
            after_date: yesterday.to_string(),
            before_date: today.to_string(),
            format: None,
        };
        out.extend(export(store, &req, now).await?);
    }
    Ok(out)
}
