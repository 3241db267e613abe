//! The `step` function: serves its HTTP route; all logic lives in the runledger library.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    runledger::entry::serve_step().await
}
