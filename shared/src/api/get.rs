//! `GET .../workflow-executions/{id}`: the summary, its bodies and its step summaries, from one Query.

use super::views::{body_view, error_view, ErrorView};
use crate::bodies::BodyView;
use crate::error::ApiError;
use crate::keys::{self, BodyField, CollectionItem};
use crate::store::items::{self, EXECUTION_FIELDS, STEP_FIELDS};
use crate::store::{BodyLinks, CollectionReads, Item};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::HashMap;

#[derive(Debug, Serialize)]
pub struct ExecutionResponse {
    #[serde(flatten)]
    pub summary: Map<String, Value>,
    pub input: Option<BodyView>,
    pub output: Option<BodyView>,
    pub error: Option<ErrorView>,
    pub steps: Vec<Map<String, Value>>,
}

pub async fn get<S: CollectionReads + BodyLinks>(
    store: &S,
    project: &str,
    execution_id: &str,
    now_epoch: i64,
) -> Result<ExecutionResponse, ApiError> {
    let collection = store
        .execution_collection(project, execution_id)
        .await
        .map_err(super::read_failed("execution"))?;
    let mut summary: Option<&Item> = None;
    let mut bodies: HashMap<(BodyField, &str), &Item> = HashMap::new();
    let mut steps: Vec<&Item> = Vec::new();
    for item in &collection {
        if items::is_expired(item, now_epoch) {
            continue;
        }
        match items::string_attr(item, keys::SK).and_then(keys::parse_collection_sk) {
            Some(CollectionItem::Summary) => summary = Some(item),
            Some(CollectionItem::ExecutionBody(f, sha)) => {
                bodies.insert((f, sha), item);
            }
            Some(CollectionItem::Step(_)) => steps.push(item),
            _ => {}
        }
    }
    let summary = summary.ok_or_else(|| ApiError::not_found("execution"))?;
    let sort_key = |it: &Item| {
        (
            items::string_attr(it, "dateStarted").unwrap_or("").to_string(),
            items::string_attr(it, "id").unwrap_or("").to_string(),
        )
    };
    steps.sort_by_key(|it| sort_key(it));
    // Only the versions the summary points at are current; others are superseded or uncommitted.
    let current = |f: BodyField| items::body_reference(summary, f).and_then(|sha| bodies.get(&(f, sha)).copied());
    let details = body_view(store, current(BodyField::ErrorDetails)).await?;
    Ok(ExecutionResponse {
        summary: items::summary_json(
            summary,
            &["id", "projectId"],
            &EXECUTION_FIELDS[..EXECUTION_FIELDS.len() - 1],
        ),
        input: body_view(store, current(BodyField::Input)).await?,
        output: body_view(store, current(BodyField::Output)).await?,
        error: error_view(summary, details),
        steps: steps
            .iter()
            .map(|it| items::summary_json(it, &["id"], &STEP_FIELDS[..STEP_FIELDS.len() - 1]))
            .collect(),
    })
}
