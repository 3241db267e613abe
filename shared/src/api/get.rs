//! `GET .../workflow-executions/{id}`: the summary, its bodies and the first page of its steps, from
//! one Query.

use super::links::Links;
use super::views::{bodies_view, BodiesView};
use crate::error::ApiError;
use crate::model::limits::STEPS_IN_GET;
use crate::model::StepSummary;
use crate::store::{LinkBodies, ReadExecution};
use serde::Serialize;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionResponse {
    /// The summary fields; `error` comes whole, with its details, in `bodies`.
    #[serde(flatten)]
    pub summary: serde_json::Map<String, serde_json::Value>,
    #[serde(flatten)]
    pub bodies: BodiesView,
    pub steps: Vec<StepSummary>,
    /// The rest of the steps: the step-executions route, resuming after the last one here.
    pub steps_next_cursor: Option<String>,
    pub steps_next_link: Option<String>,
}

pub async fn get<S: ReadExecution + LinkBodies>(
    store: &S,
    links: &Links<'_>,
    execution_id: &str,
    now_epoch: i64,
) -> Result<ExecutionResponse, ApiError> {
    let record = store
        .execution(links.project, execution_id, STEPS_IN_GET, now_epoch)
        .await
        .map_err(super::read_failed("execution"))?
        .ok_or_else(|| ApiError::not_found("execution"))?;
    let (steps_next_cursor, steps_next_link) = match &record.steps.next {
        Some(position) => {
            let (c, l) = links.steps_page(execution_id, position, STEPS_IN_GET as u32);
            (Some(c), Some(l))
        }
        None => (None, None),
    };
    let bodies = bodies_view(
        store,
        links.project,
        execution_id,
        record.summary.error.as_ref(),
        &record.bodies,
    )
    .await?;
    let summary = super::views::without_error(&record.summary);
    Ok(ExecutionResponse {
        summary,
        bodies,
        steps: record.steps.items,
        steps_next_cursor,
        steps_next_link,
    })
}
