//! The register of project days: which projects stored records dated on which day, and when they
//! last changed, so the scheduled export finds them with one Query of the day's partition.
//!
//! `pk = DAY#{YYYY-MM-DD}`, `sk = P#{projectId}`, with `changedAt` (when ingest last wrote a record
//! of that project dated that day) and `exportedAt` (as of when the scheduled export last wrote the
//! day), both epoch milliseconds that only move forward, and `exp`.

use super::backend::{Backend, LaterUpdate};
use super::table::{self, Item};
use super::{execution, Ledger, NoteProjectDays, StoreError, UnitKey};
use std::collections::{BTreeSet, HashMap};

/// A project's day in the register: when ingest last wrote one of its records dated that day, and
/// as of when the scheduled export last wrote the day (epoch milliseconds).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProjectDay {
    pub project: String,
    pub date: String,
    pub changed_at: Option<i64>,
    pub exported_at: Option<i64>,
}

impl ProjectDay {
    /// Whether the day has changed since the scheduled export last wrote it. An entry without
    /// `changedAt` (written before the register kept it) counts as changed.
    pub fn pending(&self) -> bool {
        match (self.changed_at, self.exported_at) {
            (_, None) => true,
            (None, Some(_)) => false,
            (Some(changed), Some(exported)) => changed > exported,
        }
    }
}

/// What every day's partition key begins with.
pub(super) const PARTITION_PREFIX: &str = "DAY#";
const PREFIX: &str = "P#";
const CHANGED_AT: &str = "changedAt";
const EXPORTED_AT: &str = "exportedAt";

pub(super) fn day_pk(date: &str) -> String {
    format!("{PARTITION_PREFIX}{date}")
}

fn key(project: &str, date: &str) -> (String, String) {
    (day_pk(date), format!("{PREFIX}{project}"))
}

fn entry(date: &str, item: &Item) -> Option<ProjectDay> {
    let project = table::string_attr(item, table::SK)?.strip_prefix(PREFIX)?;
    Some(ProjectDay {
        project: project.to_string(),
        date: date.to_string(),
        changed_at: table::number_attr(item, CHANGED_AT),
        exported_at: table::number_attr(item, EXPORTED_AT),
    })
}

/// Every entry of `date`: one Query of the day's partition.
pub(super) async fn of_day<B: Backend>(backend: &B, date: &str) -> Result<Vec<ProjectDay>, StoreError> {
    let found = backend.query_prefix(&day_pk(date), PREFIX).await?;
    Ok(found.iter().filter_map(|it| entry(date, it)).collect())
}

pub(super) async fn mark_exported<B: Backend>(
    backend: &B,
    project: &str,
    date: &str,
    at_ms: i64,
) -> Result<(), StoreError> {
    let (pk, sk) = key(project, date);
    backend
        .set_later(&LaterUpdate {
            pk,
            sk,
            attribute: EXPORTED_AT,
            value: at_ms,
            also: Vec::new(),
            create: false,
        })
        .await
        .map(|_| ())
}

impl<B: Backend> NoteProjectDays for Ledger<B> {
    async fn note_project_day(&self, project: &str, date: &str, at_ms: i64, expires_at: i64) -> Result<(), StoreError> {
        let (pk, sk) = key(project, date);
        // `false` (a later time is there already) is as good as written.
        self.backend
            .set_later(&LaterUpdate {
                pk,
                sk,
                attribute: CHANGED_AT,
                value: at_ms,
                also: vec![(table::EXPIRES_AT, table::n(expires_at))],
                create: true,
            })
            .await
            .map(|_| ())
    }

    async fn execution_days(
        &self,
        executions: &[(String, String)],
    ) -> Result<HashMap<(String, String), String>, StoreError> {
        let wanted: BTreeSet<(String, String)> = executions
            .iter()
            .map(|(project, execution)| {
                execution::unit_keys(&UnitKey {
                    project: project.clone(),
                    execution: execution.clone(),
                    step: None,
                })
            })
            .collect();
        if wanted.is_empty() {
            return Ok(HashMap::new());
        }
        let wanted: Vec<(String, String)> = wanted.into_iter().collect();
        let found = self.backend.batch_get(&wanted, false).await?;
        Ok(found
            .iter()
            .filter_map(execution::execution_from_item)
            .filter_map(|(s, _)| {
                let day = s.date_started.get(..10)?.to_string();
                Some(((s.project_id, s.id), day))
            })
            .collect())
    }
}
