//! The archive: records DynamoDB's TTL deleted, from the table's stream, kept in S3 as gzipped JSON
//! Lines under `archive/projectId=.../date=YYYY-MM-DD/`, one object per project and day of each
//! stream batch, named by the batch's first sequence number: a batch delivered again rewrites the
//! same objects with the same rows.
//!
//! A row is one record (docs/data-model.md, "Archive rows"): `kind` (`execution`, `step`, `log`),
//! the fields as the API returns them, `error` whole with its `details`, and every body as JSON
//! (`input`, `output`; `payload` for an event log), read from S3 when it was offloaded.

use crate::model::ErrorSummary;
use crate::store::{ArchiveRecords, Archived, ArchivedRecord, StoreError};
use crate::streams::{BatchResponse, ItemFailure, StreamEvent};
use flate2::write::GzEncoder;
use flate2::Compression;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::io::Write;

/// What one batch did, for the log line and the local sweeper.
#[derive(Debug, Default, PartialEq)]
pub struct Summary {
    pub rows: usize,
    pub objects: usize,
    pub skipped: usize,
    /// Bodies whose S3 objects were gone before the record was archived.
    pub missing_bodies: usize,
}

#[derive(Serialize)]
struct ErrorRow<'a> {
    #[serde(flatten)]
    summary: &'a ErrorSummary,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<Box<RawValue>>,
}

fn raw(bytes: &Option<Vec<u8>>) -> Option<Box<RawValue>> {
    let text = String::from_utf8(bytes.clone()?).ok()?;
    RawValue::from_string(text).ok()
}

/// One archive row, as a JSON line; the project and the day it belongs to.
pub fn row(a: &Archived) -> Option<(String, String, String)> {
    let (kind, fields, project, at) = match &a.record {
        ArchivedRecord::Execution(s) => (
            "execution",
            serde_json::to_value(s).ok()?,
            s.project_id.clone(),
            s.date_started.clone(),
        ),
        ArchivedRecord::Step {
            project_id,
            execution_id,
            summary,
        } => {
            let mut v = serde_json::to_value(summary).ok()?;
            v["projectId"] = Value::from(project_id.clone());
            v["executionId"] = Value::from(execution_id.clone());
            ("step", v, project_id.clone(), summary.date_started.clone())
        }
        ArchivedRecord::Log(l) => (
            "log",
            serde_json::to_value(l).ok()?,
            l.project_id.clone(),
            l.timestamp.clone(),
        ),
    };
    let Value::Object(mut fields) = fields else { return None };
    fields.remove("error");
    let error: Option<ErrorSummary> = match &a.record {
        ArchivedRecord::Execution(s) => s.error.clone(),
        ArchivedRecord::Step { summary, .. } => summary.error.clone(),
        ArchivedRecord::Log(l) => l.error.clone(),
    };
    let mut head = Map::new();
    head.insert("kind".into(), Value::from(kind));
    head.extend(fields);
    if !a.missing.is_empty() {
        head.insert("missingBodies".into(), Value::from(a.missing.clone()));
    }
    #[derive(Serialize)]
    struct Row<'a> {
        #[serde(flatten)]
        head: Map<String, Value>,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<ErrorRow<'a>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        input: Option<Box<RawValue>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        output: Option<Box<RawValue>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        payload: Option<Box<RawValue>>,
    }
    let is_log = kind == "log";
    let line = serde_json::to_string(&Row {
        head,
        error: error.as_ref().map(|summary| ErrorRow {
            summary,
            details: raw(&a.error_details),
        }),
        input: raw(&a.input),
        output: if is_log { None } else { raw(&a.output) },
        payload: if is_log { raw(&a.output) } else { None },
    })
    .ok()?;
    Some((project, at.get(..10)?.to_string(), line))
}

/// Gzip with a fixed header (no name, no time), so equal rows make equal objects.
pub fn gzip_lines(lines: &[String]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    for line in lines {
        let _ = enc.write_all(line.as_bytes());
        let _ = enc.write_all(b"\n");
    }
    enc.finish().unwrap_or_default()
}

/// Archives one stream batch. Any failure reports the batch's first record, so the stream delivers
/// the whole batch again and its objects are rewritten whole: a row is never in two objects.
pub async fn archive_batch<S: ArchiveRecords>(store: &S, event: &StreamEvent) -> (BatchResponse, Summary) {
    let mut summary = Summary::default();
    let Some(first) = event.records.first() else {
        return (BatchResponse::default(), summary);
    };
    let part = format!("part-{}", first.dynamodb.sequence_number);
    let failed = || BatchResponse {
        batch_item_failures: vec![ItemFailure {
            item_identifier: first.dynamodb.sequence_number.clone(),
        }],
    };
    let mut groups: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for record in &event.records {
        let image = match (&record.dynamodb.old_image, record.is_ttl_deletion()) {
            (Some(image), true) => image,
            _ => {
                summary.skipped += 1;
                continue;
            }
        };
        let archived = match store.archived(image).await {
            Ok(Some(a)) => a,
            Ok(None) => {
                summary.skipped += 1;
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, sequence = %record.dynamodb.sequence_number, "reading a body failed");
                return (failed(), summary);
            }
        };
        summary.missing_bodies += archived.missing.len();
        match row(&archived) {
            Some((project, date, line)) => groups.entry((project, date)).or_default().push(line),
            None => summary.skipped += 1,
        }
    }
    for ((project, date), lines) in &groups {
        if let Err(e) = store.put_archive(project, date, &part, gzip_lines(lines)).await {
            let permanent = matches!(e, StoreError::Permanent(_));
            tracing::warn!(error = %e, permanent, "writing an archive object failed");
            return (failed(), summary);
        }
        summary.rows += lines.len();
        summary.objects += 1;
    }
    (BatchResponse::default(), summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EventLog, Level};
    use crate::streams::StreamRecord;
    use serde_json::json;

    fn record(event: &str, identity: Option<(&str, &str)>) -> StreamRecord {
        serde_json::from_value(json!({
            "eventName": event,
            "dynamodb": {"SequenceNumber": "1", "OldImage": {}},
            "userIdentity": identity.map(|(t, p)| json!({"type": t, "principalId": p})),
        }))
        .unwrap()
    }

    #[test]
    fn only_deletions_by_the_ttl_service_are_archived() {
        assert!(record("REMOVE", Some(("Service", "dynamodb.amazonaws.com"))).is_ttl_deletion());
        assert!(!record("REMOVE", None).is_ttl_deletion(), "a deletion by a user");
        assert!(!record("MODIFY", Some(("Service", "dynamodb.amazonaws.com"))).is_ttl_deletion());
        assert!(!record("REMOVE", Some(("Service", "other.amazonaws.com"))).is_ttl_deletion());
    }

    #[test]
    fn a_row_is_the_record_whole_with_its_bodies_as_json() {
        let log = EventLog {
            id: "l1".into(),
            project_id: "p1".into(),
            timestamp: "2026-11-20T06:21:41.900Z".into(),
            level: Level::Error,
            log_type: "WEBHOOK_TRIGGER".into(),
            message: "failed".into(),
            fields: [("traceId", "t-1".to_string())].into_iter().collect(),
            error: Some(ErrorSummary {
                code: Some("E".into()),
                message: "m".into(),
            }),
        };
        let archived = Archived {
            record: ArchivedRecord::Log(log),
            input: None,
            output: Some(br#"{"n": 1.50}"#.to_vec()),
            error_details: Some(b"[1]".to_vec()),
            missing: vec![],
        };
        let (project, date, line) = row(&archived).unwrap();
        assert_eq!((project.as_str(), date.as_str()), ("p1", "2026-11-20"));
        assert!(
            line.contains(r#""payload":{"n": 1.50}"#),
            "bodies keep their bytes: {line}"
        );
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["kind"], "log");
        assert_eq!(v["traceId"], "t-1");
        assert_eq!(v["error"], json!({"code": "E", "message": "m", "details": [1]}));
        assert!(v.get("output").is_none());
        assert_eq!(
            gzip_lines(std::slice::from_ref(&line)),
            gzip_lines(&[line]),
            "equal rows, equal bytes"
        );
    }
}
