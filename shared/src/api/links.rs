//! Cursors and `next` links: a store position signed with the project and the query it belongs to,
//! and the absolute URL of the page it opens.

use crate::config::Settings;
use crate::cursor::{self, Claims};
use crate::error::ApiError;
use crate::query::{Position, ReadBudget};
use serde::Serialize;

/// Where the next page is: `nextCursor` and `nextLink`, both null on the last page.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NextPage {
    pub next_cursor: Option<String>,
    pub next_link: Option<String>,
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

    /// The cursor of `position`, bound to the project and the query's `fingerprint`.
    pub fn sign(&self, fingerprint: &str, position: &Position) -> String {
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

    /// How much counting a total may read.
    pub fn count_budget(&self) -> ReadBudget {
        ReadBudget {
            items: self.settings.count_budget_items,
        }
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

    /// The next page: its cursor `token`, and its link to `path` (under the project) with the query
    /// string `query`, which carries that cursor.
    pub fn next_page(&self, token: String, path: &str, query: &str) -> NextPage {
        NextPage {
            next_cursor: Some(token),
            next_link: Some(self.url(path, query)),
        }
    }

    /// Cursor and link of the steps page after `position`.
    pub fn steps_page(&self, execution: &str, position: &Position, limit: u32) -> NextPage {
        let token = self.sign(&steps_fingerprint(execution), position);
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("limit", &limit.to_string())
            .append_pair("cursor", &token)
            .finish();
        let path = format!("workflow-executions/{}/step-executions", encode_segment(execution));
        self.next_page(token, &path, &query)
    }

    pub fn verify_steps(&self, execution: &str, token: &str) -> Result<Position, ApiError> {
        self.verify(&steps_fingerprint(execution), token)
    }
}
