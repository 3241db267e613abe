//! `GET /v1/projects/{p}/event-logs`: the event-log listing, with the executions listing's paging,
//! read budget, totals and search.

use super::links::{Links, PageInfo};
use super::views::{log_view, LogView};
use crate::error::ApiError;
use crate::params::LogParams;
use crate::store::{LinkBodies, ListLogs};
use chrono::{DateTime, Utc};
use serde::Serialize;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogsResponse {
    pub event_logs: Vec<LogView>,
    #[serde(flatten)]
    pub page: PageInfo,
}

pub async fn event_logs<S: ListLogs + LinkBodies>(
    store: &S,
    links: &Links<'_>,
    params: &LogParams,
    now: DateTime<Utc>,
) -> Result<LogsResponse, ApiError> {
    let fingerprint = params.fingerprint();
    let resume = links.resume(&fingerprint, params.cursor.as_deref())?;
    let query = params.query(links.project, now);
    let page = store
        .list_logs(&query, resume.as_ref(), links.read_budget())
        .await
        .map_err(super::read_failed("event logs"))?;
    let count = (params.count && params.cursor.is_none()).then_some(|budget| store.count_logs(&query, budget));
    let info = links
        .page_info(
            &fingerprint,
            "event-logs",
            &page,
            |token| params.query_with_cursor(token),
            count,
            query.search.is_some(),
        )
        .await?;
    let mut event_logs = Vec::with_capacity(page.items.len());
    for record in &page.items {
        event_logs.push(log_view(store, record, params.include_body).await?);
    }
    Ok(LogsResponse { event_logs, page: info })
}
