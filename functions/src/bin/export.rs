//! The `export` function: a project's records of a date range into S3 for a warehouse, on demand
//! and daily; all logic lives in the runledger library.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    runledger::entry::serve_export().await
}
