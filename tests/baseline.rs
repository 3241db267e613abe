//! `baseline`: the smallest useful Lambda function with the functions' SDK setup, the reference the
//! cold-start ratios of `make bench` are taken against (scripts/coldstart.py).
//!
//! Built with the same release profile and the same lean SDK setup as the functions
//! (shared/src/aws.rs: rustls with ring over aws-smithy-http-client, latest behavior version, the
//! standard environment configuration), but with one DynamoDB client and nothing else. Each
//! invocation makes one GetItem on TABLE_NAME for a key no item has (the store names it) and
//! answers a small JSON object.

use aws_config::BehaviorVersion;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
// The Lambda runtime as the functions have it (through lambda_http, with the same features).
use lambda_http::lambda_runtime::{self, service_fn, Diagnostic, Error, LambdaEvent};
use serde_json::{json, Value};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_target(false)
        .without_time()
        .init();

    let table = std::env::var("TABLE_NAME").map_err(|_| "TABLE_NAME is not set")?;
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let shared = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .load()
        .await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&shared);
    let key = runledger::store::absent_item_key();
    let (dynamodb, table, key) = (&dynamodb, table.as_str(), &key);

    lambda_runtime::run(service_fn(move |_event: LambdaEvent<Value>| async move {
        let item = dynamodb
            .get_item()
            .table_name(table)
            .set_key(Some(key.clone()))
            .send()
            .await
            .map_err(|e| {
                let message = match e.code() {
                    Some(code) => format!("{code}: {}", e.message().unwrap_or_default()),
                    None => aws_sdk_dynamodb::error::DisplayErrorContext(&e).to_string(),
                };
                tracing::warn!(error = %message, "GetItem failed");
                Diagnostic {
                    error_type: "GetItemFailed".into(),
                    error_message: message,
                }
            })?;
        Ok::<_, Diagnostic>(json!({ "ok": true, "found": item.item.is_some() }))
    }))
    .await
}
