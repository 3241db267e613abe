//! Cursors and `next` links: a store position signed with the project and the query it belongs to,
//! and the absolute URL of the page it opens.

use crate::config::Settings;
use crate::cursor::{self, Claims};
use crate::error::ApiError;
use crate::query::Position;

/// Where the next page is: `nextCursor` and `nextLink`, both null on the last page.
#[derive(Debug, Default, serde::Serialize)]
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
