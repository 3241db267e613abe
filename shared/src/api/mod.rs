//! HTTP API: routing, auth, and the handlers (executions: list / get / steps / step; event logs;
//! traces). The Lambda adapter (`http`)
//! turns API Gateway events into `ApiRequest`s; handlers never see Lambda types, and take only the
//! store capabilities they use.

pub mod adapter;
pub mod auth;
pub mod get;
pub mod http;
pub mod links;
pub mod list;
pub mod listing;
pub mod logs;
pub mod process;
pub mod stats;
pub mod step;
pub mod steps;
pub mod trace;
mod views;

use crate::error::ApiError;
use crate::store::StoreError;

/// What a failed read becomes: 429 when DynamoDB is out of capacity even after retries (the client
/// should back off), otherwise 500. The cause is logged, never returned.
pub(crate) fn read_failed(what: &'static str) -> impl Fn(StoreError) -> ApiError {
    move |e| {
        tracing::error!(error = %e, what, "read failed");
        match e {
            StoreError::Throttled(_) => ApiError::rate_limited(1),
            _ => ApiError::internal(),
        }
    }
}

/// A request as the handlers see it.
#[derive(Clone, Debug, Default)]
pub struct ApiRequest {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub authorization: Option<String>,
    /// `scheme://host` the request arrived at, for absolute links.
    pub base_url: String,
    pub request_id: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ApiResponse {
    pub status: u16,
    pub body: String,
    pub retry_after: Option<u64>,
}

impl ApiResponse {
    pub fn json<T: serde::Serialize>(value: &T) -> Self {
        match serde_json::to_string(value) {
            Ok(body) => ApiResponse {
                status: 200,
                body,
                retry_after: None,
            },
            Err(_) => Self::error(&ApiError::internal(), ""),
        }
    }

    pub fn error(e: &ApiError, request_id: &str) -> Self {
        ApiResponse {
            status: e.status(),
            body: e.body(request_id).to_string(),
            retry_after: e.retry_after,
        }
    }
}

/// The routes of the API, parsed from the path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    List {
        project: String,
    },
    Get {
        project: String,
        execution: String,
    },
    Steps {
        project: String,
        execution: String,
    },
    Step {
        project: String,
        execution: String,
        step: String,
    },
    EventLogs {
        project: String,
    },
    Trace {
        project: String,
        trace: String,
    },
    Stats {
        project: String,
    },
}

/// The routes, as handlers and logs name them. The list function serves the three listings
/// (executions, event logs, traces) and stats; every other route has a function of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    List,
    Get,
    Steps,
    Step,
    EventLogs,
    Trace,
    Stats,
}

impl Route {
    /// Parses `/v1/projects/{p}/workflow-executions[/{e}[/step-executions[/{s}]]]`, after any
    /// stage prefix API Gateway may leave in front.
    pub fn parse(path: &str) -> Option<Route> {
        let start = path.find("/v1/projects/")?;
        let segments: Vec<String> = path[start + 1..]
            .trim_end_matches('/')
            .split('/')
            .map(percent_decode)
            .collect::<Option<_>>()?;
        let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
        let ok = |s: &str| crate::model::values::valid_id(s);
        match segs.as_slice() {
            ["v1", "projects", p, "workflow-executions"] if ok(p) => Some(Route::List { project: p.to_string() }),
            ["v1", "projects", p, "workflow-executions", e] if ok(p) && ok(e) => Some(Route::Get {
                project: p.to_string(),
                execution: e.to_string(),
            }),
            ["v1", "projects", p, "workflow-executions", e, "step-executions"] if ok(p) && ok(e) => {
                Some(Route::Steps {
                    project: p.to_string(),
                    execution: e.to_string(),
                })
            }
            ["v1", "projects", p, "workflow-executions", e, "step-executions", s] if ok(p) && ok(e) && ok(s) => {
                Some(Route::Step {
                    project: p.to_string(),
                    execution: e.to_string(),
                    step: s.to_string(),
                })
            }
            ["v1", "projects", p, "event-logs"] if ok(p) => Some(Route::EventLogs { project: p.to_string() }),
            ["v1", "projects", p, "stats"] if ok(p) => Some(Route::Stats { project: p.to_string() }),
            ["v1", "projects", p, "traces", t] if ok(p) && crate::model::values::value_problem(t, false).is_none() => {
                Some(Route::Trace {
                    project: p.to_string(),
                    trace: t.to_string(),
                })
            }
            _ => None,
        }
    }

    pub fn project(&self) -> &str {
        match self {
            Route::List { project }
            | Route::Get { project, .. }
            | Route::Steps { project, .. }
            | Route::Step { project, .. }
            | Route::EventLogs { project }
            | Route::Stats { project }
            | Route::Trace { project, .. } => project,
        }
    }

    /// The trace a route names ("" unless the trace route).
    pub fn trace(&self) -> &str {
        match self {
            Route::Trace { trace, .. } => trace,
            _ => "",
        }
    }

    /// The execution a route names ("" for the listing).
    pub fn execution(&self) -> &str {
        match self {
            Route::List { .. } | Route::EventLogs { .. } | Route::Trace { .. } | Route::Stats { .. } => "",
            Route::Get { execution, .. } | Route::Steps { execution, .. } | Route::Step { execution, .. } => execution,
        }
    }

    /// The step a route names ("" unless step detail).
    pub fn step(&self) -> &str {
        match self {
            Route::Step { step, .. } => step,
            _ => "",
        }
    }

    pub fn endpoint(&self) -> Endpoint {
        match self {
            Route::List { .. } => Endpoint::List,
            Route::Get { .. } => Endpoint::Get,
            Route::Steps { .. } => Endpoint::Steps,
            Route::Step { .. } => Endpoint::Step,
            Route::EventLogs { .. } => Endpoint::EventLogs,
            Route::Trace { .. } => Endpoint::Trace,
            Route::Stats { .. } => Endpoint::Stats,
        }
    }
}

fn percent_decode(s: &str) -> Option<String> {
    // Form decoding would read `+` as a space and stop at `&`: neither is special in a path.
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B").replace('&', "%26")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttled_reads_ask_the_client_to_back_off_and_other_failures_are_internal() {
        let throttled = read_failed("x")(StoreError::Throttled("ThrottlingException".into()));
        assert_eq!((throttled.status(), throttled.retry_after), (429, Some(1)));
        let response = ApiResponse::error(&throttled, "r1");
        assert_eq!(response.retry_after, Some(1));
        assert!(response.body.contains("rate_limited"));
        assert_eq!(read_failed("x")(StoreError::Transient("500".into())).status(), 500);
    }

    #[test]
    fn parses_the_four_routes_with_or_without_a_stage() {
        assert_eq!(
            Route::parse("/v1/projects/p1/workflow-executions"),
            Some(Route::List { project: "p1".into() })
        );
        assert_eq!(
            Route::parse("/prod/v1/projects/p1/workflow-executions/e%2D1/"),
            Some(Route::Get {
                project: "p1".into(),
                execution: "e-1".into()
            })
        );
        assert_eq!(
            Route::parse("/v1/projects/p1/workflow-executions/e1/step-executions/s1"),
            Some(Route::Step {
                project: "p1".into(),
                execution: "e1".into(),
                step: "s1".into()
            })
        );
        assert_eq!(
            Route::parse("/v1/projects/p1/workflow-executions/e1/step-executions"),
            Some(Route::Steps {
                project: "p1".into(),
                execution: "e1".into()
            })
        );
        assert_eq!(
            Route::parse("/v1/projects/p1/event-logs"),
            Some(Route::EventLogs { project: "p1".into() })
        );
        assert_eq!(
            Route::parse("/v1/projects/p1/traces/t%201"),
            Some(Route::Trace {
                project: "p1".into(),
                trace: "t 1".into()
            })
        );
        assert_eq!(Route::parse("/v1/projects/p1/traces/%20t"), None);
        assert_eq!(Route::parse("/v1/projects/p1/traces/a&b").unwrap().trace(), "a&b");
        assert_eq!(Route::parse("/v1/projects/p1/other"), None);
        assert_eq!(Route::parse("/v1/projects/p1/workflow-executions/.."), None);
        assert_eq!(Route::parse("/v1/projects/p%23x/workflow-executions"), None);
    }
}
