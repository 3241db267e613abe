//! `GET /v1/projects/{p}/traces/{traceId}`: everything one trigger caused, the event logs and the
//! executions of the trace, each in time order, from one Query of the trace partition.

use super::views::{log_view, LogView};
use crate::error::ApiError;
use crate::model::ExecutionSummary;
use crate::store::{LinkBodies, ReadTrace};
use chrono::{DateTime, Utc};
use serde::Serialize;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TraceResponse {
    pub trace_id: String,
    pub event_logs: Vec<LogView>,
    pub workflow_executions: Vec<ExecutionSummary>,
    /// More records than one response carries: the first ones in time order are here.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

pub async fn trace<S: ReadTrace + LinkBodies>(
    store: &S,
    project: &str,
    trace_id: &str,
    now: DateTime<Utc>,
) -> Result<TraceResponse, ApiError> {
    let record = store
        .trace(project, trace_id, now)
        .await
        .map_err(super::read_failed("trace"))?;
    if record.executions.is_empty() && record.logs.is_empty() {
        return Err(ApiError::not_found("trace"));
    }
    let mut event_logs = Vec::with_capacity(record.logs.len());
    for log in &record.logs {
        event_logs.push(log_view(store, log, true).await?);
    }
    Ok(TraceResponse {
        trace_id: trace_id.to_string(),
        event_logs,
        workflow_executions: record.executions,
        truncated: record.truncated,
    })
}
