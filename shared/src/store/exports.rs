//! The store's side of the archive and the exports: records read whole (offloaded bodies from S3),
//! archive and export objects, and the register of project days the scheduled export works from.
//!
//! The register: `pk = DAY#{YYYY-MM-DD}`, `sk = P#{projectId}`, with `changedAt` (when ingest last
//! wrote a record of that project dated that day) and `exportedAt` (as of when the scheduled export
//! last wrote the day), both epoch milliseconds that only move forward, and `exp`.

use super::backend::{Backend, CollectionQuery, LaterUpdate, ObjectRead};
use super::items::{self, Item};
use super::keys;
use super::*;
use crate::model::limits::STEPS_ORDERED_MAX;
use std::collections::{BTreeSet, HashMap};

const CHANGED_AT: &str = "changedAt";
const EXPORTED_AT: &str = "exportedAt";

fn project_day_key(project: &str, date: &str) -> (String, String) {
    (
        keys::project_day_pk(date),
        format!("{}{project}", keys::PROJECT_DAY_PREFIX),
    )
}

fn project_day(date: &str, item: &Item) -> Option<ProjectDay> {
    let project = items::string_attr(item, items::SK)?.strip_prefix(keys::PROJECT_DAY_PREFIX)?;
    Some(ProjectDay {
        project: project.to_string(),
        date: date.to_string(),
        changed_at: items::number_attr(item, CHANGED_AT),
        exported_at: items::number_attr(item, EXPORTED_AT),
    })
}

impl<B: Backend> Ledger<B> {
    /// A record whole: its bodies' bytes read (offloaded ones from S3). A body that cannot be read
    /// because it is gone is listed in `missing`, whatever S3 called it: never a failure, so a
    /// TTL deletion is archived even when its body expired first.
    async fn whole(&self, record: ArchivedRecord, bodies: RecordBodies) -> Result<Archived, StoreError> {
        let (project, owner) = match &record {
            ArchivedRecord::Execution(s) => (s.project_id.clone(), Some(s.id.clone())),
            ArchivedRecord::Step {
                project_id,
                execution_id,
                ..
            } => (project_id.clone(), Some(execution_id.clone())),
            ArchivedRecord::Log(l) => (l.project_id.clone(), None),
        };
        let mut missing = Vec::new();
        let mut bytes: Vec<Option<Vec<u8>>> = Vec::new();
        for body in [bodies.input, bodies.output, bodies.error_details] {
            let Some(body) = body else {
                bytes.push(None);
                continue;
            };
            let found = match body.inline_bytes() {
                Some(Ok(inline)) => Some(inline),
                Some(Err(e)) => {
                    tracing::warn!(project = %project, sha256 = %body.sha256, error = %e, "an inline body does not decode; counted missing");
                    None
                }
                None => {
                    let key = keys::body_object_key(&project, owner.as_deref(), &body.sha256);
                    match self.backend.read_object(&key).await? {
                        ObjectRead::Found(b) => Some(b),
                        ObjectRead::NoSuchKey => None,
                        // S3's answer for a missing key to a role without s3:ListBucket on it.
                        ObjectRead::AccessDenied => {
                            tracing::warn!(project = %project, sha256 = %body.sha256, "a body read was denied; counted missing (grant s3:ListBucket on bodies/ to tell the two apart)");
                            None
                        }
                    }
                }
            };
            if found.is_none() {
                missing.push(body.sha256.clone());
            }
            bytes.push(found);
        }
        let mut bytes = bytes.into_iter();
        let (input, output, error_details) = (bytes.next().flatten(), bytes.next().flatten(), bytes.next().flatten());
        Ok(Archived {
            record,
            input,
            output,
            error_details,
            missing,
        })
    }
}

impl<B: Backend> ArchiveRecords for Ledger<B> {
    async fn archived(&self, image: &serde_json::Value) -> Result<Option<Archived>, StoreError> {
        let Some(item) = super::stream::image(image) else {
            return Ok(None);
        };
        let Some((record, bodies)) = super::stream::record(&item) else {
            return Ok(None);
        };
        self.whole(record, bodies).await.map(Some)
    }

    async fn put_archive(&self, project: &str, date: &str, part: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        self.backend
            .put_object(&keys::archive_object_key(project, date, part), bytes)
            .await
    }
}

impl<B: Backend> ExportRecords for Ledger<B> {
    async fn execution_records(
        &self,
        project: &str,
        execution: &str,
        now_epoch: i64,
    ) -> Result<Vec<Archived>, StoreError> {
        let pk = keys::execution_pk(project, execution);
        let mut from = keys::SUMMARY_SK.to_string();
        let mut out = Vec::new();
        loop {
            let (found, more) = self
                .backend
                .query_collection(&CollectionQuery {
                    pk: pk.clone(),
                    from: from.clone(),
                    to: keys::STEPS_END.into(),
                    limit: 1 + STEPS_ORDERED_MAX as u32,
                    consistent: false,
                })
                .await?;
            for it in found.iter().filter(|it| !items::is_expired(it, now_epoch)) {
                if let Some((record, bodies)) = super::stream::record(it) {
                    out.push(self.whole(record, bodies).await?);
                }
            }
            match found.last() {
                Some(last) if more => from = format!("{}\u{0}", items::sort_key(last)),
                _ => return Ok(out),
            }
        }
    }

    async fn log_record(&self, log: &LogRecord) -> Result<Archived, StoreError> {
        let bodies = RecordBodies {
            input: None,
            output: log.payload.clone(),
            error_details: log.error_details.clone(),
        };
        self.whole(ArchivedRecord::Log(log.entry.clone()), bodies).await
    }

    async fn put_export(&self, project: &str, date: &str, name: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        self.backend
            .put_object(&keys::export_object_key(project, date, name), bytes)
            .await
    }

    async fn export_names(&self, project: &str, date: &str) -> Result<Vec<String>, StoreError> {
        let folder = keys::export_object_key(project, date, "");
        let found = self.backend.list_objects(&folder).await?;
        Ok(found
            .iter()
            .filter_map(|k| k.strip_prefix(folder.as_str()))
            .map(str::to_string)
            .collect())
    }

    async fn delete_export(&self, project: &str, date: &str, name: &str) -> Result<(), StoreError> {
        self.backend
            .delete_object(&keys::export_object_key(project, date, name))
            .await
    }

    async fn project_days(&self, date: &str) -> Result<Vec<ProjectDay>, StoreError> {
        let found = self
            .backend
            .query_prefix(&keys::project_day_pk(date), keys::PROJECT_DAY_PREFIX)
            .await?;
        Ok(found.iter().filter_map(|it| project_day(date, it)).collect())
    }

    async fn mark_exported(&self, project: &str, date: &str, at_ms: i64) -> Result<(), StoreError> {
        let (pk, sk) = project_day_key(project, date);
        self.backend
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

    fn retention_days(&self) -> i64 {
        self.config.retention_days
    }
}

impl<B: Backend> NoteProjectDays for Ledger<B> {
    async fn note_project_day(&self, project: &str, date: &str, at_ms: i64, expires_at: i64) -> Result<(), StoreError> {
        let (pk, sk) = project_day_key(project, date);
        // `false` (a later time is there already) is as good as written.
        self.backend
            .set_later(&LaterUpdate {
                pk,
                sk,
                attribute: CHANGED_AT,
                value: at_ms,
                also: vec![(items::EXPIRES_AT, items::n(expires_at))],
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
                items::unit_keys(&UnitKey {
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
            .filter_map(items::execution_from_item)
            .filter_map(|(s, _)| {
                let day = s.date_started.get(..10)?.to_string();
                Some(((s.project_id, s.id), day))
            })
            .collect())
    }
}
