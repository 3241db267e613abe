//! The `archive` function: TTL deletions from the table's stream into S3; all logic lives in the
//! runledger library.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    runledger::entry::serve_archive().await
}
