//! `GET .../workflow-executions/{id}`: the summary, its bodies and its step summaries, from one Query.

use super::views::{record_bodies, BodyItems, RecordBodies};
use crate::error::ApiError;
use crate::keys::{self, CollectionItem};
use crate::store::items::{self, EXECUTION_FIELDS, STEP_FIELDS};
use crate::store::{BodyLinks, CollectionReads, Item};
use serde::Serialize;
use serde_json::{Map, Value};

#[derive(Debug, Serialize)]
pub struct ExecutionResponse {
    #[serde(flatten)]
    pub summary: Map<String, Value>,
    #[serde(flatten)]
    pub bodies: RecordBodies,
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
    let mut bodies = BodyItems::new();
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
    steps.sort_by(|a, b| started_then_id(a).cmp(&started_then_id(b)));
    Ok(ExecutionResponse {
        summary: items::summary_json(
            summary,
            &["id", "projectId"],
            &EXECUTION_FIELDS[..EXECUTION_FIELDS.len() - 1],
        ),
        bodies: record_bodies(store, summary, &bodies).await?,
        steps: steps
            .iter()
            .map(|it| items::summary_json(it, &["id"], &STEP_FIELDS[..STEP_FIELDS.len() - 1]))
            .collect(),
    })
}

fn started_then_id(step: &Item) -> (Option<&str>, Option<&str>) {
    (items::string_attr(step, "dateStarted"), items::string_attr(step, "id"))
}
