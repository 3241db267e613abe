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

/// Parses a route's query parameters.
type Parser<P> = fn(&[(String, String)]) -> Result<P, ApiError>;

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
    /// The route of a request to `endpoint`, checked for method and key.
    async fn admit(&self, endpoint: Endpoint, req: &ApiRequest) -> Result<Route, ApiError> {
        let route = Route::parse(&req.path)
            .filter(|r| r.endpoint() == endpoint)
            .ok_or_else(|| ApiError::not_found("route"))?;
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
        .await?;
        Ok(route)
    }

    /// Admits the request, parses its parameters, runs `handle` and answers with its result or the
    /// error, as every route does.
    async fn serve<P, T, Fut>(
        &self,
        endpoint: Endpoint,
        req: &ApiRequest,
        parse: Parser<P>,
        handle: impl FnOnce(Route, P) -> Fut,
    ) -> ApiResponse
    where
        T: serde::Serialize,
        Fut: Future<Output = Result<T, ApiError>>,
    {
        let result = async {
            let route = self.admit(endpoint, req).await?;
            let params = parse(&req.query)?;
            Ok(ApiResponse::json(&handle(route, params).await?))
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
    pub async fn list(&self, req: &ApiRequest, now: DateTime<Utc>) -> ApiResponse {
        self.serve(Endpoint::List, req, ListParams::parse, |route, params| async move {
            list::list(self.store, &self.links(&route, req), &params, now).await
        })
        .await
    }
}

impl<S: ReadKeys + ReadExecution + LinkBodies> Service<'_, S> {
    pub async fn get(&self, req: &ApiRequest, now: DateTime<Utc>) -> ApiResponse {
        self.serve(Endpoint::Get, req, params::none, |route, ()| async move {
            get::get(self.store, &self.links(&route, req), route.execution(), now.timestamp()).await
        })
        .await
    }
}

impl<S: ReadKeys + ReadExecution> Service<'_, S> {
    pub async fn steps(&self, req: &ApiRequest, now: DateTime<Utc>) -> ApiResponse {
        self.serve(Endpoint::Steps, req, PageParams::parse, |route, params| async move {
            let links = self.links(&route, req);
            steps::steps(self.store, &links, route.execution(), &params, now.timestamp()).await
        })
        .await
    }
}

impl<S: ReadKeys + ReadStep + LinkBodies> Service<'_, S> {
    pub async fn step(&self, req: &ApiRequest, now: DateTime<Utc>) -> ApiResponse {
        self.serve(Endpoint::Step, req, params::none, |route, ()| async move {
            let (project, execution, step) = (route.project(), route.execution(), route.step());
            step::step(self.store, project, execution, step, now.timestamp()).await
        })
        .await
    }
}

impl<S: ReadKeys + ListLogs + LinkBodies> Service<'_, S> {
    pub async fn event_logs(&self, req: &ApiRequest, now: DateTime<Utc>) -> ApiResponse {
        self.serve(Endpoint::EventLogs, req, LogParams::parse, |route, params| async move {
            logs::event_logs(self.store, &self.links(&route, req), &params, now).await
        })
        .await
    }
}

impl<S: ReadKeys + ReadTrace + LinkBodies> Service<'_, S> {
    pub async fn trace(&self, req: &ApiRequest, now: DateTime<Utc>) -> ApiResponse {
        self.serve(Endpoint::Trace, req, params::none, |route, ()| async move {
            trace::trace(self.store, route.project(), route.trace(), now).await
        })
        .await
    }
}

impl<S: ReadKeys + ReadStats> Service<'_, S> {
    pub async fn stats(&self, req: &ApiRequest, now: DateTime<Utc>) -> ApiResponse {
        self.serve(Endpoint::Stats, req, StatsParams::parse, |route, params| async move {
            stats::stats(self.store, route.project(), &params, now, self.settings.retention_days).await
        })
        .await
    }
}

impl<S: ReadKeys + ListExecutions + ListLogs + ReadTrace + ReadStats + LinkBodies> Service<'_, S> {
    /// The list function's routes: the executions and event-log listings, traces and stats.
    pub async fn listings(&self, req: &ApiRequest, now: DateTime<Utc>) -> ApiResponse {
        match Route::parse(&req.path).map(|r| r.endpoint()) {
            Some(Endpoint::EventLogs) => self.event_logs(req, now).await,
            Some(Endpoint::Trace) => self.trace(req, now).await,
            Some(Endpoint::Stats) => self.stats(req, now).await,
            _ => self.list(req, now).await,
        }
    }
}

impl<S> Service<'_, S>
where
    S: ReadKeys + ListExecutions + ListLogs + ReadTrace + ReadStats + ReadExecution + ReadStep + LinkBodies,
{
    /// Any route, for tools and tests that hold a store with every capability.
    pub async fn respond(&self, endpoint: Endpoint, req: &ApiRequest, now: DateTime<Utc>) -> ApiResponse {
        match endpoint {
            Endpoint::List => self.list(req, now).await,
            Endpoint::Get => self.get(req, now).await,
            Endpoint::Steps => self.steps(req, now).await,
            Endpoint::Step => self.step(req, now).await,
            Endpoint::EventLogs => self.event_logs(req, now).await,
            Endpoint::Trace => self.trace(req, now).await,
            Endpoint::Stats => self.stats(req, now).await,
        }
    }
}

/// One Lambda invocation of an HTTP function: `answer` is the function's `Service` method; the
/// round trips it makes are counted in `process`'s metrics.
pub async fn handle<F, Fut>(process: &Process, function: Endpoint, req: Request, answer: F) -> Response<Body>
where
    F: FnOnce(ApiRequest, DateTime<Utc>) -> Fut,
    Fut: Future<Output = ApiResponse>,
{
    let api = api_request(&req);
    let endpoint = Route::parse(&api.path).map_or(function, |r| r.endpoint());
    let span = tracing::info_span!("request", requestId = %api.request_id);
    let started = std::time::Instant::now();
    let metrics = &process.metrics;
    metrics.take_round_trips();
    let request_id = api.request_id.clone();
    let response = metrics.scope(answer(api, Utc::now())).instrument(span.clone()).await;
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
