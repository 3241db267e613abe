//! `GET .../step-executions/{stepId}`: the step with its bodies, one GetItem.

use super::views::{bodies_view, BodiesView};
use crate::error::ApiError;
use crate::store::{LinkBodies, ReadStep};
use serde::Serialize;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepResponse {
    pub execution_id: String,
    pub project_id: String,
    /// The summary fields; `error` comes whole, with its details, in `bodies`.
    #[serde(flatten)]
    pub summary: serde_json::Map<String, serde_json::Value>,
    #[serde(flatten)]
    pub bodies: BodiesView,
}

pub async fn step<S: ReadStep + LinkBodies>(
    store: &S,
    project: &str,
    execution_id: &str,
    step_id: &str,
    now_epoch: i64,
) -> Result<StepResponse, ApiError> {
    let record = store
        .step(project, execution_id, step_id, now_epoch)
        .await
        .map_err(super::read_failed("step"))?
        .ok_or_else(|| ApiError::not_found("step execution"))?;
    let bodies = bodies_view(
        store,
        project,
        execution_id,
        record.summary.error.as_ref(),
        &record.bodies,
    )
    .await?;
    let summary = super::views::without_error(&record.summary);
    Ok(StepResponse {
        execution_id: record.execution_id,
        project_id: record.project_id,
        summary,
        bodies,
    })
}
