//! The `ingest` function: direct invocations and SQS batches; all logic lives in the runledger library.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    runledger::entry::serve_ingest().await
}
