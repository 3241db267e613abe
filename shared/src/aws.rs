//! SDK clients, built once per cold start from the standard AWS environment
//! (`AWS_ENDPOINT_URL`, `AWS_REGION`, credentials): the same code runs on the emulator and on AWS.

use crate::config::Settings;
use crate::metrics::RoundTripCounter;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::BehaviorVersion;
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct Clients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub s3: aws_sdk_s3::Client,
}

pub async fn clients(settings: &Settings) -> Clients {
    clients_for(settings, None).await
}

/// As `clients`, with an explicit endpoint in place of the environment's (tests route calls
/// through a fault-injecting proxy this way).
pub async fn clients_for(settings: &Settings, endpoint_url: Option<&str>) -> Clients {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    // The SDK retries throttling and 5xx answers with capped exponential backoff and full jitter;
    // ingest adds its own loop on top for what the SDK cannot retry (cancelled transactions,
    // unprocessed keys).
    let retry = RetryConfig::standard()
        .with_max_attempts(5)
        .with_initial_backoff(Duration::from_millis(25))
        .with_max_backoff(Duration::from_secs(2));
    // A stalled connection must fail the attempt and be retried, not hold the invocation until the
    // Lambda timeout.
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(2))
        .operation_attempt_timeout(Duration::from_secs(10))
        .build();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .retry_config(retry)
        .timeout_config(timeouts);
    if let Some(url) = endpoint_url {
        loader = loader.endpoint_url(url);
    }
    let shared = loader.load().await;
    let dynamodb = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&shared)
            .interceptor(RoundTripCounter)
            .build(),
    );
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&shared)
            .interceptor(RoundTripCounter)
            .force_path_style(settings.s3_force_path_style)
            .build(),
    );
    Clients { dynamodb, s3 }
}
