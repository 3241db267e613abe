//! The `console` function: the web console's page and assets at `/console`; all logic lives in the
//! runledger library.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    runledger::entry::serve_console().await
}
