//! The archive: records DynamoDB's TTL deleted, from the table's stream, kept in S3 as gzipped JSON
//! Lines under `archive/projectId=.../date=YYYY-MM-DD/`, one object per project and day of each
//! stream batch, named by the batch's first sequence number: a batch delivered again rewrites the
//! same objects with the same rows.
//!
//! A row is one record (docs/data-model.md, "Archive rows"): `kind` (`execution`, `step`, `log`),
//! the fields as the API returns them, `error` whole with its `details`, and every body (`input`,
//! `output`; `payload` for an event log), read from S3 when it was offloaded. The exports use the
//! same rows.
//!
//! A body is JSON in the row when the rows' JSON can hold it (`body_json`); otherwise its text is
//! carried as a JSON string and its field named in `textBodies`, so no record is ever left out and
//! every row loads into a warehouse.

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

/// A body as a row holds it: the JSON itself when serde_json parses it strictly into a value
/// (within its nesting limit of 128, numbers within f64's range, no lone surrogate escapes, valid
/// UTF-8), byte for byte as the producer sent it; otherwise its text as a JSON string, and `true`.
/// The one definition, for the archive and both export formats, of a body the rows' JSON can hold:
/// a row holding one it cannot would not be read back by serde_json, nor loaded by a warehouse.
pub fn body_json(bytes: &[u8]) -> (Box<RawValue>, bool) {
    if let Ok(text) = std::str::from_utf8(bytes) {
        if serde_json::from_str::<Value>(text).is_ok() {
            if let Ok(raw) = RawValue::from_string(text.to_string()) {
                return (raw, false);
            }
        }
    }
    let text = String::from_utf8_lossy(bytes);
    // A JSON string of any text is valid JSON.
    let quoted = serde_json::to_string(text.as_ref()).unwrap_or_else(|_| "\"\"".into());
    (RawValue::from_string(quoted).unwrap_or_else(|_| text_fallback()), true)
}

fn text_fallback() -> Box<RawValue> {
    RawValue::from_string("\"\"".into()).expect("an empty JSON string")
}

/// One archive or export row: the record's fields, its error and its bodies (JSON text each).
#[derive(Clone, Debug)]
pub struct Row {
    /// The project and day (`YYYY-MM-DD`) the row belongs to.
    pub project: String,
    pub date: String,
    /// `kind`, the record's fields as the API names them, `missingBodies`, `textBodies`.
    pub fields: Map<String, Value>,
    pub error: Option<ErrorSummary>,
    pub error_details: Option<Box<RawValue>>,
    pub input: Option<Box<RawValue>>,
    pub output: Option<Box<RawValue>>,
    pub payload: Option<Box<RawValue>>,
}

#[derive(Serialize)]
struct ErrorRow<'a> {
    #[serde(flatten)]
    summary: &'a ErrorSummary,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<&'a RawValue>,
}

#[derive(Serialize)]
struct Line<'a> {
    #[serde(flatten)]
    fields: &'a Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ErrorRow<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    input: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    payload: Option<&'a RawValue>,
}

impl Row {
    fn line(&self) -> Line<'_> {
        Line {
            fields: &self.fields,
            error: self.error.as_ref().map(|summary| ErrorRow {
                summary,
                details: self.error_details.as_deref(),
            }),
            input: self.input.as_deref(),
            output: self.output.as_deref(),
            payload: self.payload.as_deref(),
        }
    }

    /// The row as one JSON line (no newline).
    pub fn to_line(&self) -> Result<String, String> {
        serde_json::to_string(&self.line()).map_err(|e| format!("a row of {} does not serialize: {e}", self.project))
    }

    /// About the bytes of its JSON line, for sizing parts without writing it twice.
    pub fn approx_bytes(&self) -> usize {
        let fields: usize = self
            .fields
            .iter()
            .map(|(k, v)| k.len() + 4 + v.as_str().map_or(16, str::len))
            .sum();
        let bodies: usize = [&self.error_details, &self.input, &self.output, &self.payload]
            .into_iter()
            .flatten()
            .map(|b| b.get().len() + 12)
            .sum();
        let error = self
            .error
            .as_ref()
            .map_or(0, |e| e.message.len() + e.code.as_ref().map_or(0, String::len) + 32);
        fields + bodies + error + 2
    }
}

/// One archive row of a record whole. Fails only when a field cannot be serialized or the record
/// has no date, which ingest's validation rules out; a caller reports it, never drops the record.
pub fn row(a: &Archived) -> Result<Row, String> {
    let fail = |e: serde_json::Error| format!("a record does not serialize: {e}");
    let (kind, fields, project, at) = match &a.record {
        ArchivedRecord::Execution(s) => (
            "execution",
            serde_json::to_value(s).map_err(fail)?,
            s.project_id.clone(),
            s.date_started.clone(),
        ),
        ArchivedRecord::Step {
            project_id,
            execution_id,
            summary,
        } => {
            let mut v = serde_json::to_value(summary).map_err(fail)?;
            v["projectId"] = Value::from(project_id.clone());
            v["executionId"] = Value::from(execution_id.clone());
            ("step", v, project_id.clone(), summary.date_started.clone())
        }
        ArchivedRecord::Log(l) => (
            "log",
            serde_json::to_value(l).map_err(fail)?,
            l.project_id.clone(),
            l.timestamp.clone(),
        ),
    };
    let Value::Object(mut fields) = fields else {
        return Err(format!("a {kind} of {project} is not an object"));
    };
    fields.remove("error");
    let error: Option<ErrorSummary> = match &a.record {
        ArchivedRecord::Execution(s) => s.error.clone(),
        ArchivedRecord::Step { summary, .. } => summary.error.clone(),
        ArchivedRecord::Log(l) => l.error.clone(),
    };
    let date = at
        .get(..10)
        .ok_or_else(|| format!("a {kind} of {project} has no date"))?
        .to_string();
    let is_log = kind == "log";
    let mut text = Vec::new();
    let mut body = |name: &'static str, bytes: &Option<Vec<u8>>| {
        bytes.as_deref().map(|b| {
            let (json, is_text) = body_json(b);
            if is_text {
                text.push(name);
            }
            json
        })
    };
    let input = body("input", &a.input);
    let (output, payload) = if is_log {
        (None, body("payload", &a.output))
    } else {
        (body("output", &a.output), None)
    };
    // Details without an error to hang them on are not kept (ingest stores none).
    let error_details = if error.is_some() {
        body("error.details", &a.error_details)
    } else {
        None
    };
    let mut head = Map::new();
    head.insert("kind".into(), Value::from(kind));
    head.extend(fields);
    if !a.missing.is_empty() {
        head.insert("missingBodies".into(), Value::from(a.missing.clone()));
    }
    if !text.is_empty() {
        head.insert("textBodies".into(), Value::from(text));
    }
    Ok(Row {
        project,
        date,
        fields: head,
        error,
        error_details,
        input,
        output,
        payload,
    })
}

/// Rows as gzipped JSON Lines, with a fixed header (no name, no time), so equal rows make equal
/// objects; and the number of rows written. A row that cannot be written fails the whole object.
pub fn gzip_rows(rows: &[Row]) -> Result<(Vec<u8>, u64), String> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    let mut written = 0;
    for row in rows {
        serde_json::to_writer(&mut enc, &row.line())
            .map_err(|e| format!("a row of {} does not serialize: {e}", row.project))?;
        enc.write_all(b"\n").map_err(|e| e.to_string())?;
        written += 1;
    }
    Ok((enc.finish().map_err(|e| e.to_string())?, written))
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
    let mut groups: BTreeMap<(String, String), Vec<Row>> = BTreeMap::new();
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
            Ok(r) => groups.entry((r.project.clone(), r.date.clone())).or_default().push(r),
            // Never dropped: the batch fails, is delivered again and in the end recorded in the
            // failure queue with its sequence numbers.
            Err(e) => {
                tracing::warn!(error = %e, sequence = %record.dynamodb.sequence_number, "a record could not be made a row");
                return (failed(), summary);
            }
        }
    }
    for ((project, date), rows) in &groups {
        let (bytes, written) = match gzip_rows(rows) {
            Ok(encoded) => encoded,
            Err(e) => {
                tracing::warn!(error = %e, "encoding an archive object failed");
                return (failed(), summary);
            }
        };
        if let Err(e) = store.put_archive(project, date, &part, bytes).await {
            let permanent = matches!(e, StoreError::Permanent(_));
            tracing::warn!(error = %e, permanent, "writing an archive object failed");
            return (failed(), summary);
        }
        summary.rows += written as usize;
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
        let r = row(&archived).unwrap();
        assert_eq!((r.project.as_str(), r.date.as_str()), ("p1", "2026-11-20"));
        let line = r.to_line().unwrap();
        assert!(
            line.contains(r#""payload":{"n": 1.50}"#),
            "bodies keep their bytes: {line}"
        );
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["kind"], "log");
        assert_eq!(v["traceId"], "t-1");
        assert_eq!(v["error"], json!({"code": "E", "message": "m", "details": [1]}));
        assert!(v.get("output").is_none());
        assert!(v.get("textBodies").is_none(), "every body is JSON");
        assert_eq!(
            gzip_rows(std::slice::from_ref(&r)).unwrap(),
            gzip_rows(&[row(&archived).unwrap()]).unwrap(),
            "equal rows, equal bytes"
        );
    }

    /// Bodies serde_json cannot hold as JSON, byte for byte as ingest accepts them.
    fn unholdable_bodies() -> [(&'static str, String); 3] {
        [
            ("nested", format!("{}{}", "[".repeat(200), "]".repeat(200))),
            ("huge number", "1e400".to_string()),
            ("lone surrogate", r#""\ud800""#.to_string()),
        ]
    }

    #[test]
    fn a_body_json_cannot_hold_is_kept_as_its_text_and_named() {
        for (what, text) in unholdable_bodies() {
            assert!(RawValue::from_string(text.clone()).is_ok(), "ingest accepts it: {what}");
            let archived = Archived {
                record: ArchivedRecord::Log(EventLog {
                    id: "l1".into(),
                    project_id: "p1".into(),
                    timestamp: "2026-11-20T06:21:41.900Z".into(),
                    level: Level::Info,
                    log_type: "T".into(),
                    message: "m".into(),
                    fields: Default::default(),
                    error: Some(ErrorSummary {
                        code: None,
                        message: "m".into(),
                    }),
                }),
                input: None,
                output: Some(text.clone().into_bytes()),
                error_details: Some(b"{\"ok\": true}".to_vec()),
                missing: vec![],
            };
            let line = row(&archived).unwrap().to_line().unwrap();
            let v: Value =
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("{what}: the line parses strictly: {e}"));
            assert_eq!(v["payload"], Value::from(text.as_str()), "{what}: the original text");
            assert_eq!(v["textBodies"], json!(["payload"]), "{what}");
            assert_eq!(
                v["error"]["details"],
                json!({"ok": true}),
                "{what}: the other body stays JSON"
            );
        }
    }
}
