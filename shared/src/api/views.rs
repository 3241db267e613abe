//! Response shapes shared by get and step: bodies inline or as presigned `$ref`s, and `error`.

use crate::bodies::{BodyRef, BodyView, Placement, StoredBody, CONTENT_TYPE};
use crate::error::ApiError;
use crate::model::ErrorSummary;
use crate::store::{BodyLocation, LinkBodies, RecordBodies};
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
    execution: &str,
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

/// `input`, `output` and `error` of an execution or step, as reads return them.
#[derive(Debug, Serialize)]
pub struct BodiesView {
    pub input: Option<BodyView>,
    pub output: Option<BodyView>,
    pub error: Option<ErrorView>,
}

pub async fn bodies_view<L: LinkBodies>(
    links: &L,
    project: &str,
    execution: &str,
    error: Option<&ErrorSummary>,
    bodies: &RecordBodies,
) -> Result<BodiesView, ApiError> {
    let details = body_view(links, project, execution, bodies.error_details.as_ref()).await?;
    Ok(BodiesView {
        input: body_view(links, project, execution, bodies.input.as_ref()).await?,
        output: body_view(links, project, execution, bodies.output.as_ref()).await?,
        error: error.map(|e| ErrorView {
            summary: e.clone(),
            details,
        }),
    })
}

/// A summary's fields without `error`, which a record response carries whole in its bodies.
pub fn without_error<T: Serialize>(summary: &T) -> serde_json::Map<String, serde_json::Value> {
    match serde_json::to_value(summary) {
        Ok(serde_json::Value::Object(mut m)) => {
            m.remove("error");
            m
        }
        _ => serde_json::Map::new(),
    }
}
