//! Entry points of the function binaries: set up tracing, clients and the instance's state
//! (`Process`) once, then serve. Each function hands its route the store typed as the whole store,
//! but the route's `respond_*` bounds it to the capabilities that route uses (and the template
//! grants the function exactly those).

use crate::api::http::{self, Service};
use crate::api::process::Process;
use crate::api::Endpoint;
use crate::config::Settings;
use crate::export::queue::SqsUnits;
use crate::store::DynamoStore;
use lambda_http::lambda_runtime::Diagnostic;
use lambda_http::{service_fn, Error, LambdaEvent, Request};
use serde_json::value::RawValue;
use tracing::Instrument;

async fn setup(cursors: bool) -> Result<&'static (Settings, DynamoStore, Process), Error> {
    crate::telemetry::init();
    let mut settings = Settings::from_env_for(cursors)?;
    if cursors && settings.cursor_keys.is_empty() {
        let arn = crate::config::cursor_secret_arn()
            .ok_or_else(|| crate::config::ConfigError("set CURSOR_SECRET or CURSOR_SECRET_ARN".into()))?;
        settings.cursor_keys = crate::aws::cursor_keys(&arn).await?;
    }
    let clients = crate::aws::clients(&settings).await;
    let store = DynamoStore::dynamo(&clients, &settings);
    let process = Process::new(clients.metrics.clone());
    // Lives as long as the process; handlers borrow it.
    Ok(Box::leak(Box::new((settings, store, process))))
}

macro_rules! serve_route {
    ($name:ident, $endpoint:expr, $method:ident, $cursors:expr) => {
        pub async fn $name() -> Result<(), Error> {
            let (settings, store, process) = setup($cursors).await?;
            let service = Service {
                settings,
                store,
                process,
            };
            crate::api::adapter::run(move |req: Request| async move {
                Ok::<_, Error>(
                    http::handle(process, $endpoint, req, |api, now| async move {
                        service.$method(&api, now).await
                    })
                    .await,
                )
            })
            .await
        }
    };
}

// The last argument: whether the route issues or checks cursors (only those hold the cursor keys).
serve_route!(serve_list, Endpoint::List, listings, true);
serve_route!(serve_get, Endpoint::Get, get, true);
serve_route!(serve_steps, Endpoint::Steps, steps, true);
serve_route!(serve_step, Endpoint::Step, step, false);

/// Serves the ingest function: direct invocations and SQS batches. It issues no cursors, so it
/// holds no cursor key.
pub async fn serve_ingest() -> Result<(), Error> {
    let (settings, store, process) = setup(false).await?;
    lambda_http::lambda_runtime::run(service_fn(move |event: LambdaEvent<Box<RawValue>>| {
        let span = tracing::info_span!("invocation", requestId = %event.context.request_id);
        ingest_invocation(store, settings, process, event).instrument(span)
    }))
    .await
}

/// One invocation of the ingest function, logged with its round trips.
async fn ingest_invocation(
    store: &DynamoStore,
    settings: &Settings,
    process: &Process,
    event: LambdaEvent<Box<RawValue>>,
) -> Result<serde_json::Value, Diagnostic> {
    let metrics = &process.metrics;
    metrics.take_round_trips();
    let started = std::time::Instant::now();
    let result = metrics
        .scope(crate::ingest::handle_invocation(
            store,
            settings,
            &process.noted_days,
            &event.payload,
            chrono::Utc::now(),
        ))
        .await;
    let calls = metrics.take_round_trips();
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
}

/// Serves a function fed by the table's stream: each invocation's batch is parsed and handed to
/// `handle`, whose answer (the records to deliver again) is returned.
async fn serve_stream<F, Fut>(handle: F) -> Result<(), Error>
where
    F: Fn(&'static DynamoStore, crate::streams::StreamEvent, std::time::Instant) -> Fut + Copy + Send + 'static,
    Fut: std::future::Future<Output = serde_json::Value> + Send,
{
    let (_, store, _) = setup(false).await?;
    lambda_http::lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| async move {
        let span = tracing::info_span!("invocation", requestId = %event.context.request_id);
        let started = std::time::Instant::now();
        let batch = crate::streams::StreamEvent::parse(event.payload).map_err(|e| Diagnostic {
            error_type: "InvalidStreamEvent".into(),
            error_message: e.to_string(),
        })?;
        Ok::<_, Diagnostic>(handle(store, batch, started).instrument(span).await)
    }))
    .await
}

/// Serves the archive function: batches of the table's stream, TTL deletions only (the event
/// source mapping filters on them), answered with the records to deliver again.
pub async fn serve_archive() -> Result<(), Error> {
    serve_stream(|store, batch, started| async move {
        let (response, summary) = crate::archive::archive_batch(store, &batch).await;
        tracing::info!(
            records = batch.records.len(),
            rows = summary.rows,
            objects = summary.objects,
            skipped = summary.skipped,
            missingBodies = summary.missing_bodies,
            failed = !response.batch_item_failures.is_empty(),
            durationMs = started.elapsed().as_millis() as u64,
            "archive"
        );
        serde_json::to_value(&response).unwrap_or_default()
    })
    .await
}

/// Serves the console function: the web console's files, compiled in (`crate::console`). Needs no
/// clients: it reads no table. Its Content-Security-Policy names the bodies bucket, from the
/// environment, once.
pub async fn serve_console() -> Result<(), Error> {
    crate::telemetry::init();
    let bodies = crate::console::bodies_origin_from_env();
    if bodies.is_none() {
        tracing::warn!("no bodies bucket origin (AWS_REGION unset): the console cannot load stored bodies");
    }
    let csp: &'static str = Box::leak(crate::console::content_security_policy(bodies.as_deref()).into_boxed_str());
    crate::api::adapter::run(move |req: Request| async move {
        let path = req.uri().path().to_string();
        let method = req.method().as_str().to_string();
        let found = crate::console::file(&path);
        let (status, content_type, body): (u16, &str, &[u8]) = match (&*method, found) {
            ("GET" | "HEAD", Some((t, bytes))) => (200, t, bytes),
            ("GET" | "HEAD", None) => (404, "text/plain; charset=utf-8", b"not found"),
            _ => (405, "text/plain; charset=utf-8", b"only GET is supported"),
        };
        tracing::info!(status, path = %path, bytes = body.len(), "console");
        let body = if method == "HEAD" { Vec::new() } else { body.to_vec() };
        Ok::<_, Error>(
            lambda_http::Response::builder()
                .status(status)
                .header("content-type", content_type)
                .header("cache-control", crate::console::cache_control(content_type))
                .header("x-content-type-options", "nosniff")
                .header("referrer-policy", "no-referrer")
                .header("x-frame-options", "DENY")
                .header("content-security-policy", csp)
                .body(lambda_http::Body::from(body))
                .unwrap_or_else(|_| lambda_http::Response::new(lambda_http::Body::Empty)),
        )
    })
    .await
}

/// Serves the stats function: batches of the table's stream (inserts and modifications of
/// executions and event logs, as the event source mapping filters) into the counters.
pub async fn serve_stats() -> Result<(), Error> {
    serve_stream(|store, batch, started| async move {
        let (response, summary) = crate::stats::feed::count_batch(store, &batch).await;
        match &summary.error {
            None => tracing::info!(
                records = summary.records,
                counted = summary.counted,
                countersWritten = summary.counters_written,
                countersSkipped = summary.counters_skipped,
                setAside = summary.set_aside.len(),
                durationMs = started.elapsed().as_millis() as u64,
                "stats"
            ),
            Some(error) => {
                tracing::error!(records = summary.records, error = %error, "stats batch failed; asking for it again")
            }
        }
        serde_json::to_value(&response).unwrap_or_default()
    })
    .await
}

/// Serves the export function: on demand with `{"projectId", "afterDate", "beforeDate",
/// "format"?}` (answers `{"manifests": [...]}`), or on its hourly schedule (any other payload, e.g.
/// `{}`) for every project day that changed since it was last written: with `EXPORT_QUEUE_URL`,
/// a unit per day queued for the export worker (answers what it queued), else every day written
/// here, one after another.
pub async fn serve_export() -> Result<(), Error> {
    let (_, store, _) = setup(false).await?;
    let queue: &'static Option<SqsUnits> = Box::leak(Box::new(units_queue().await));
    lambda_http::lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
        let span = tracing::info_span!("invocation", requestId = %event.context.request_id);
        export_invocation(store, queue.as_ref(), event).instrument(span)
    }))
    .await
}

/// The export units queue the environment names (`EXPORT_QUEUE_URL`), if any.
async fn units_queue() -> Option<SqsUnits> {
    let url = std::env::var("EXPORT_QUEUE_URL").ok().filter(|u| !u.is_empty())?;
    let client = aws_sdk_sqs::Client::new(&crate::aws::sdk_config(None).await);
    Some(SqsUnits { client, url })
}

/// Serves the export worker: SQS batches of export units, each written whole (`export::queue::work`),
/// answered with the messages to deliver again.
pub async fn serve_export_worker() -> Result<(), Error> {
    let (_, store, _) = setup(false).await?;
    lambda_http::lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| async move {
        let span = tracing::info_span!("invocation", requestId = %event.context.request_id);
        let batch: aws_lambda_events::event::sqs::SqsEvent =
            serde_json::from_value(event.payload).map_err(|e| Diagnostic {
                error_type: "InvalidSqsEvent".into(),
                error_message: e.to_string(),
            })?;
        let response = crate::export::queue::work(store, &batch).instrument(span).await;
        Ok::<_, Diagnostic>(serde_json::to_value(&response).unwrap_or_default())
    }))
    .await
}

/// The scheduled invocation with a queue: every pending project day queued as a unit; any day
/// not queued fails the invocation, so it is retried (the units it did queue are deduplicated).
async fn enqueue_invocation(
    store: &DynamoStore,
    queue: &SqsUnits,
    started: std::time::Instant,
) -> Result<serde_json::Value, Diagnostic> {
    let run = crate::export::queue::enqueue(store, queue, chrono::Utc::now()).await;
    tracing::info!(
        onDemand = false,
        pending = run.pending,
        queued = run.queued,
        failures = run.failures.len(),
        durationMs = started.elapsed().as_millis() as u64,
        "export queued"
    );
    match run.failures.first() {
        Some(first) => Err(Diagnostic {
            error_type: "ExportFailed".into(),
            error_message: format!(
                "{} project day(s) not queued; the first: {}/{}: {}",
                run.failures.len(),
                first.project_id.as_deref().unwrap_or("*"),
                first.date,
                first.error
            ),
        }),
        None => Ok(serde_json::to_value(&run).unwrap_or_default()),
    }
}

/// One invocation of the export function.
async fn export_invocation(
    store: &DynamoStore,
    queue: Option<&SqsUnits>,
    event: LambdaEvent<serde_json::Value>,
) -> Result<serde_json::Value, Diagnostic> {
    let started = std::time::Instant::now();
    let now = chrono::Utc::now();
    let failed = |error_type: &str, error_message: String| {
        tracing::warn!(error = %error_message, "export failed");
        Err(Diagnostic {
            error_type: error_type.into(),
            error_message,
        })
    };
    if let (None, Some(queue)) = (event.payload.get("projectId"), queue) {
        return enqueue_invocation(store, queue, started).await;
    }
    if event.payload.get("projectId").is_none() {
        // The schedule: every changed project day; any failure fails the invocation, so it is
        // retried and in the end recorded in the failure queue, after every other day was done.
        // A deadline before the start is none (the local emulator sends a bogus one).
        let deadline = chrono::DateTime::from_timestamp_millis(event.context.deadline as i64).filter(|d| *d > now);
        let run = crate::export::export_changed(store, now, deadline).await;
        tracing::info!(
            onDemand = false,
            pending = run.pending,
            deferred = run.deferred,
            days = run.manifests.len(),
            rows = run.manifests.iter().map(|m| m.rows).sum::<u64>(),
            failures = run.failures.len(),
            durationMs = started.elapsed().as_millis() as u64,
            "export"
        );
        if let Some(first) = run.failures.first() {
            let days: Vec<String> = run
                .failures
                .iter()
                .map(|f| format!("{}/{}", f.project_id.as_deref().unwrap_or("*"), f.date))
                .collect();
            return failed(
                "ExportFailed",
                format!(
                    "{} project day(s) failed ({}); the first: {}",
                    days.len(),
                    days.join(", "),
                    first.error
                ),
            );
        }
        return Ok(serde_json::to_value(&run).unwrap_or_default());
    }
    let result = match serde_json::from_value::<crate::export::ExportRequest>(event.payload) {
        Ok(req) => crate::export::export(store, &req, now).await,
        Err(e) => Err(crate::export::ExportError::Invalid(e.to_string())),
    };
    match result {
        Ok(exported) => {
            tracing::info!(
                onDemand = true,
                days = exported.manifests.len(),
                kept = exported.kept_days.len(),
                rows = exported.manifests.iter().map(|m| m.rows).sum::<u64>(),
                durationMs = started.elapsed().as_millis() as u64,
                "export"
            );
            Ok(serde_json::to_value(&exported).unwrap_or_default())
        }
        Err(e @ crate::export::ExportError::Invalid(_)) => failed("InvalidExportRequest", e.to_string()),
        Err(e) => failed("ExportFailed", e.to_string()),
    }
}
