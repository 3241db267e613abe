//! The `stats` function: the table's stream into the counters behind exact totals and the stats
//! route; all logic lives in the runledger library.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    runledger::entry::serve_stats().await
}
