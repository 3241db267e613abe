//! Response shapes: bodies inline or as presigned `$ref`s, `error`, and event logs.

use crate::bodies::{BodyRef, BodyView, Placement, StoredBody, CONTENT_TYPE};
use crate::error::ApiError;
use crate::model::ErrorSummary;
use crate::store::{BodyLocation, LinkBodies, LogRecord, RecordBodies};
use serde::Serialize;
use serde_json::value::RawValue;

/// `error` of an execution or step: code and message, and details as a body.
#[derive(Debug, Serialize)]
pub struct ErrorView {
    #[serde(flatten)]
    pub summary: ErrorSummary,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<BodyView>,
}

/// What the client gets for a stored body: the JSON itself, or a presigned `$ref`.
async fn body_view<L: LinkBodies>(
    links: &L,
    project: &str,
    execution: Option<&str>,
    body: Option<&StoredBody>,
) -> Result<Option<BodyView>, ApiError> {
    let Some(body) = body else { return Ok(None) };
    match &body.placement {
        Placement::Inline { .. } => {
            let bytes = body.inline_bytes().and_then(Result::ok).ok_or_else(corrupt)?;
            let text = String::from_utf8(bytes).map_err(|_| corrupt())?;
            Ok(Some(BodyView::Inline(
                RawValue::from_string(text).map_err(|_| corrupt())?,
            )))
        }
        Placement::External => {
            let location = BodyLocation {
                project,
                execution,
                sha256: &body.sha256,
            };
            let url = links.presign(&location).await.map_err(super::read_failed("presign"))?;
            Ok(Some(BodyView::Ref {
                reference: BodyRef {
                    url,
                    size: body.size,
                    sha256: body.sha256.clone(),
                    content_type: CONTENT_TYPE.into(),
                },
            }))
        }
    }
}

fn corrupt() -> ApiError {
    tracing::error!("stored body is unreadable");
    ApiError::internal()
}

/// An execution or step as get and step detail return it: the summary fields, then `input`,
/// `output` and `error` (whole, with its details).
#[derive(Debug, Serialize)]
pub struct RecordView {
    #[serde(flatten)]
    pub summary: serde_json::Map<String, serde_json::Value>,
    pub input: Option<BodyView>,
    pub output: Option<BodyView>,
    pub error: Option<ErrorView>,
}

/// The view of a record of `execution` whose summary is `summary` (its `error` field is replaced by
/// the whole error with details).
pub async fn record_view<L: LinkBodies, T: Serialize>(
    links: &L,
    at: (&str, &str),
    summary: &T,
    error: Option<&ErrorSummary>,
    bodies: &RecordBodies,
) -> Result<RecordView, ApiError> {
    let (project, execution) = at;
    let mut fields = match serde_json::to_value(summary) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    fields.remove("error");
    let owner = Some(execution);
    let details = body_view(links, project, owner, bodies.error_details.as_ref()).await?;
    Ok(RecordView {
        summary: fields,
        input: body_view(links, project, owner, bodies.input.as_ref()).await?,
        output: body_view(links, project, owner, bodies.output.as_ref()).await?,
        error: error.map(|e| ErrorView {
            summary: e.clone(),
            details,
        }),
    })
}

/// An event log as listings and traces return it: its fields, its error with details, and its
/// payload unless the client asked to leave bodies out.
#[derive(Debug, Serialize)]
pub struct LogView {
    #[serde(flatten)]
    pub entry: serde_json::Map<String, serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<BodyView>,
}

pub async fn log_view<L: LinkBodies>(links: &L, record: &LogRecord, include_body: bool) -> Result<LogView, ApiError> {
    let project = record.entry.project_id.as_str();
    let mut entry = match serde_json::to_value(&record.entry) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    entry.remove("error");
    let error = match &record.entry.error {
        Some(e) => Some(ErrorView {
            summary: e.clone(),
            details: if include_body {
                body_view(links, project, None, record.error_details.as_ref()).await?
            } else {
                None
            },
        }),
        None => None,
    };
    let payload = if include_body {
        body_view(links, project, None, record.payload.as_ref()).await?
    } else {
        None
    };
    Ok(LogView { entry, error, payload })
}
