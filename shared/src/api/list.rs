//! `GET /v1/projects/{p}/workflow-executions`: the executions listing, read by the listing path
//! (`api::listing`): one page within the read budget, its position signed into a cursor, and with
//! `count=true` a total, once, on the first page, within its own budget.

use super::links::Links;
use super::listing::{self, PageInfo};
use crate::error::ApiError;
use crate::model::ExecutionSummary;
use crate::params::ListParams;
use crate::store::ListExecutions;
use serde::Serialize;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListResponse {
    pub workflow_executions: Vec<ExecutionSummary>,
    #[serde(flatten)]
    pub page: PageInfo,
}

pub async fn list<R: ListExecutions>(
    reads: &R,
    links: &Links<'_>,
    params: &ListParams,
) -> Result<ListResponse, ApiError> {
    let listed = listing::read(reads, links, params).await?;
    Ok(ListResponse {
        workflow_executions: listed.items,
        page: listed.page,
    })
}
