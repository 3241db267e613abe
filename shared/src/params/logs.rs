//! `GET .../event-logs`: the event-log listing's parameters.

use super::{
    append_list, choices, dimension, flag, listing, names, sorted_filters, window, Filter, LinkQuery, Listing, Paging,
};
use crate::error::ApiError;
use crate::model::{Level, LogField};
use crate::query::LogQuery;
use chrono::{DateTime, Utc};

/// The filters, ahead of the window's parameters.
const FILTERS: [&str; 6] = ["level", "type", "userId", "integrationId", "workflowId", "traceId"];

/// The event-log filters that are dimensions, in the order links and fingerprints list them.
const DIMENSIONS: [LogField; 4] = [
    LogField::IntegrationId,
    LogField::EndUserId,
    LogField::WorkflowId,
    LogField::TraceId,
];

impl Filter for LogField {
    fn parameter(self) -> &'static str {
        LogField::parameter(self)
    }

    fn comma_list(self) -> Option<bool> {
        self.dimension()
    }
}

/// A validated event-log listing request.
#[derive(Clone, Debug, PartialEq)]
pub struct LogParams {
    pub query: LogQuery,
    pub paging: Paging,
    /// `false`: leave `payload` out.
    pub include_body: bool,
}

impl LogParams {
    /// The event logs of `project` at `now` the parameters ask for, as the store reads them, and
    /// `includeBody`, read last.
    pub fn parse(pairs: &[(String, String)], project: &str, now: DateTime<Utc>) -> Result<Self, ApiError> {
        let (get, dimensions) = listing(pairs, &FILTERS, &["includeBody"], &DIMENSIONS)?;
        let levels = choices(&get, "level", Level::parse, "DEBUG, INFO, WARN or ERROR")?;
        let types = dimension(&get, "type", Some(true))?.unwrap_or_default();
        let (window, paging) = window(&get, project, now)?;
        Ok(LogParams {
            query: LogQuery {
                window,
                dimensions,
                levels,
                types,
            },
            paging,
            include_body: flag(get("includeBody"), "includeBody", true)?,
        })
    }
}

impl Listing for LogParams {
    type Query = LogQuery;
    const PATH: &'static str = "event-logs";

    /// Tagged, so that a cursor of one listing never opens the other.
    fn canonical_filters(&self) -> Vec<serde_json::Value> {
        let mut types: Vec<&str> = self.query.types.iter().map(String::as_str).collect();
        types.sort();
        vec![
            serde_json::json!("logs"),
            sorted_filters(&self.query.dimensions, &DIMENSIONS),
            serde_json::json!(names(&self.query.levels, Level::as_str)),
            serde_json::json!(types),
        ]
    }

    fn append_filters(&self, q: &mut LinkQuery<'_>) {
        super::append_filters(q, &self.query.dimensions, &DIMENSIONS);
        append_list(q, "level", &names(&self.query.levels, Level::as_str));
        append_list(q, "type", &self.query.types);
    }

    fn append_options(&self, q: &mut LinkQuery<'_>) {
        if !self.include_body {
            q.append_pair("includeBody", "false");
        }
    }

    fn parts(&self) -> (&LogQuery, &Paging) {
        (&self.query, &self.paging)
    }
}
