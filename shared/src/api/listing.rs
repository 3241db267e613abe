//! The path every listing route takes (executions, event logs): the cursor verified into a store
//! position, one page read within the read budget, the total as a step of its own (a first page
//! with `count=true`, within the count budget), and the page info with the next page's cursor and
//! link.

use super::links::{Links, NextPage};
use crate::error::ApiError;
use crate::model::ExecutionSummary;
use crate::params::Listing;
use crate::query::{Count, ListQuery, LogQuery, Page, Position, ReadBudget};
use crate::store::{ListExecutions, ListLogs, LogRecord, StoreError};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::future::Future;

/// A store's reads of the listing of queries `Q`: a page, and a total.
pub trait ReadListing<Q>: Sync {
    type Item;
    /// What a failed read is logged as.
    const WHAT: &'static str;
    fn page(
        &self,
        query: &Q,
        resume: Option<&Position>,
        budget: ReadBudget,
    ) -> impl Future<Output = Result<Page<Self::Item>, StoreError>> + Send;
    fn count(&self, query: &Q, budget: ReadBudget) -> impl Future<Output = Result<Count, StoreError>> + Send;
}

impl<S: ListExecutions> ReadListing<ListQuery> for S {
    type Item = ExecutionSummary;
    const WHAT: &'static str = "listing";

    fn page(
        &self,
        query: &ListQuery,
        resume: Option<&Position>,
        budget: ReadBudget,
    ) -> impl Future<Output = Result<Page<ExecutionSummary>, StoreError>> + Send {
        self.list_executions(query, resume, budget)
    }

    fn count(&self, query: &ListQuery, budget: ReadBudget) -> impl Future<Output = Result<Count, StoreError>> + Send {
        self.count_executions(query, budget)
    }
}

impl<S: ListLogs> ReadListing<LogQuery> for S {
    type Item = LogRecord;
    const WHAT: &'static str = "event logs";

    fn page(
        &self,
        query: &LogQuery,
        resume: Option<&Position>,
        budget: ReadBudget,
    ) -> impl Future<Output = Result<Page<LogRecord>, StoreError>> + Send {
        self.list_logs(query, resume, budget)
    }

    fn count(&self, query: &LogQuery, budget: ReadBudget) -> impl Future<Output = Result<Count, StoreError>> + Send {
        self.count_logs(query, budget)
    }
}

/// What a listing page says besides its records: where the next page is, whether the read budget
/// cut it short, the total (first page, with `count=true`) and how far a search got.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PageInfo {
    #[serde(flatten)]
    pub next: NextPage,
    /// The read budget ended before the page was full; follow `nextLink` for the rest.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub partial: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    /// `false`: the count's budget ended first, or the counters had not taken in every change
    /// stored before `totalAsOf`, and `total` may be off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_exact: Option<bool>,
    /// The moment `total` was read at: exact means every change stored before it is counted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_as_of: Option<String>,
    /// With `q`: the `dateStarted` or `timestamp` the search has read back (or forward) to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub searched_until: Option<String>,
}

/// One page of a listing: its records and what the page says besides them.
pub struct Listed<T> {
    pub items: Vec<T>,
    pub page: PageInfo,
}

/// A total, and the moment it was read at: exact means every change stored before it is counted.
struct Total {
    count: Count,
    as_of: DateTime<Utc>,
}

/// Reads the page `params` asks for, and its total when it asks for one.
pub async fn read<P, S>(store: &S, links: &Links<'_>, params: &P) -> Result<Listed<S::Item>, ApiError>
where
    P: Listing,
    S: ReadListing<P::Query>,
{
    let fingerprint = params.fingerprint();
    let resume = links.resume(&fingerprint, params.paging().cursor.as_deref())?;
    let page = store
        .page(params.query(), resume.as_ref(), links.read_budget())
        .await
        .map_err(super::read_failed(S::WHAT))?;
    let total = if params.paging().counts_total() {
        Some(total(store, links, params.query()).await?)
    } else {
        None
    };
    let next = match &page.next {
        Some(position) => {
            let token = links.sign(&fingerprint, position);
            let query = params.query_with_cursor(&token);
            links.next_page(token, P::PATH, &query)
        }
        None => NextPage::default(),
    };
    let searching = params.window().search.is_some();
    let info = PageInfo {
        next,
        partial: page.partial,
        total: total.as_ref().map(|t| t.count.total),
        total_exact: total.as_ref().map(|t| t.count.exact),
        total_as_of: total.as_ref().map(|t| crate::dates::format(t.as_of)),
        searched_until: page.reached.filter(|_| searching).map(crate::dates::format),
    };
    Ok(Listed {
        items: page.items,
        page: info,
    })
}

async fn total<Q, S: ReadListing<Q>>(store: &S, links: &Links<'_>, query: &Q) -> Result<Total, ApiError> {
    let as_of = Utc::now();
    let count = store
        .count(query, links.count_budget())
        .await
        .map_err(super::read_failed("count"))?;
    Ok(Total { count, as_of })
}
