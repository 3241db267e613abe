//! `GET /v1/projects/{p}/event-logs`: the event-log listing, read by the listing path
//! (`api::listing`) as the executions listing is, each record then viewed with or without bodies.

use super::links::Links;
use super::listing::{self, PageInfo};
use super::views::{log_view, LogView};
use crate::error::ApiError;
use crate::params::LogParams;
use crate::store::{LinkBodies, ListLogs};
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
) -> Result<LogsResponse, ApiError> {
    let listed = listing::read(store, links, params).await?;
    let mut event_logs = Vec::with_capacity(listed.items.len());
    for record in &listed.items {
        event_logs.push(log_view(store, record, params.include_body).await?);
    }
    Ok(LogsResponse {
        event_logs,
        page: listed.page,
    })
}
