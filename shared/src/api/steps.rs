//! `GET .../workflow-executions/{id}/step-executions`: an execution's steps, paged in `dateStarted`
//! order (see the store for executions with more steps than one ordered read holds).

use super::links::Links;
use crate::error::ApiError;
use crate::model::StepSummary;
use crate::params::PageParams;
use crate::store::ReadExecution;
use serde::Serialize;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepsResponse {
    pub step_executions: Vec<StepSummary>,
    pub next_cursor: Option<String>,
    pub next_link: Option<String>,
}

pub async fn steps<S: ReadExecution>(
    store: &S,
    links: &Links<'_>,
    execution_id: &str,
    params: &PageParams,
    now_epoch: i64,
) -> Result<StepsResponse, ApiError> {
    let resume = match &params.cursor {
        Some(token) => Some(links.verify_steps(execution_id, token)?),
        None => None,
    };
    let page = store
        .steps(
            links.project,
            execution_id,
            resume.as_ref(),
            params.limit as usize,
            now_epoch,
        )
        .await
        .map_err(super::read_failed("steps"))?
        .ok_or_else(|| ApiError::not_found("execution"))?;
    let (next_cursor, next_link) = match &page.next {
        Some(position) => {
            let (c, l) = links.steps_page(execution_id, position, params.limit);
            (Some(c), Some(l))
        }
        None => (None, None),
    };
    Ok(StepsResponse {
        step_executions: page.items,
        next_cursor,
        next_link,
    })
}
