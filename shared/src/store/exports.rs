//! The store's side of the archive and the exports: records read whole (offloaded bodies from S3),
//! and the archive and export objects (their S3 keys live here). The register of project days the
//! scheduled export works from is `project_day`.

use super::backend::{Backend, ObjectRead};
use super::body;
use super::project_day;
use super::step;
use super::table;
use super::*;

/// A record the archive keeps.
#[derive(Clone, Debug, PartialEq)]
pub enum ArchivedRecord {
    Execution(ExecutionSummary),
    Step {
        project_id: String,
        execution_id: String,
        summary: StepSummary,
    },
    Log(EventLog),
}

/// A deleted record, whole: its fields and the bytes of every body (`input` and `output` of an
/// execution or step; `payload` of an event log in `output`).
#[derive(Clone, Debug, PartialEq)]
pub struct Archived {
    pub record: ArchivedRecord,
    pub input: Option<Vec<u8>>,
    pub output: Option<Vec<u8>>,
    pub error_details: Option<Vec<u8>>,
    /// Bodies the record named whose S3 objects were already gone (by digest).
    pub missing: Vec<String>,
}

/// What every archive object's key begins with.
pub(super) const ARCHIVE_PREFIX: &str = "archive/";
/// What every export object's key begins with.
pub(super) const EXPORT_PREFIX: &str = "exports/";

/// An archive object: Hive-style partitions by project and day, so Athena and BigQuery prune by
/// both.
pub(super) fn archive_object_key(project: &str, date: &str, part: &str) -> String {
    format!("{ARCHIVE_PREFIX}projectId={project}/date={date}/{part}.jsonl.gz")
}

/// An export object: the same Hive-style partitions as the archive, under `exports/`.
pub fn export_object_key(project: &str, date: &str, name: &str) -> String {
    format!("{EXPORT_PREFIX}projectId={project}/date={date}/{name}")
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
                    let key = body::body_object_key(&project, owner.as_deref(), &body.sha256);
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
            .put_object(&archive_object_key(project, date, part), bytes)
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
        let mut query = step::with_steps(project, execution);
        let mut out = Vec::new();
        loop {
            let (found, more) = self.backend.query_collection(&query).await?;
            for it in found.iter().filter(|it| !table::is_expired(it, now_epoch)) {
                if let Some((record, bodies)) = super::stream::record(it) {
                    out.push(self.whole(record, bodies).await?);
                }
            }
            match found.last() {
                Some(last) if more => query.from = format!("{}\u{0}", table::sort_key(last)),
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
            .put_object(&export_object_key(project, date, name), bytes)
            .await
    }

    async fn read_export(&self, project: &str, date: &str, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.backend.get_object(&export_object_key(project, date, name)).await
    }

    async fn export_names(&self, project: &str, date: &str) -> Result<Vec<String>, StoreError> {
        let folder = export_object_key(project, date, "");
        let found = self.backend.list_objects(&folder).await?;
        Ok(found
            .iter()
            .filter_map(|k| k.strip_prefix(folder.as_str()))
            .map(str::to_string)
            .collect())
    }

    async fn delete_export(&self, project: &str, date: &str, name: &str) -> Result<(), StoreError> {
        self.backend
            .delete_object(&export_object_key(project, date, name))
            .await
    }

    async fn project_days(&self, date: &str) -> Result<Vec<ProjectDay>, StoreError> {
        project_day::of_day(&self.backend, date).await
    }

    async fn mark_exported(&self, day: &ProjectDay, at_ms: i64) -> Result<(), StoreError> {
        project_day::mark_exported(&self.backend, day, at_ms).await
    }

    fn retention_days(&self) -> i64 {
        self.config.retention_days
    }
}
