//! `GET .../step-executions/{stepId}`: the step with its bodies, one GetItem.

use super::views::{record_view, RecordView};
use crate::error::ApiError;
use crate::store::{LinkBodies, ReadStep};
use serde::Serialize;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepResponse {
    pub execution_id: String,
    pub project_id: String,
    #[serde(flatten)]
    pub record: RecordView,
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
    let summary = &record.summary;
    let view = record_view(
        store,
        (project, execution_id),
        summary,
        summary.error.as_ref(),
        &record.bodies,
    )
    .await?;
    Ok(StepResponse {
        execution_id: record.execution_id,
        project_id: record.project_id,
        record: view,
    })
}
