//! `GET /v1/projects/{p}/workflow-executions`: parameters into a typed query, one page read by the
//! store within the read budget, its position signed into a cursor. `count=true` counts once, on
//! the first page, within its own budget.

use super::links::{Links, PageInfo};
use crate::error::ApiError;
use crate::model::ExecutionSummary;
use crate::params::ListParams;
use crate::store::ListExecutions;
use chrono::{DateTime, Utc};
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
    now: DateTime<Utc>,
) -> Result<ListResponse, ApiError> {
    let fingerprint = params.fingerprint();
    let resume = links.resume(&fingerprint, params.cursor.as_deref())?;
    let query = params.query(links.project, now);
    let page = reads
        .list_executions(&query, resume.as_ref(), links.read_budget())
        .await
        .map_err(super::read_failed("listing"))?;
    let count = (params.count && params.cursor.is_none()).then_some(|budget| reads.count_executions(&query, budget));
    let info = links
        .page_info(
            &fingerprint,
            "workflow-executions",
            &page,
            |token| params.query_with_cursor(token),
            count,
            query.search.is_some(),
        )
        .await?;
    Ok(ListResponse {
        workflow_executions: page.items,
        page: info,
    })
}
