//! `GET .../workflow-executions/{id}/step-executions`: an execution's steps, paged in `dateStarted`
//! order (see the store for executions with more steps than one ordered read holds).

use super::links::{Links, NextPage};
use crate::error::ApiError;
use crate::model::StepSummary;
use crate::params::PageParams;
use crate::store::{ReadExecution, StepsQuery};
use serde::Serialize;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepsResponse {
    pub step_executions: Vec<StepSummary>,
    #[serde(flatten)]
    pub next: NextPage,
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
    let query = StepsQuery {
        project: links.project,
        execution: execution_id,
        resume: resume.as_ref(),
        limit: params.limit as usize,
        now_epoch,
    };
    let page = store
        .steps(&query)
        .await
        .map_err(super::read_failed("steps"))?
        .ok_or_else(|| ApiError::not_found("execution"))?;
    let next = match &page.next {
        Some(position) => links.steps_page(execution_id, position, params.limit),
        None => NextPage::default(),
    };
    Ok(StepsResponse {
        step_executions: page.items,
        next,
    })
}
