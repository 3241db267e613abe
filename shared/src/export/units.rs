//! The scheduled export as units of work: one per pending project day (`pending_units`), each
//! written on its own (`export_unit`), so many can run at once (the worker, fed by a queue) and a
//! unit delivered again writes the same objects. A unit is named by the slot it was queued for:
//! its parts are `part-{slot}-{n}`, its records read as of that slot, and the register marks the
//! day written as of `slot - SETTLE`. A unit whose manifest already lists only its own parts is
//! done but for what came after the manifest (the deletion of older parts and the mark), which it
//! finishes.

use super::writer::day_start;
use super::*;
use crate::retry::retrying;
use crate::store::{ExportRecords, ListExecutions, ListLogs, ProjectDay, StoreError};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// One project day to export as of `slot`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExportUnit {
    pub project_id: String,
    pub date: String,
    /// When the unit was queued for (RFC 3339): it reads the records as they were then.
    pub slot: String,
    /// The day also has a register entry from before the register was sharded.
    #[serde(default)]
    pub legacy: bool,
}

impl ExportUnit {
    pub fn new(day: &ProjectDay, slot: DateTime<Utc>) -> Self {
        ExportUnit {
            project_id: day.project.clone(),
            date: day.date.clone(),
            slot: crate::dates::format(slot),
            legacy: day.legacy,
        }
    }

    /// What the queue tells units apart by: a unit queued twice for one slot is one unit.
    pub fn id(&self) -> String {
        format!(
            "{}/{}/{}",
            self.project_id,
            self.date,
            self.slot_time().map_or(0, |t| t.timestamp())
        )
    }

    /// Units of one project day never run at once (the queue's message group).
    pub fn group(&self) -> String {
        format!("{}/{}", self.project_id, self.date)
    }

    fn slot_time(&self) -> Option<DateTime<Utc>> {
        crate::dates::parse(&self.slot)
    }
}

/// The scheduled run's pending project days, as units.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Pending {
    pub units: Vec<ExportUnit>,
    /// Days of the register that could not be read (`project_id` absent).
    pub failures: Vec<DayFailure>,
}

/// Every project day of the window that changed since it was last written, newest day first, as
/// units for `slot`: one read of the register per day.
pub async fn pending_units<S: ExportRecords>(store: &S, slot: DateTime<Utc>) -> Pending {
    let mut out = Pending::default();
    for date in super::scheduled::window(slot, store.retention_days()) {
        match retrying(StoreError::is_retryable, || store.project_days(&date)).await {
            Ok(days) => out
                .units
                .extend(days.iter().filter(|d| d.pending()).map(|d| ExportUnit::new(d, slot))),
            Err(e) => out.failures.push(DayFailure {
                project_id: None,
                date,
                error: e.to_string(),
            }),
        }
    }
    out
}

/// What a unit wrote: the manifests it wrote now, and the formats a delivery before this one had
/// written already.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UnitDone {
    #[serde(flatten)]
    pub exported: Exported,
    pub already: Vec<Format>,
}

/// Writes one unit: the day in JSON Lines, and in Parquet too when the day holds a Parquet
/// export, then marks it written in the register as of `slot - SETTLE`.
pub async fn export_unit<S: ListExecutions + ListLogs + ExportRecords>(
    store: &S,
    unit: &ExportUnit,
) -> Result<UnitDone, ExportError> {
    let slot = unit
        .slot_time()
        .ok_or_else(|| ExportError::Invalid(format!("slot {:?} is not a time", unit.slot)))?;
    let (project, date) = (unit.project_id.as_str(), unit.date.as_str());
    let next = day_start(date)
        .map(|t| (t + Duration::days(1)).date_naive().to_string())
        .ok_or_else(|| ExportError::Invalid(format!("no day {date}")))?;
    let run = super::run_name(slot);
    let names = retrying(StoreError::is_retryable, || store.export_names(project, date)).await?;
    let mut formats = vec![Format::Jsonl];
    if names.iter().any(|n| n == Format::Parquet.manifest_name()) {
        formats.push(Format::Parquet);
    }
    let mut done = UnitDone::default();
    for format in formats {
        if written_by(store, project, date, format, &run).await? {
            delete_older(store, project, date, format, &names, &run).await?;
            done.already.push(format);
            continue;
        }
        let req = ExportRequest {
            project_id: project.to_string(),
            after_date: date.to_string(),
            before_date: next.clone(),
            format: Some(format.name().to_string()),
        };
        let exported = export_named(store, &req, slot, &run).await?;
        done.exported.manifests.extend(exported.manifests);
        done.exported.kept_days.extend(exported.kept_days);
    }
    let day = ProjectDay {
        project: project.to_string(),
        date: date.to_string(),
        changed_at: None,
        exported_at: None,
        legacy: unit.legacy,
    };
    let as_of = (slot - SETTLE).timestamp_millis();
    retrying(StoreError::is_retryable, || store.mark_exported(&day, as_of)).await?;
    Ok(done)
}

/// Whether the day's manifest of `format` is this run's: it lists parts of this run only.
async fn written_by<S: ExportRecords>(
    store: &S,
    project: &str,
    date: &str,
    format: Format,
    run: &str,
) -> Result<bool, ExportError> {
    let Some(bytes) = retrying(StoreError::is_retryable, || {
        store.read_export(project, date, format.manifest_name())
    })
    .await?
    else {
        return Ok(false);
    };
    let Ok(manifest) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return Ok(false);
    };
    let keys: Vec<&str> = manifest["parts"]
        .as_array()
        .map(|parts| parts.iter().filter_map(|p| p["key"].as_str()).collect())
        .unwrap_or_default();
    let own = format!("/part-{run}-");
    Ok(!keys.is_empty() && keys.iter().all(|k| k.contains(&own)))
}

/// Deletes the parts of `format` that are not this run's (the manifest lists this run's only).
async fn delete_older<S: ExportRecords>(
    store: &S,
    project: &str,
    date: &str,
    format: Format,
    names: &[String],
    run: &str,
) -> Result<(), ExportError> {
    let own = format!("part-{run}-");
    for name in names.iter().filter(|n| format.is_part(n) && !n.starts_with(&own)) {
        retrying(StoreError::is_retryable, || store.delete_export(project, date, name)).await?;
    }
    Ok(())
}
