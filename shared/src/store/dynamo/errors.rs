//! How DynamoDB and S3 failures become store errors: throttling, worth retrying, or permanent.

use super::super::StoreError;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

const THROTTLING_CODES: [&str; 3] = [
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
];

const RETRYABLE_CODES: [&str; 4] = [
    "InternalServerError",
    "InternalFailure",
    "ServiceUnavailable",
    "TransactionInProgressException",
];

/// Sorts SDK failures into retryable and permanent ones.
pub fn classify<E: ProvideErrorMetadata + std::fmt::Debug, R: std::fmt::Debug>(err: SdkError<E, R>) -> StoreError {
    match &err {
        SdkError::ServiceError(se) => {
            let code = se.err().code().unwrap_or("Unknown").to_string();
            if THROTTLING_CODES.contains(&code.as_str()) {
                StoreError::Throttled(code)
            } else if RETRYABLE_CODES.contains(&code.as_str()) {
                StoreError::Transient(code)
            } else {
                StoreError::Permanent(format!("{code}: {}", se.err().message().unwrap_or("")))
            }
        }
        SdkError::ConstructionFailure(_) => StoreError::Permanent(format!("{err:?}")),
        _ => StoreError::Transient(format!("{err}")),
    }
}

/// Sorts S3 failures: a 4xx other than 429 is permanent (retrying sends the same request), the rest
/// is worth retrying.
pub(super) fn s3_error<E>(err: SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> StoreError
where
    E: std::error::Error + 'static,
{
    match &err {
        SdkError::ServiceError(se) if se.raw().status().as_u16() < 500 && se.raw().status().as_u16() != 429 => {
            StoreError::Permanent(format!("s3: {}", se.err()))
        }
        _ => StoreError::Transient(format!("s3: {err}")),
    }
}
