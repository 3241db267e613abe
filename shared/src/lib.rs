//! runledger: workflow execution history on DynamoDB and S3.
//!
//! The function binaries are thin: each builds its clients once and hands events to this library.
//! One module owns each concept: key formats (`keys`), the HTTP error model (`error`), request
//! parameters (`params`), cursors (`cursor`), bodies (`bodies`), the merge rule (`merge`).

pub mod api;
pub mod apikeys;
pub mod aws;
pub mod bodies;
pub mod capacity;
pub mod config;
pub mod cursor;
pub mod dates;
pub mod entry;
pub mod error;
pub mod ingest;
pub mod keys;
pub mod merge;
pub mod metrics;
pub mod model;
pub mod params;
pub mod retry;
pub mod store;
pub mod telemetry;
