//! The Lambda adapter of the HTTP functions: API Gateway event in, JSON response out, one log line
//! per request with its request id, status and DynamoDB round trips. No body or key is logged.

use super::{auth, get, list, step, ApiRequest, ApiResponse, Endpoint, Route};
use crate::config::Settings;
use crate::error::ApiError;
use crate::params::ListParams;
use crate::store::{BodyLinks, CollectionReads, KeyReads, ListingReads};
use chrono::{DateTime, Utc};
use lambda_http::{Body, Request, RequestExt, Response};
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

/// Routes, authorizes and answers one request; every failure becomes a contract error body.
pub async fn respond<S>(
    settings: &Settings,
    store: &S,
    endpoint: Endpoint,
    req: &ApiRequest,
    now: DateTime<Utc>,
) -> ApiResponse
where
    S: KeyReads + ListingReads + CollectionReads + BodyLinks,
{
    let result: Result<ApiResponse, ApiError> = async {
        let route = Route::parse(&req.path)
            .filter(|r| r.endpoint() == endpoint)
            .ok_or_else(|| ApiError::not_found("route"))?;
        if req.method != "GET" {
            return Err(ApiError::new(
                crate::error::ErrorCode::MethodNotAllowed,
                "only GET is supported",
            ));
        }
        auth::authorize(store, req.authorization.as_deref(), route.project()).await?;
        let now_epoch = now.timestamp();
        match &route {
            Route::List { project } => {
                let params = ListParams::parse(&req.query)?;
                let page = list::list(store, settings, project, &params, &req.base_url, now).await?;
                Ok(ApiResponse::json(&page))
            }
            Route::Get { project, execution } => {
                no_parameters(&req.query)?;
                Ok(ApiResponse::json(
                    &get::get(store, project, execution, now_epoch).await?,
                ))
            }
            Route::Step {
                project,
                execution,
                step,
            } => {
                no_parameters(&req.query)?;
                Ok(ApiResponse::json(
                    &step::step(store, project, execution, step, now_epoch).await?,
                ))
            }
        }
    }
    .await;
    result.unwrap_or_else(|e| ApiResponse::error(&e, &req.request_id))
}

fn no_parameters(query: &[(String, String)]) -> Result<(), ApiError> {
    match query.first() {
        Some((name, _)) => Err(ApiError::parameter(
            name,
            format!("unknown parameter {name:?}; this route takes none"),
        )),
        None => Ok(()),
    }
}

/// One Lambda invocation of an HTTP function.
pub async fn handle<S>(settings: &Settings, store: &S, endpoint: Endpoint, req: Request) -> Response<Body>
where
    S: KeyReads + ListingReads + CollectionReads + BodyLinks,
{
    let api = api_request(&req);
    let span = tracing::info_span!("request", requestId = %api.request_id);
    let started = std::time::Instant::now();
    crate::metrics::take_round_trips();
    let response = respond(settings, store, endpoint, &api, Utc::now())
        .instrument(span.clone())
        .await;
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
        .header("x-request-id", &api.request_id);
    if let Some(s) = response.retry_after {
        builder = builder.header("retry-after", s.to_string());
    }
    builder
        .body(Body::from(response.body))
        .unwrap_or_else(|_| Response::new(Body::Empty))
}
