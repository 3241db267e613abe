//! runledger: workflow execution history on DynamoDB and S3.
//!
//! The function binaries are thin: each builds its clients once and hands events to this library.
//! One module owns each concept; docs/architecture.md maps them. The store (`store`) alone knows the
//! table and the bucket; `model` defines the records and their rules; `ingest` and `api` speak only
//! those.

pub mod api;
pub mod apikeys;
pub mod archive;
pub mod aws;
pub mod bodies;
pub mod config;
pub mod console;
pub mod cursor;
pub mod dates;
pub mod entry;
pub mod error;
pub mod export;
pub mod ingest;
pub mod metrics;
pub mod model;
pub mod params;
pub mod query;
pub mod retry;
pub mod scale;
pub mod search;
pub mod stats;
pub mod store;
pub mod streams;
pub mod telemetry;
