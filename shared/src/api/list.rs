//! `GET /v1/projects/{p}/workflow-executions`: parameters into a typed query, one page read by the
//! store within the read budget, its position signed into a cursor. `count=true` counts once, on
//! the first page, within its own budget.

use super::links::{Links, NextPage};
use crate::error::ApiError;
use crate::model::ExecutionSummary;
use crate::params::ListParams;
use crate::query::ReadBudget;
use crate::store::ListExecutions;
use chrono::{DateTime, Utc};
use serde::Serialize;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListResponse {
    pub workflow_executions: Vec<ExecutionSummary>,
    #[serde(flatten)]
    pub next: NextPage,
    /// The read budget ended before the page was full; follow `nextLink` for the rest.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub partial: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    /// `false`: the count's budget ended first and `total` is a lower bound.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_exact: Option<bool>,
    /// With `q`: the `dateStarted` the search has read back (or forward) to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub searched_until: Option<String>,
}

pub async fn list<R: ListExecutions>(
    reads: &R,
    links: &Links<'_>,
    params: &ListParams,
    now: DateTime<Utc>,
) -> Result<ListResponse, ApiError> {
    let fingerprint = params.fingerprint();
    let resume = match &params.cursor {
        Some(token) => Some(links.verify(&fingerprint, token)?),
        None => None,
    };
    let query = params.query(links.project, now);
    let budget = ReadBudget {
        items: links.settings.read_budget_items,
    };
    let page = reads
        .list_executions(&query, resume.as_ref(), budget)
        .await
        .map_err(super::read_failed("listing"))?;
    let next = match &page.next {
        Some(position) => links.next_page(&fingerprint, position, "workflow-executions", |token| {
            params.query_with_cursor(token)
        }),
        None => NextPage::default(),
    };
    // Counted for the first page only: later pages (and `nextLink`) carry the cursor.
    let count = if params.count && params.cursor.is_none() {
        let budget = ReadBudget {
            items: links.settings.count_budget_items,
        };
        Some(
            reads
                .count_executions(&query, budget)
                .await
                .map_err(super::read_failed("count"))?,
        )
    } else {
        None
    };
    Ok(ListResponse {
        workflow_executions: page.items,
        next,
        partial: page.partial,
        total: count.map(|c| c.total),
        total_exact: count.map(|c| c.exact),
        searched_until: query.search.as_ref().and(page.reached).map(crate::dates::format),
    })
}
