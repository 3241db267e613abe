//! Cursors and `next` links: a store position signed with the project and the query it belongs to,
//! and the absolute URL of the page it opens.

use crate::config::Settings;
use crate::cursor::{self, Claims};
use crate::error::ApiError;
use crate::query::{Count, Page, Position, ReadBudget};
use crate::store::StoreError;
use serde::Serialize;
use std::future::Future;

/// Where the next page is: `nextCursor` and `nextLink`, both null on the last page.
#[derive(Debug, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NextPage {
    pub next_cursor: Option<String>,
    pub next_link: Option<String>,
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

pub struct Links<'a> {
    pub settings: &'a Settings,
    pub project: &'a str,
    /// `scheme://host` the request arrived at (`PUBLIC_BASE_URL` wins when set).
    pub base_url: &'a str,
}

fn encode_segment(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A steps cursor is bound to its execution.
fn steps_fingerprint(execution: &str) -> String {
    format!("steps:{execution}")
}

impl Links<'_> {
    fn base(&self) -> &str {
        self.settings.public_base_url.as_deref().unwrap_or(self.base_url)
    }

    fn sign(&self, fingerprint: &str, position: &Position) -> String {
        cursor::encode(
            &self.settings.cursor_keys,
            &Claims {
                project: self.project.to_string(),
                filters: fingerprint.to_string(),
                position: position.0.clone(),
            },
        )
    }

    /// Where a listing resumes: the position its cursor holds, if it has one.
    pub fn resume(&self, fingerprint: &str, cursor: Option<&str>) -> Result<Option<Position>, ApiError> {
        cursor.map(|token| self.verify(fingerprint, token)).transpose()
    }

    /// How much one page may read.
    pub fn read_budget(&self) -> ReadBudget {
        ReadBudget {
            items: self.settings.read_budget_items,
        }
    }

    /// The page info of a listing page at `path`: its next link (with the query `query` builds
    /// around a cursor), and the total when `count` is given, counted within the count budget.
    /// Only a first page asks for a total: later pages (and `nextLink`) carry the cursor.
    pub async fn page_info<T, Fut>(
        &self,
        fingerprint: &str,
        path: &str,
        page: &Page<T>,
        query: impl FnOnce(&str) -> String,
        count: Option<impl FnOnce(ReadBudget) -> Fut>,
        searching: bool,
    ) -> Result<PageInfo, ApiError>
    where
        Fut: Future<Output = Result<Count, StoreError>>,
    {
        let next = match &page.next {
            Some(position) => self.next_page(fingerprint, position, path, query),
            None => NextPage::default(),
        };
        let as_of = chrono::Utc::now();
        let count = match count {
            Some(count) => {
                let budget = ReadBudget {
                    items: self.settings.count_budget_items,
                };
                Some(count(budget).await.map_err(super::read_failed("count"))?)
            }
            None => None,
        };
        Ok(PageInfo {
            next,
            partial: page.partial,
            total: count.map(|c| c.total),
            total_exact: count.map(|c| c.exact),
            total_as_of: count.map(|_| crate::dates::format(as_of)),
            searched_until: page.reached.filter(|_| searching).map(crate::dates::format),
        })
    }

    pub fn verify(&self, fingerprint: &str, token: &str) -> Result<Position, ApiError> {
        cursor::decode(&self.settings.cursor_keys, token, self.project, fingerprint)
            .map(|c| Position(c.position))
            .map_err(|e| ApiError::invalid_cursor(e.to_string()))
    }

    /// Absolute URL of `path` under the project, with a query string.
    fn url(&self, path: &str, query: &str) -> String {
        format!(
            "{}/v1/projects/{}/{path}?{query}",
            self.base(),
            encode_segment(self.project)
        )
    }

    /// The page after `position` of the listing at `path` (under the project): its cursor, and its
    /// link with the query `query` builds around that cursor.
    pub fn next_page(
        &self,
        fingerprint: &str,
        position: &Position,
        path: &str,
        query: impl FnOnce(&str) -> String,
    ) -> NextPage {
        let token = self.sign(fingerprint, position);
        let link = self.url(path, &query(&token));
        NextPage {
            next_cursor: Some(token),
            next_link: Some(link),
        }
    }

    /// Cursor and link of the steps page after `position`.
    pub fn steps_page(&self, execution: &str, position: &Position, limit: u32) -> NextPage {
        let path = format!("workflow-executions/{}/step-executions", encode_segment(execution));
        self.next_page(&steps_fingerprint(execution), position, &path, |token| {
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("limit", &limit.to_string())
                .append_pair("cursor", token)
                .finish()
        })
    }

    pub fn verify_steps(&self, execution: &str, token: &str) -> Result<Position, ApiError> {
        self.verify(&steps_fingerprint(execution), token)
    }
}
