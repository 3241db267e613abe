//! `GET .../workflow-executions`: the executions listing's parameters.

use super::{append_list, choices, listing, names, sorted_filters, window, Filter, LinkQuery, Listing, Paging};
use crate::error::ApiError;
use crate::model::{Field, Status};
use crate::query::ListQuery;
use chrono::{DateTime, Utc};

/// The filters, ahead of the window's parameters.
const FILTERS: [&str; 6] = [
    "integration",
    "userId",
    "workflowId",
    "triggerType",
    "traceId",
    "status",
];

/// The dimension in the order links and fingerprints list them.
pub(super) const DIMENSIONS: [Field; 5] = [
    Field::Integration,
    Field::UserId,
    Field::WorkflowId,
    Field::TriggerType,
    Field::TraceId,
];

impl Filter for Field {
    fn parameter(self) -> &'static str {
        self.wire_name()
    }

    fn comma_list(self) -> Option<bool> {
        self.dimension()
    }
}

/// `status`: a comma list of statuses (executions and stats alike).
pub(super) fn statuses<'a>(get: &impl Fn(&str) -> Option<&'a str>) -> Result<Vec<Status>, ApiError> {
    choices(
        get,
        "status",
        Status::parse,
        "QUEUED, RUNNING, SUCCEEDED, FAILED or CANCELLED",
    )
}

/// A validated executions listing request: the query it asks for, and how to page and count it.
#[derive(Clone, Debug, PartialEq)]
pub struct ListParams {
    pub query: ListQuery,
    pub paging: Paging,
}

impl ListParams {
    /// The executions of `project` at `now` the parameters ask for, as the store reads them: the
    /// filters are read first, then the window (the first bad parameter is the one named).
    pub fn parse(pairs: &[(String, String)], project: &str, now: DateTime<Utc>) -> Result<Self, ApiError> {
        let (get, dimensions) = listing(pairs, &FILTERS, &[], &DIMENSIONS)?;
        let statuses = statuses(&get)?;
        let (window, paging) = window(&get, project, now)?;
        Ok(ListParams {
            query: ListQuery {
                window,
                dimensions,
                statuses,
            },
            paging,
        })
    }
}

impl Listing for ListParams {
    type Query = ListQuery;
    const PATH: &'static str = "workflow-executions";

    fn canonical_filters(&self) -> Vec<serde_json::Value> {
        let statuses = names(&self.query.statuses, Status::as_str);
        vec![
            sorted_filters(&self.query.dimensions, &DIMENSIONS),
            serde_json::json!(statuses),
        ]
    }

    fn append_filters(&self, q: &mut LinkQuery<'_>) {
        super::append_filters(q, &self.query.dimensions, &DIMENSIONS);
        append_list(q, "status", &names(&self.query.statuses, Status::as_str));
    }

    fn parts(&self) -> (&ListQuery, &Paging) {
        (&self.query, &self.paging)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dates;

    fn parse(q: &str) -> Result<ListParams, ApiError> {
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(q.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        ListParams::parse(&pairs, "p", chrono::Utc::now())
    }

    fn bad(q: &str) -> String {
        let e = parse(q).unwrap_err();
        assert_eq!(e.status(), 400, "{q}");
        e.parameter.unwrap_or_default()
    }

    #[test]
    fn defaults() {
        let p = parse("").unwrap();
        assert_eq!(p.query.window.limit, 100);
        assert!(!p.query.window.ascending && !p.paging.count && p.paging.cursor.is_none());
    }

    #[test]
    fn parses_every_filter() {
        let p = parse("integration=salesforce,hubspot&userId=u1&workflowId=w&triggerType=cron&traceId=t&status=failed,FAILED,Cancelled&afterDate=2023-02-16&beforeDate=2023-02-23T00:00:00&sortBy=asc&limit=5&count=true").unwrap();
        let q = &p.query;
        assert_eq!(
            q.dimensions[0],
            (Field::Integration, vec!["salesforce".into(), "hubspot".into()])
        );
        assert_eq!(q.dimensions[1], (Field::UserId, vec!["u1".into()]));
        assert_eq!(q.dimensions.len(), 5);
        assert_eq!(q.statuses, [Status::Failed, Status::Cancelled]);
        assert!(q.window.ascending && p.paging.count);
        assert_eq!(q.window.limit, 5);
        assert_eq!(dates::format(q.window.after.unwrap()), "2023-02-16T00:00:00.000Z");
    }

    #[test]
    fn refuses_bad_values_naming_the_parameter() {
        for (query, parameter) in [
            ("limit=0", "limit"),
            ("limit=5000", "limit"),
            ("limit=ten", "limit"),
            ("afterDate=yesterday", "afterDate"),
            ("status=DONE", "status"),
            ("sortBy=up", "sortBy"),
            ("colour=red", "colour"),
            ("userId=a&userId=b", "userId"),
            ("userId=", "userId"),
            ("afterDate=2023-02-23&beforeDate=2023-02-16", "beforeDate"),
            ("integration=a,b,c,d,e,f,g,h,i,j,k", "integration"),
            ("count=maybe", "count"),
        ] {
            assert_eq!(bad(query), parameter);
        }
    }

    #[test]
    fn fingerprint_ignores_limit_and_order_of_lists_but_not_filters() {
        let a = parse("integration=a,b&limit=5").unwrap().fingerprint();
        assert_eq!(a, parse("integration=b,a&limit=7&count=true").unwrap().fingerprint());
        assert_ne!(a, parse("integration=a").unwrap().fingerprint());
        assert_ne!(a, parse("integration=a,b&sortBy=ASC").unwrap().fingerprint());
    }

    #[test]
    fn next_link_query_reparses_to_the_same_request() {
        let p = parse("integration=a b,c&status=failed&afterDate=2023-02-16&limit=3").unwrap();
        let again = parse(&p.query_with_cursor("xyz")).unwrap();
        assert_eq!(again.paging.cursor.as_deref(), Some("xyz"));
        assert_eq!(again.fingerprint(), p.fingerprint());
        assert_eq!(again.query.window.limit, 3);
    }
}
