//! Limits and periods, each defined once.

/// Days a record lives after its `dateStarted`, unless `RETENTION_DAYS` says otherwise.
pub const DEFAULT_RETENTION_DAYS: i64 = 90;
/// Producers' clocks may run ahead; anything further in the future is a bug upstream.
pub const MAX_CLOCK_SKEW_HOURS: i64 = 24;
/// Events per ingest envelope.
pub const MAX_EVENTS: usize = 1000;
/// Identifiers and dimension values (the same bound a query applies).
pub const MAX_TEXT: usize = 256;
/// Ids of projects, executions and steps.
pub const MAX_ID: usize = 128;
/// `error.message`.
pub const MAX_MESSAGE: usize = 4096;
/// `error.message` as listings carry it; longer messages are cut there (get returns them whole).
pub const LISTING_MESSAGE: usize = 200;
/// Largest body accepted at ingest; a whole envelope must fit Lambda's 6 MB synchronous payload.
pub const MAX_BODY_BYTES: usize = 5 * 1024 * 1024;
/// A body larger than this (before compression) always goes to S3, however well it compresses, so a
/// response carrying at most three inline bodies stays far below Lambda's 6 MB response limit.
pub const MAX_INLINE_RAW_BYTES: usize = 256 * 1024;
/// Page size bounds of every listing.
pub const DEFAULT_LIMIT: u32 = 100;
pub const MAX_LIMIT: u32 = 1000;
/// Comma-list values of `integration`.
pub const MAX_INTEGRATIONS: usize = 10;
/// Steps a get-with-steps response carries; the rest are paged by the step-executions route.
pub const STEPS_IN_GET: usize = 100;
/// Steps one read orders by `dateStarted`: an execution with more is paged in step-id order.
pub const STEPS_ORDERED_MAX: usize = 1000;
/// Records the trace route returns (event logs and executions together); a larger trace comes back
/// `truncated`, its first records in time order.
pub const TRACE_MAX_ITEMS: usize = 1000;
/// An event-log payload larger than this goes to S3 however well it compresses: a page of 1,000
/// event logs with their payloads inline stays within Lambda's 6 MB response limit.
pub const MAX_LOG_INLINE_RAW_BYTES: usize = 4096;
