//! Typed reads: what a listing asks for and what comes back. The store plans and runs them; the API
//! builds them from parameters and signs positions into cursors.

use crate::model::{Field, Level, LogField, Status};
use crate::search::Keywords;
use chrono::{DateTime, Utc};

/// What every listing has besides its filters: whose records, the range, order, page size, clock
/// and keyword search.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Window {
    pub project: String,
    /// `after <= t < before`, on `dateStarted` (executions) or `timestamp` (event logs).
    pub after: Option<DateTime<Utc>>,
    pub before: Option<DateTime<Utc>>,
    pub ascending: bool,
    pub limit: usize,
    /// The clock of the request: records past their retention are never returned.
    pub now: DateTime<Utc>,
    /// Keyword search: over an execution's bodies and those of its steps, or over an event log's
    /// payload, message and error.
    pub search: Option<Keywords>,
}

/// A filtered, ordered listing of one project's executions.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ListQuery {
    pub window: Window,
    /// Exact-match dimension filters: a record matches when its value is one of the given ones.
    pub dimensions: Vec<(Field, Vec<String>)>,
    /// Any of these statuses; empty means every status.
    pub statuses: Vec<Status>,
}

impl AsRef<Window> for ListQuery {
    fn as_ref(&self) -> &Window {
        &self.window
    }
}

/// A filtered, ordered listing of one project's event logs, on `timestamp`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LogQuery {
    pub window: Window,
    /// Exact-match filters on `endUserId`, `integrationId`, `workflowId`, `traceId`.
    pub dimensions: Vec<(LogField, Vec<String>)>,
    /// Any of these levels; empty means every level.
    pub levels: Vec<Level>,
    /// Any of these types; empty means every type.
    pub types: Vec<String>,
}

impl AsRef<Window> for LogQuery {
    fn as_ref(&self) -> &Window {
        &self.window
    }
}

/// Where a read stopped: opaque outside the store, which alone knows what it holds. The API signs
/// it into a cursor together with the project and the filters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Position(pub String);

/// One page of a read.
#[derive(Clone, Debug, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Resume here for the rest; `None` when everything was returned.
    pub next: Option<Position>,
    /// The read budget ended before the page was full.
    pub partial: bool,
    /// How far reading got in the listing's order: everything up to this instant has been examined.
    pub reached: Option<DateTime<Utc>>,
}

/// How much one request may read: items examined (matches and those a filter dropped alike).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadBudget {
    pub items: u64,
}

/// A number of matches; `exact` is false when the budget ended first and `total` is a lower bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Count {
    pub total: u64,
    pub exact: bool,
}
