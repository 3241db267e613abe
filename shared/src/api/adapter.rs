//! The HTTP functions' runtime loop. lambda_http builds each request's URL from the `Host` and
//! `X-Forwarded-Proto` headers and panics when they do not make one (a space, a broken `[` host), so
//! the raw API Gateway event is checked here first: such a request is answered 400 before any
//! request is built, and a panic while building one is caught and answered 400 too.

use crate::error::{ApiError, ErrorCode};
use lambda_http::request::LambdaRequest;
use lambda_http::{Adapter, Error, IntoResponse, LambdaEvent, Request, Service};
use serde_json::{json, Value};
use std::future::Future;
use std::panic::AssertUnwindSafe;

/// A header's first value, by case-insensitive name, from `headers` or `multiValueHeaders`.
fn header<'a>(event: &'a Value, name: &str) -> Option<&'a str> {
    let single = event.get("headers").and_then(Value::as_object).and_then(|h| {
        h.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.as_str())
    });
    single.or_else(|| {
        event
            .get("multiValueHeaders")
            .and_then(Value::as_object)
            .and_then(|h| h.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
            .and_then(|(_, v)| v.get(0))
            .and_then(Value::as_str)
    })
}

/// Why the request URL lambda_http would build from `event` is not a URL; `None` when it is.
pub fn unusable(event: &Value) -> Option<&'static str> {
    let host = header(event, "host").or_else(|| {
        event
            .get("requestContext")
            .and_then(|c| c.get("domainName"))
            .and_then(Value::as_str)
    });
    let path = event
        .get("rawPath")
        .or_else(|| event.get("path"))
        .and_then(Value::as_str)
        .unwrap_or("/");
    let url = match host {
        Some(host) => {
            let scheme = header(event, "x-forwarded-proto").unwrap_or("https");
            if !matches!(scheme, "http" | "https") {
                return Some("the X-Forwarded-Proto header must be http or https");
            }
            format!("{scheme}://{host}{path}")
        }
        None => format!("http://localhost{path}"),
    };
    let Ok(mut url) = url::Url::parse(&url).map(|u| u.to_string()) else {
        return Some("the Host header and the path do not make a URL");
    };
    if let Some(q) = event
        .get("rawQueryString")
        .and_then(Value::as_str)
        .filter(|q| !q.is_empty())
    {
        url.push('?');
        url.push_str(q);
    }
    if url.parse::<http::Uri>().is_err() {
        return Some("the request line does not make a URL");
    }
    None
}

/// A 400 in the response shape of the event's integration (HTTP API v2 or REST/ALB).
fn bad_request(message: &str, request_id: &str, v2: bool) -> Value {
    let e = ApiError::new(ErrorCode::BadRequest, message);
    let mut response = json!({
        "statusCode": e.status(),
        "headers": {"content-type": "application/json", "x-request-id": request_id},
        "multiValueHeaders": {},
        "body": e.body(request_id).to_string(),
        "isBase64Encoded": false,
    });
    if v2 {
        // Every field of a v2 response: some readers of the format (the local emulator) need it.
        response["cookies"] = json!([]);
    }
    response
}

/// Serves `handler` as lambda_http would, with the check above in front.
pub async fn run<S, R, Fut>(handler: S) -> Result<(), Error>
where
    S: Fn(Request) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<R, Error>> + Send + 'static,
    R: IntoResponse + 'static,
{
    lambda_http::lambda_runtime::run(lambda_http::service_fn(move |event: LambdaEvent<Value>| {
        let handler = handler.clone();
        async move {
            let request_id = event.context.request_id.clone();
            let v2 = event.payload.get("version").and_then(Value::as_str) == Some("2.0");
            let bad_request = |problem: &str| bad_request(problem, &request_id, v2);
            if let Some(problem) = unusable(&event.payload) {
                tracing::warn!(requestId = %request_id, problem, "request refused before routing");
                return Ok::<Value, Error>(bad_request(problem));
            }
            let payload: LambdaRequest = match serde_json::from_value(event.payload) {
                Ok(p) => p,
                Err(_) => return Ok(bad_request("not an HTTP request event")),
            };
            let mut adapter = Adapter::from(lambda_http::service_fn(handler));
            let lambda_event = LambdaEvent::new(payload, event.context);
            let Ok(call) = std::panic::catch_unwind(AssertUnwindSafe(|| adapter.call(lambda_event))) else {
                tracing::warn!(requestId = %request_id, "request could not be built");
                return Ok(bad_request("the request could not be read"));
            };
            let response = call.await?;
            Ok(serde_json::to_value(response).unwrap_or_else(|_| bad_request("unreadable response")))
        }
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(host: &str, proto: &str) -> Value {
        json!({
            "version": "2.0",
            "rawPath": "/v1/projects/p/workflow-executions",
            "rawQueryString": "limit=5",
            "headers": {"host": host, "x-forwarded-proto": proto},
            "requestContext": {"domainName": "api.example.com", "http": {"method": "GET"}},
        })
    }

    #[test]
    fn headers_that_make_no_url_are_refused() {
        assert_eq!(unusable(&event("api.example.com", "https")), None);
        assert_eq!(unusable(&event("127.0.0.1:9000", "http")), None);
        assert_eq!(unusable(&event("[::1]:9000", "http")), None);
        assert!(unusable(&event("bad host", "https")).is_some());
        assert!(unusable(&event("[::1", "https")).is_some());
        assert!(unusable(&event("api.example.com", "ht tp")).is_some());
        assert!(unusable(&event("api.example.com", "ftp")).is_some());
        // Why the check exists: lambda_http itself panics on these.
        let req: LambdaRequest = serde_json::from_value(event("bad host", "https")).unwrap();
        assert!(std::panic::catch_unwind(|| Request::from(req)).is_err());
    }

    #[test]
    fn what_passes_the_check_builds_a_request_without_a_panic() {
        for host in ["api.example.com", "[::1]:1", "a.b:65535", "x_y.z", "%41"] {
            let e = event(host, "https");
            if unusable(&e).is_none() {
                let req: LambdaRequest = serde_json::from_value(e).unwrap();
                let built = std::panic::catch_unwind(|| Request::from(req));
                assert!(built.is_ok(), "{host} passed the check but lambda_http panicked");
            }
        }
    }

    #[test]
    fn a_refusal_is_a_json_400() {
        let v = bad_request("no", "r-1", true);
        assert_eq!(v["statusCode"], 400);
        let body: Value = serde_json::from_str(v["body"].as_str().unwrap()).unwrap();
        assert_eq!(body["error"]["code"], "bad_request");
    }
}
