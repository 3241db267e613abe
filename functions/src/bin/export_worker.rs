//! The `export_worker` function: one unit of the scheduled export (a project day) per SQS message;
//! all logic lives in the runledger library.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    runledger::entry::serve_export_worker().await
}
