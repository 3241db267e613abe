//! Response shapes shared by get and step.

use crate::bodies::BodyView;
use crate::error::ApiError;
use crate::keys::BodyField;
use crate::store::items::{self, StoredBody};
use crate::store::{BodyLinks, Item};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// `error` of an execution or step: code and message, and details as a body.
#[derive(Debug, Serialize)]
pub struct ErrorView {
    #[serde(flatten)]
    pub summary: Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<BodyView>,
}

/// Turns a stored body item into what the client gets: inline JSON or a presigned `$ref`.
pub async fn body_view<L: BodyLinks>(links: &L, item: Option<&Item>) -> Result<Option<BodyView>, ApiError> {
    let Some(item) = item else { return Ok(None) };
    match items::stored_body(item) {
        Some(StoredBody::Inline(bytes)) => {
            let text = String::from_utf8(bytes).map_err(|_| corrupt())?;
            Ok(Some(BodyView::Inline(
                RawValue::from_string(text).map_err(|_| corrupt())?,
            )))
        }
        Some(StoredBody::External {
            object_key,
            mut reference,
        }) => {
            reference.url = links
                .presign(&object_key)
                .await
                .map_err(super::read_failed("presign"))?;
            Ok(Some(BodyView::Ref { reference }))
        }
        None => Err(corrupt()),
    }
}

fn corrupt() -> ApiError {
    tracing::error!("stored body is unreadable");
    ApiError::internal()
}

/// The `error` view, when the record has an error.
fn error_view(summary: &Item, details: Option<BodyView>) -> Option<ErrorView> {
    let error = summary.get("error").map(items::attr_to_json)?;
    let Value::Object(summary) = error else { return None };
    Some(ErrorView { summary, details })
}

/// Body items of one record, by field and digest.
pub type BodyItems<'a> = HashMap<(BodyField, &'a str), &'a Item>;

/// `input`, `output` and `error` of an execution or step, as reads return them.
#[derive(Debug, Serialize)]
pub struct RecordBodies {
    pub input: Option<BodyView>,
    pub output: Option<BodyView>,
    pub error: Option<ErrorView>,
}

/// Only the versions the summary points at are current; others are superseded or uncommitted.
pub async fn record_bodies<L: BodyLinks>(
    links: &L,
    summary: &Item,
    bodies: &BodyItems<'_>,
) -> Result<RecordBodies, ApiError> {
    let current = |f: BodyField| items::body_reference(summary, f).and_then(|sha| bodies.get(&(f, sha)).copied());
    let details = body_view(links, current(BodyField::ErrorDetails)).await?;
    Ok(RecordBodies {
        input: body_view(links, current(BodyField::Input)).await?,
        output: body_view(links, current(BodyField::Output)).await?,
        error: error_view(summary, details),
    })
}
