//! One export being written: rows gathered by day into parts of bounded size, each uploaded when
//! full, then each day's manifest, then the parts of earlier runs that manifest does not list.

use super::*;
use crate::archive::Row;
use crate::dates;
use crate::model::limits::MAX_CLOCK_SKEW_HOURS;
use crate::retry::retrying;
use crate::store::{ExportRecords, StoreError};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// One day's export being written.
pub(super) struct Day {
    pub(super) rows: Vec<Row>,
    pub(super) bytes: usize,
    pub(super) parts: Vec<PartInfo>,
    pub(super) written: u64,
    /// The names the day's folder held before this export.
    pub(super) before: Vec<String>,
    /// Left as it is (`Exported::kept_days`).
    pub(super) kept: bool,
}

pub(super) struct Writer<'a, S> {
    pub(super) store: &'a S,
    pub(super) project: &'a str,
    pub(super) format: Format,
    /// Names this run's parts apart from every other run's.
    pub(super) run: String,
    pub(super) now: DateTime<Utc>,
    pub(super) days: BTreeMap<String, Day>,
    /// The day rows are being added to; earlier days are complete.
    pub(super) open: Option<String>,
}

pub(super) fn day_start(date: &str) -> Option<DateTime<Utc>> {
    NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .ok()?
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc())
}

/// Whether some records dated `date` may have expired by `now`: a record expires `retention` after
/// the earlier of its date and its first write, which is at most a clock skew before its date.
pub(super) fn begun_to_expire(date: &str, now: DateTime<Utc>, retention_days: i64) -> bool {
    day_start(date)
        .is_some_and(|start| start + Duration::days(retention_days) - Duration::hours(MAX_CLOCK_SKEW_HOURS) <= now)
}

impl<S: ExportRecords> Writer<'_, S> {
    pub(super) async fn add(&mut self, date: &str, row: Row) -> Result<(), ExportError> {
        if self.open.as_deref() != Some(date) {
            self.close().await?;
            self.open = Some(date.to_string());
        }
        if !self.days.contains_key(date) {
            let (store, project) = (self.store, self.project);
            let before = retrying(StoreError::is_retryable, || store.export_names(project, date)).await?;
            let kept = begun_to_expire(date, self.now, store.retention_days())
                && before.iter().any(|n| n == self.format.manifest_name());
            if kept {
                tracing::info!(project = %project, date = %date, format = self.format.name(), "the day's records have begun to expire: its export is kept as it is");
            }
            self.days.insert(
                date.to_string(),
                Day {
                    rows: Vec::new(),
                    bytes: 0,
                    parts: Vec::new(),
                    written: 0,
                    before,
                    kept,
                },
            );
        }
        let Some(day) = self.days.get_mut(date) else {
            return Ok(());
        };
        if day.kept {
            return Ok(());
        }
        day.bytes += row.approx_bytes() + 1;
        day.rows.push(row);
        if day.bytes >= PART_MAX_BYTES {
            self.flush(date).await?;
        }
        Ok(())
    }

    /// Uploads what the open day still holds; used when a pass over one kind of record ends.
    pub(super) async fn close(&mut self) -> Result<(), ExportError> {
        match self.open.take() {
            Some(open) => self.flush(&open).await,
            None => Ok(()),
        }
    }

    /// Uploads what a day holds as its next part.
    async fn flush(&mut self, date: &str) -> Result<(), ExportError> {
        let Some(day) = self.days.get_mut(date) else {
            return Ok(());
        };
        if day.rows.is_empty() {
            return Ok(());
        }
        let name = format!("part-{}-{:05}.{}", self.run, day.parts.len(), self.format.extension());
        let (bytes, rows) = self.format.encode(&day.rows)?;
        let info = PartInfo {
            key: crate::store::export_object_key(self.project, date, &name),
            rows,
            bytes: bytes.len() as u64,
            sha256: hex::encode(Sha256::digest(&bytes)),
        };
        let (store, project) = (self.store, self.project);
        retrying(StoreError::is_retryable, || {
            store.put_export(project, date, &name, bytes.clone())
        })
        .await?;
        day.written += info.rows;
        day.parts.push(info);
        day.rows.clear();
        day.bytes = 0;
        Ok(())
    }

    /// Writes each day's manifest, then deletes what of the day's earlier set it does not list.
    pub(super) async fn finish(mut self) -> Result<Exported, ExportError> {
        self.close().await?;
        let (store, project, format) = (self.store, self.project, self.format);
        let mut out = Exported::default();
        for (date, day) in std::mem::take(&mut self.days) {
            if day.kept {
                out.kept_days.push(date);
                continue;
            }
            let start = day_start(&date).ok_or_else(|| ExportError::Invalid(format!("no day {date}")))?;
            let manifest = Manifest {
                project_id: project.to_string(),
                date: date.clone(),
                format,
                after_date: dates::format(start),
                before_date: dates::format(start + Duration::days(1)),
                rows: day.written,
                parts: day.parts,
            };
            let text = serde_json::to_vec_pretty(&manifest).map_err(|e| ExportError::Encode(e.to_string()))?;
            retrying(StoreError::is_retryable, || {
                store.put_export(project, &date, format.manifest_name(), text.clone())
            })
            .await?;
            let listed: Vec<&str> = manifest.parts.iter().filter_map(|p| p.key.rsplit('/').next()).collect();
            let mut stale: Vec<&String> = day
                .before
                .iter()
                .filter(|n| format.is_part(n) && !listed.contains(&n.as_str()))
                .collect();
            // A Parquet export used to write `manifest.json` too; without JSON Lines parts beside
            // it, it can only be one of those, and lists parts just deleted.
            if format == Format::Parquet && !day.before.iter().any(|n| Format::Jsonl.is_part(n)) {
                stale.extend(day.before.iter().filter(|n| *n == LEGACY_MANIFEST));
            }
            for name in stale {
                retrying(StoreError::is_retryable, || store.delete_export(project, &date, name)).await?;
            }
            out.manifests.push(manifest);
        }
        Ok(out)
    }
}
