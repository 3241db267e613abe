//! SDK clients, built once per cold start from the standard AWS environment
//! (`AWS_ENDPOINT_URL`, `AWS_REGION`, credentials): the same code runs on the emulator and on AWS.

use crate::config::{ConfigError, Settings};
use crate::cursor::CursorKey;
use crate::metrics::Metrics;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::BehaviorVersion;
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct Clients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub s3: aws_sdk_s3::Client,
    /// Both clients count their round trips here.
    pub metrics: Arc<Metrics>,
}

pub async fn clients(settings: &Settings) -> Clients {
    clients_for(settings, None).await
}

/// As `clients`, with an explicit endpoint in place of the environment's (tests route calls
/// through a fault-injecting proxy this way).
pub async fn clients_for(settings: &Settings, endpoint_url: Option<&str>) -> Clients {
    let shared = sdk_config(endpoint_url).await;
    let metrics = Arc::new(Metrics::default());
    let dynamodb = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&shared)
            .interceptor(metrics.counter())
            .build(),
    );
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&shared)
            .interceptor(metrics.counter())
            .force_path_style(settings.s3_force_path_style)
            .build(),
    );
    Clients { dynamodb, s3, metrics }
}

/// The cursor keys kept in Secrets Manager under `arn`, read once at init. The secret is
/// `{"keys": [{"id", "secret"}, ...]}` (first signs, all verify) or one `{"id", "secret"}`.
pub async fn cursor_keys(arn: &str) -> Result<Vec<CursorKey>, ConfigError> {
    let client = aws_sdk_secretsmanager::Client::new(&sdk_config(None).await);
    let out = client.get_secret_value().secret_id(arn).send().await.map_err(|e| {
        ConfigError(format!(
            "reading the cursor keys: {}",
            aws_sdk_secretsmanager::error::DisplayErrorContext(e)
        ))
    })?;
    crate::config::parse_key_ring(out.secret_string().unwrap_or(""))
}

/// The shared SDK configuration: lean HTTPS client, retries, timeouts, the standard environment.
pub async fn sdk_config(endpoint_url: Option<&str>) -> aws_config::SdkConfig {
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
    loader.load().await
}
