//! `GET .../workflow-executions/{id}`: the summary, its bodies and the first page of its steps, from
//! one Query.

use super::links::Links;
use super::views::{record_view, RecordView};
use crate::error::ApiError;
use crate::model::limits::STEPS_IN_GET;
use crate::model::StepSummary;
use crate::store::{LinkBodies, ReadExecution};
use serde::Serialize;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionResponse {
    #[serde(flatten)]
    pub record: RecordView,
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
    let next = match &record.steps.next {
        Some(position) => links.steps_page(execution_id, position, STEPS_IN_GET as u32),
        None => Default::default(),
    };
    let summary = &record.summary;
    let at = (links.project, execution_id);
    let view = record_view(store, at, summary, summary.error.as_ref(), &record.bodies).await?;
    Ok(ExecutionResponse {
        record: view,
        steps: record.steps.items,
        steps_next_cursor: next.next_cursor,
        steps_next_link: next.next_link,
    })
}
