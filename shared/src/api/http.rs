//! The Lambda adapter of the HTTP functions: API Gateway event in, JSON response out, one log line
//! per request with its request id, status and DynamoDB round trips. No body or key is logged.
//! Each route's method on `Service` takes only the store capabilities that route uses.

use super::links::Links;
use super::{auth, get, list, logs, stats, step, steps, trace, ApiRequest, ApiResponse, Endpoint, Route};
use crate::api::process::Process;
use crate::config::Settings;
use crate::error::ApiError;
use crate::params::{self, ListParams, LogParams, PageParams, StatsParams};
use crate::store::{LinkBodies, ListExecutions, ListLogs, ReadExecution, ReadKeys, ReadStats, ReadStep, ReadTrace};
use chrono::{DateTime, Utc};
use lambda_http::{Body, Request, RequestExt, Response};
use std::future::Future;
use tracing::Instrument;

/// Builds the handler-facing request from the Lambda one.
pub fn api_request(req: &Request) -> ApiRequest {
    let uri = req.uri();
    let query = uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default();
    let base_url = match uri.authority() {
        Some(a) => format!("{}://{a}", uri.scheme_str().unwrap_or("https")),
        None => String::new(),
    };
    let request_id = req
        .lambda_context_ref()
        .map(|c| c.request_id.clone())
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    ApiRequest {
        method: req.method().as_str().to_string(),
        path: uri.path().to_string(),
        query,
        authorization: req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        base_url,
        request_id,
    }
}

/// A request with its route, parsed once: dispatch, admission and the handler all read this one.
pub struct Routed<'r> {
    pub request: &'r ApiRequest,
    /// `None`: the path names no route.
    pub route: Option<Route>,
}

impl<'r> From<&'r ApiRequest> for Routed<'r> {
    fn from(request: &'r ApiRequest) -> Self {
        Routed {
            request,
            route: Route::parse(&request.path),
        }
    }
}

/// A request as `handle` gives it to a function's method: its route, parsed for the log line,
/// goes on with it.
pub struct Incoming {
    pub request: ApiRequest,
    pub route: Option<Route>,
}

impl<'r> From<&'r Incoming> for Routed<'r> {
    fn from(incoming: &'r Incoming) -> Self {
        Routed {
            request: &incoming.request,
            route: incoming.route.clone(),
        }
    }
}

/// The API over one store: each route's method takes only the store capabilities that route uses.
pub struct Service<'a, S> {
    pub settings: &'a Settings,
    pub store: &'a S,
    /// The instance's state kept between requests (its key cache).
    pub process: &'a Process,
}

// Three references: copied into each request's handler (a derive would ask `S: Copy`).
impl<S> Clone for Service<'_, S> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<S> Copy for Service<'_, S> {}

fn answer(result: Result<ApiResponse, ApiError>, req: &ApiRequest) -> ApiResponse {
    result.unwrap_or_else(|e| ApiResponse::error(&e, &req.request_id))
}

impl<'a, S: ReadKeys> Service<'a, S> {
    /// Admits a request on its route: the method, then the key.
    async fn admit(&self, route: &Route, req: &ApiRequest) -> Result<(), ApiError> {
        if req.method != "GET" {
            return Err(ApiError::new(
                crate::error::ErrorCode::MethodNotAllowed,
                "only GET is supported",
            ));
        }
        auth::authorize(
            self.store,
            &self.process.keys,
            req.authorization.as_deref(),
            route.project(),
        )
        .await
    }

    /// Checks the route is `endpoint`'s, admits the request, runs `handle` (which parses the
    /// parameters first) and answers with its result or the error, as every route does.
    async fn serve<'r, T, Fut>(
        &self,
        endpoint: Endpoint,
        routed: Routed<'r>,
        handle: impl FnOnce(Route, &'r ApiRequest) -> Fut,
    ) -> ApiResponse
    where
        T: serde::Serialize,
        Fut: Future<Output = Result<T, ApiError>>,
    {
        let Routed { request: req, route } = routed;
        let result = async {
            let route = route
                .filter(|r| r.endpoint() == endpoint)
                .ok_or_else(|| ApiError::not_found("route"))?;
            self.admit(&route, req).await?;
            Ok(ApiResponse::json(&handle(route, req).await?))
        };
        answer(result.await, req)
    }

    fn links<'r>(&'r self, route: &'r Route, req: &'r ApiRequest) -> Links<'r> {
        Links {
            settings: self.settings,
            project: route.project(),
            base_url: &req.base_url,
        }
    }
}

impl<S: ReadKeys + ListExecutions> Service<'_, S> {
    pub async fn list<'r>(&self, req: impl Into<Routed<'r>>, now: DateTime<Utc>) -> ApiResponse {
        self.serve(Endpoint::List, req.into(), |route, req| async move {
            let params = ListParams::parse(&req.query, route.project(), now)?;
            list::list(self.store, &self.links(&route, req), &params).await
        })
        .await
    }
}

impl<S: ReadKeys + ReadExecution + LinkBodies> Service<'_, S> {
    pub async fn get<'r>(&self, req: impl Into<Routed<'r>>, now: DateTime<Utc>) -> ApiResponse {
        self.serve(Endpoint::Get, req.into(), |route, req| async move {
            params::none(&req.query)?;
            get::get(self.store, &self.links(&route, req), route.execution(), now.timestamp()).await
        })
        .await
    }
}

impl<S: ReadKeys + ReadExecution> Service<'_, S> {
    pub async fn steps<'r>(&self, req: impl Into<Routed<'r>>, now: DateTime<Utc>) -> ApiResponse {
        self.serve(Endpoint::Steps, req.into(), |route, req| async move {
            let params = PageParams::parse(&req.query)?;
            let links = self.links(&route, req);
            steps::steps(self.store, &links, route.execution(), &params, now.timestamp()).await
        })
        .await
    }
}

impl<S: ReadKeys + ReadStep + LinkBodies> Service<'_, S> {
    pub async fn step<'r>(&self, req: impl Into<Routed<'r>>, now: DateTime<Utc>) -> ApiResponse {
        self.serve(Endpoint::Step, req.into(), |route, req| async move {
            params::none(&req.query)?;
            let (project, execution, step) = (route.project(), route.execution(), route.step());
            step::step(self.store, project, execution, step, now.timestamp()).await
        })
        .await
    }
}

impl<S: ReadKeys + ListLogs + LinkBodies> Service<'_, S> {
    pub async fn event_logs<'r>(&self, req: impl Into<Routed<'r>>, now: DateTime<Utc>) -> ApiResponse {
        self.serve(Endpoint::EventLogs, req.into(), |route, req| async move {
            let params = LogParams::parse(&req.query, route.project(), now)?;
            logs::event_logs(self.store, &self.links(&route, req), &params).await
        })
        .await
    }
}

impl<S: ReadKeys + ReadTrace + LinkBodies> Service<'_, S> {
    pub async fn trace<'r>(&self, req: impl Into<Routed<'r>>, now: DateTime<Utc>) -> ApiResponse {
        self.serve(Endpoint::Trace, req.into(), |route, req| async move {
            params::none(&req.query)?;
            trace::trace(self.store, route.project(), route.trace(), now).await
        })
        .await
    }
}

impl<S: ReadKeys + ReadStats> Service<'_, S> {
    pub async fn stats<'r>(&self, req: impl Into<Routed<'r>>, now: DateTime<Utc>) -> ApiResponse {
        self.serve(Endpoint::Stats, req.into(), |route, req| async move {
            let params = StatsParams::parse(&req.query)?;
            stats::stats(self.store, route.project(), &params, now, self.settings.retention_days).await
        })
        .await
    }
}

impl<S: ReadKeys + ListExecutions + ListLogs + ReadTrace + ReadStats + LinkBodies> Service<'_, S> {
    /// The list function's routes: the executions and event-log listings, traces and stats.
    pub async fn listings<'r>(&self, req: impl Into<Routed<'r>>, now: DateTime<Utc>) -> ApiResponse {
        let routed = req.into();
        match routed.route.as_ref().map(Route::endpoint) {
            Some(Endpoint::EventLogs) => self.event_logs(routed, now).await,
            Some(Endpoint::Trace) => self.trace(routed, now).await,
            Some(Endpoint::Stats) => self.stats(routed, now).await,
            _ => self.list(routed, now).await,
        }
    }
}

impl<S> Service<'_, S>
where
    S: ReadKeys + ListExecutions + ListLogs + ReadTrace + ReadStats + ReadExecution + ReadStep + LinkBodies,
{
    /// Any route, for tools and tests that hold a store with every capability.
    pub async fn respond(&self, endpoint: Endpoint, req: &ApiRequest, now: DateTime<Utc>) -> ApiResponse {
        let routed = Routed::from(req);
        match endpoint {
            Endpoint::List => self.list(routed, now).await,
            Endpoint::Get => self.get(routed, now).await,
            Endpoint::Steps => self.steps(routed, now).await,
            Endpoint::Step => self.step(routed, now).await,
            Endpoint::EventLogs => self.event_logs(routed, now).await,
            Endpoint::Trace => self.trace(routed, now).await,
            Endpoint::Stats => self.stats(routed, now).await,
        }
    }
}

/// One Lambda invocation of an HTTP function: `answer` is the function's `Service` method; the
/// round trips it makes are counted in `process`'s metrics.
pub async fn handle<F, Fut>(process: &Process, function: Endpoint, req: Request, answer: F) -> Response<Body>
where
    F: FnOnce(Incoming, DateTime<Utc>) -> Fut,
    Fut: Future<Output = ApiResponse>,
{
    let request = api_request(&req);
    let route = Route::parse(&request.path);
    let endpoint = route.as_ref().map_or(function, Route::endpoint);
    let span = tracing::info_span!("request", requestId = %request.request_id);
    let started = std::time::Instant::now();
    let metrics = &process.metrics;
    metrics.take_round_trips();
    let request_id = request.request_id.clone();
    let response = metrics
        .scope(answer(Incoming { request, route }, Utc::now()))
        .instrument(span.clone())
        .await;
    let calls = metrics.take_round_trips();
    span.in_scope(|| {
        tracing::info!(
            endpoint = ?endpoint,
            status = response.status,
            durationMs = started.elapsed().as_millis() as u64,
            dynamodbCalls = crate::metrics::total_for(&calls, "DynamoDB"),
            calls = ?calls,
            "request"
        )
    });
    let mut builder = Response::builder()
        .status(response.status)
        .header("content-type", "application/json")
        .header("x-request-id", &request_id);
    if let Some(s) = response.retry_after {
        builder = builder.header("retry-after", s.to_string());
    }
    if response.status == 405 {
        builder = builder.header("allow", "GET");
    }
    builder
        .body(Body::from(response.body))
        .unwrap_or_else(|_| Response::new(Body::Empty))
}
