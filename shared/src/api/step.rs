//! `GET .../step-executions/{stepId}`: the step summary (GetItem) and its body items (Query), read
//! concurrently.

use super::views::{record_bodies, BodyItems, RecordBodies};
use crate::error::ApiError;
use crate::keys::{self, CollectionItem};
use crate::store::items::{self, STEP_FIELDS};
use crate::store::{BodyLinks, CollectionReads, Item};
use serde::Serialize;
use serde_json::{Map, Value};

#[derive(Debug, Serialize)]
pub struct StepResponse {
    #[serde(flatten)]
    pub summary: Map<String, Value>,
    #[serde(flatten)]
    pub bodies: RecordBodies,
}

pub async fn step<S: CollectionReads + BodyLinks>(
    store: &S,
    project: &str,
    execution_id: &str,
    step_id: &str,
    now_epoch: i64,
) -> Result<StepResponse, ApiError> {
    let found = store
        .step_items(project, execution_id, step_id)
        .await
        .map_err(super::read_failed("step"))?;
    let mut summary: Option<&Item> = None;
    let mut bodies = BodyItems::new();
    for item in found.iter().filter(|it| !items::is_expired(it, now_epoch)) {
        match items::string_attr(item, keys::SK).and_then(keys::parse_collection_sk) {
            Some(CollectionItem::Step(_)) => summary = Some(item),
            Some(CollectionItem::StepBody(_, f, sha)) => {
                bodies.insert((f, sha), item);
            }
            _ => {}
        }
    }
    let summary = summary.ok_or_else(|| ApiError::not_found("step execution"))?;
    Ok(StepResponse {
        summary: items::summary_json(
            summary,
            &["id", "executionId", "projectId"],
            &STEP_FIELDS[..STEP_FIELDS.len() - 1],
        ),
        bodies: record_bodies(store, summary, &bodies).await?,
    })
}
