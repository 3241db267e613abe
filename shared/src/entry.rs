//! Entry points of the function binaries: set up tracing and clients once, then serve.

use crate::api::{self, Endpoint};
use crate::config::Settings;
use crate::store::dynamo::Store;
use lambda_http::lambda_runtime::Diagnostic;
use lambda_http::{service_fn, Error, LambdaEvent, Request};
use serde_json::value::RawValue;

async fn setup() -> Result<&'static (Settings, Store), Error> {
    crate::telemetry::init();
    let settings = Settings::from_env()?;
    let clients = crate::aws::clients(&settings).await;
    let store = Store::new(&clients, &settings);
    // Lives as long as the process; handlers borrow it.
    Ok(Box::leak(Box::new((settings, store))))
}

/// Serves one HTTP route (list, get or step).
pub async fn serve_http(endpoint: Endpoint) -> Result<(), Error> {
    let state = setup().await?;
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, Error>(api::http::handle(&state.0, &state.1, endpoint, req).await)
    }))
    .await
}

/// Serves the ingest function: direct invocations and SQS batches.
pub async fn serve_ingest() -> Result<(), Error> {
    let state = setup().await?;
    lambda_http::lambda_runtime::run(service_fn(move |event: LambdaEvent<Box<RawValue>>| async move {
        let span = tracing::info_span!("invocation", requestId = %event.context.request_id);
        let _enter = span.enter();
        crate::metrics::take_round_trips();
        let started = std::time::Instant::now();
        let result = crate::ingest::handle_invocation(&state.1, &state.0, &event.payload, chrono::Utc::now()).await;
        let calls = crate::metrics::take_round_trips();
        match result {
            Ok(r) => {
                if let crate::ingest::InvocationResult::Direct(report) = &r {
                    tracing::info!(
                        accepted = report.accepted,
                        duplicates = report.duplicates,
                        rejected = report.rejected.len(),
                        durationMs = started.elapsed().as_millis() as u64,
                        dynamodbCalls = crate::metrics::total_for(&calls, "DynamoDB"),
                        calls = ?calls,
                        "ingest"
                    );
                }
                Ok(r.to_json())
            }
            Err(e) => {
                tracing::warn!(error = %e, "invalid invocation payload");
                Err(Diagnostic {
                    error_type: "InvalidEnvelope".into(),
                    error_message: e.to_string(),
                })
            }
        }
    }))
    .await
}
