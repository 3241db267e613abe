//! `GET /v1/projects/{p}/event-logs`: the event-log listing, with the executions listing's paging,
//! read budget, totals and search.

use super::links::{Links, NextPage};
use super::views::{log_view, LogView};
use crate::dates;
use crate::error::ApiError;
use crate::params::LogParams;
use crate::query::ReadBudget;
use crate::store::{LinkBodies, ListLogs};
use chrono::{DateTime, Utc};
use serde::Serialize;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogsResponse {
    pub event_logs: Vec<LogView>,
    #[serde(flatten)]
    pub next: NextPage,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub partial: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_exact: Option<bool>,
    /// With `q`: the `timestamp` the search has read back (or forward) to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub searched_until: Option<String>,
}

pub async fn event_logs<S: ListLogs + LinkBodies>(
    store: &S,
    links: &Links<'_>,
    params: &LogParams,
    now: DateTime<Utc>,
) -> Result<LogsResponse, ApiError> {
    let fingerprint = params.fingerprint();
    let resume = match &params.cursor {
        Some(token) => Some(links.verify(&fingerprint, token)?),
        None => None,
    };
    let query = params.query(links.project, now);
    let budget = ReadBudget {
        items: links.settings.read_budget_items,
    };
    let page = store
        .list_logs(&query, resume.as_ref(), budget)
        .await
        .map_err(super::read_failed("event logs"))?;
    let next = match &page.next {
        Some(position) => links.next_page(&fingerprint, position, "event-logs", |token| {
            params.query_with_cursor(token)
        }),
        None => NextPage::default(),
    };
    let count = if params.count && params.cursor.is_none() {
        let budget = ReadBudget {
            items: links.settings.count_budget_items,
        };
        Some(
            store
                .count_logs(&query, budget)
                .await
                .map_err(super::read_failed("count"))?,
        )
    } else {
        None
    };
    let mut event_logs = Vec::with_capacity(page.items.len());
    for record in &page.items {
        event_logs.push(log_view(store, record, params.include_body).await?);
    }
    Ok(LogsResponse {
        event_logs,
        next,
        partial: page.partial,
        total: count.map(|c| c.total),
        total_exact: count.map(|c| c.exact),
        searched_until: query.search.as_ref().and(page.reached).map(dates::format),
    })
}
