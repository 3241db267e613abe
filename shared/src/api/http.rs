//! The Lambda adapter of the HTTP functions: API Gateway event in, JSON response out, one log line
//! per request with its request id, status and DynamoDB round trips. No body or key is logged.
//! Each route's `respond_*` takes only the store capabilities that route uses.

use super::links::Links;
use super::{auth, get, list, step, steps, ApiRequest, ApiResponse, Endpoint, Route};
use crate::config::Settings;
use crate::error::ApiError;
use crate::params::{self, ListParams, PageParams};
use crate::store::{LinkBodies, ListExecutions, ReadExecution, ReadKeys, ReadStep};
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

/// The route of a request to `endpoint`, checked for method and key.
async fn admit<K: ReadKeys>(keys: &K, endpoint: Endpoint, req: &ApiRequest) -> Result<Route, ApiError> {
    let route = Route::parse(&req.path)
        .filter(|r| r.endpoint() == endpoint)
        .ok_or_else(|| ApiError::not_found("route"))?;
    if req.method != "GET" {
        return Err(ApiError::new(
            crate::error::ErrorCode::MethodNotAllowed,
            "only GET is supported",
        ));
    }
    auth::authorize(keys, req.authorization.as_deref(), route.project()).await?;
    Ok(route)
}

fn links<'a>(settings: &'a Settings, route: &'a Route, req: &'a ApiRequest) -> Links<'a> {
    Links {
        settings,
        project: route.project(),
        base_url: &req.base_url,
    }
}

fn answer(result: Result<ApiResponse, ApiError>, req: &ApiRequest) -> ApiResponse {
    result.unwrap_or_else(|e| ApiResponse::error(&e, &req.request_id))
}

pub async fn respond_list<S: ReadKeys + ListExecutions>(
    settings: &Settings,
    store: &S,
    req: &ApiRequest,
    now: DateTime<Utc>,
) -> ApiResponse {
    let result = async {
        let route = admit(store, Endpoint::List, req).await?;
        let params = ListParams::parse(&req.query)?;
        let page = list::list(store, &links(settings, &route, req), &params, now).await?;
        Ok(ApiResponse::json(&page))
    };
    answer(result.await, req)
}

pub async fn respond_get<S: ReadKeys + ReadExecution + LinkBodies>(
    settings: &Settings,
    store: &S,
    req: &ApiRequest,
    now: DateTime<Utc>,
) -> ApiResponse {
    let result = async {
        let route = admit(store, Endpoint::Get, req).await?;
        params::none(&req.query)?;
        let Route::Get { execution, .. } = &route else {
            return Err(ApiError::not_found("route"));
        };
        let record = get::get(store, &links(settings, &route, req), execution, now.timestamp()).await?;
        Ok(ApiResponse::json(&record))
    };
    answer(result.await, req)
}

pub async fn respond_steps<S: ReadKeys + ReadExecution>(
    settings: &Settings,
    store: &S,
    req: &ApiRequest,
    now: DateTime<Utc>,
) -> ApiResponse {
    let result = async {
        let route = admit(store, Endpoint::Steps, req).await?;
        let params = PageParams::parse(&req.query)?;
        let Route::Steps { execution, .. } = &route else {
            return Err(ApiError::not_found("route"));
        };
        let page = steps::steps(
            store,
            &links(settings, &route, req),
            execution,
            &params,
            now.timestamp(),
        )
        .await?;
        Ok(ApiResponse::json(&page))
    };
    answer(result.await, req)
}

pub async fn respond_step<S: ReadKeys + ReadStep + LinkBodies>(
    _settings: &Settings,
    store: &S,
    req: &ApiRequest,
    now: DateTime<Utc>,
) -> ApiResponse {
    let result = async {
        let route = admit(store, Endpoint::Step, req).await?;
        params::none(&req.query)?;
        let Route::Step {
            project,
            execution,
            step,
        } = &route
        else {
            return Err(ApiError::not_found("route"));
        };
        Ok(ApiResponse::json(
            &step::step(store, project, execution, step, now.timestamp()).await?,
        ))
    };
    answer(result.await, req)
}

/// Any route, for tools and tests that hold a store with every capability.
pub async fn respond<S>(
    settings: &Settings,
    store: &S,
    endpoint: Endpoint,
    req: &ApiRequest,
    now: DateTime<Utc>,
) -> ApiResponse
where
    S: ReadKeys + ListExecutions + ReadExecution + ReadStep + LinkBodies,
{
    match endpoint {
        Endpoint::List => respond_list(settings, store, req, now).await,
        Endpoint::Get => respond_get(settings, store, req, now).await,
        Endpoint::Steps => respond_steps(settings, store, req, now).await,
        Endpoint::Step => respond_step(settings, store, req, now).await,
    }
}

/// One Lambda invocation of an HTTP function: `answer` is the route's `respond_*`.
pub async fn handle<F, Fut>(endpoint: Endpoint, req: Request, answer: F) -> Response<Body>
where
    F: FnOnce(ApiRequest, DateTime<Utc>) -> Fut,
    Fut: Future<Output = ApiResponse>,
{
    let api = api_request(&req);
    let span = tracing::info_span!("request", requestId = %api.request_id);
    let started = std::time::Instant::now();
    crate::metrics::take_round_trips();
    let request_id = api.request_id.clone();
    let response = answer(api, Utc::now()).instrument(span.clone()).await;
    let calls = crate::metrics::take_round_trips();
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
    builder
        .body(Body::from(response.body))
        .unwrap_or_else(|_| Response::new(Body::Empty))
}
