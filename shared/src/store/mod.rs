//! The store: the only module that knows the table and the bucket (keys, index and attribute names,
//! expressions, `AttributeValue`, object keys). It speaks the domain to the rest: typed queries and
//! records in, typed records and positions out.
//!
//! Capabilities are small traits, so each function takes only those it uses and its IAM policy in
//! infra/template.yaml says the same: `capabilities` lists, as data, every DynamoDB and S3 action
//! each trait's methods need and which capabilities each function holds, and a test checks each
//! function's policy against it.
//!
//! A body read that S3 answers with 403 AccessDenied counts as a missing body (`ArchiveRecords`,
//! `ExportRecords`): that is S3's answer for a missing key to a role without s3:ListBucket, and the
//! template grants it on `bodies/` only where it can name the bucket.
//!
//! One implementation, `Ledger`, runs over a backend: DynamoDB and S3 (`dynamo`) or memory
//! (`memory`, for fast handler tests).

mod api_key;
mod backend;
mod body;
pub mod capabilities;
pub mod capacity;
mod counter;
pub mod dynamo;
mod event_log;
mod execution;
mod exports;
mod index;
mod ledger;
mod listing;
mod matching;
pub mod memory;
mod project_day;
mod record_error;
pub mod scale;
pub mod set_aside;
mod shard_layout;
mod step;
mod stream;
mod table;
mod tokens;
mod ttl;

pub use api_key::absent_item_key;
pub use api_key::KeyAdminError;
pub use body::BodyLocation;
pub use counter::value_bytes_max;
pub use counter::CountsWritten;
pub use event_log::{LogRecord, LogWrite};
pub use execution::ids_problem;
pub use execution::{ExecutionRecord, Loaded, RecordBodies, StoredUnit, UnitCommit, UnitKey};
pub use exports::export_object_key;
pub use exports::{Archived, ArchivedRecord};
pub use ledger::{Ledger, StoreConfig};
pub use project_day::{day_partition, day_partitions, day_register_key, day_shard, ProjectDay, DAY_SHARDS};
pub use set_aside::SetAside;
pub use shard_layout::{Epoch, ShardChangeError, ShardLayout, LEAD_MS, MAX_SHARDS};
pub use step::{StepRecord, StepsQuery};
pub use stream::counted_record;
pub use tokens::{StoredTokens, TokensCommit};
pub use ttl::Expired;

use crate::bodies::Body;
use crate::model::api_key::KeyRecord;
use crate::model::counts::{BatchChanges, CounterRow, CounterSelection, Family, Interval};
use crate::model::{EventLog, ExecutionSummary, StepSummary};
use crate::query::{Count, ListQuery, LogQuery, Page, Position, ReadBudget};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::future::Future;

pub type DynamoStore = Ledger<dynamo::Dynamo>;
pub type MemoryStore = Ledger<memory::Memory>;
/// The DynamoDB store with every call billed by item size (`make bench`).
pub type MeteredStore = Ledger<capacity::Metered<dynamo::Dynamo>>;

#[derive(Clone, Debug, thiserror::Error)]
pub enum StoreError {
    /// A conditional write lost a race; re-read and merge again.
    #[error("a concurrent write changed the item")]
    Conflict,
    /// DynamoDB refused for capacity even after the SDK's retries.
    #[error("throttled: {0}")]
    Throttled(String),
    /// 5xx, timeouts, dropped connections: worth retrying.
    #[error("transient store error: {0}")]
    Transient(String),
    #[error("store error: {0}")]
    Permanent(String),
    /// The request would read more than one request may; narrowing it helps, retrying does not.
    #[error("{0}")]
    TooLarge(String),
}

impl StoreError {
    pub fn is_retryable(&self) -> bool {
        !matches!(self, StoreError::Permanent(_) | StoreError::TooLarge(_))
    }
}

/// Everything of one trace, each family in time order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TraceRecord {
    pub executions: Vec<ExecutionSummary>,
    pub logs: Vec<LogRecord>,
    /// More than `TRACE_MAX_ITEMS` records: the first ones in time order are here.
    pub truncated: bool,
}

pub trait ListLogs: Sync {
    /// One page of matching event logs (whole, bodies included), read within `budget`.
    fn list_logs(
        &self,
        query: &LogQuery,
        resume: Option<&Position>,
        budget: ReadBudget,
    ) -> impl Future<Output = Result<Page<LogRecord>, StoreError>> + Send;
    fn count_logs(
        &self,
        query: &LogQuery,
        budget: ReadBudget,
    ) -> impl Future<Output = Result<Count, StoreError>> + Send;
}

pub trait ReadTrace: Sync {
    /// The executions and event logs of a trace, in one Query while it fits one response page.
    fn trace(
        &self,
        project: &str,
        trace: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<TraceRecord, StoreError>> + Send;
}

pub trait ArchiveRecords: Sync {
    /// The record a deleted item held, from its stream image (DynamoDB JSON), with its bodies read
    /// (offloaded ones from S3); `None` for items that are not records.
    fn archived(&self, image: &serde_json::Value) -> impl Future<Output = Result<Option<Archived>, StoreError>> + Send;
    /// Writes one archive object of a project and day; `part` names it within the day.
    fn put_archive(
        &self,
        project: &str,
        date: &str,
        part: &str,
        bytes: Vec<u8>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

pub trait ExportRecords: Sync {
    /// Every record of an execution, whole (the summary, then its steps), bodies read.
    fn execution_records(
        &self,
        project: &str,
        execution: &str,
        now_epoch: i64,
    ) -> impl Future<Output = Result<Vec<Archived>, StoreError>> + Send;
    /// An event log whole, its payload and error details read.
    fn log_record(&self, log: &LogRecord) -> impl Future<Output = Result<Archived, StoreError>> + Send;
    /// Writes one export object of a project and day.
    fn put_export(
        &self,
        project: &str,
        date: &str,
        name: &str,
        bytes: Vec<u8>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// One export object of a project and day; `None` when there is none.
    fn read_export(
        &self,
        project: &str,
        date: &str,
        name: &str,
    ) -> impl Future<Output = Result<Option<Vec<u8>>, StoreError>> + Send;
    /// The names of every export object of a project and day, in order.
    fn export_names(&self, project: &str, date: &str) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;
    /// Deletes one export object of a project and day (one that is gone already is no failure).
    fn delete_export(
        &self,
        project: &str,
        date: &str,
        name: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// The register's entries for `date` (`YYYY-MM-DD`): every project that stored records dated
    /// on it, in project order; one Query of each of the day's partitions.
    fn project_days(&self, date: &str) -> impl Future<Output = Result<Vec<ProjectDay>, StoreError>> + Send;
    /// Notes that the scheduled export wrote a project's day (as `project_days` found it) with
    /// every change made before `at_ms` (epoch milliseconds); never moves the mark back.
    fn mark_exported(&self, day: &ProjectDay, at_ms: i64) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Days a record lives.
    fn retention_days(&self) -> i64;
}

/// The register of which projects have records on which day and when they last changed (what the
/// scheduled export reads).
pub trait NoteProjectDays: Sync {
    /// Notes that records of `project` dated `date` change until `until_ms` (epoch milliseconds,
    /// now or later: a lease that covers changes up to then without another note): one
    /// conditional UpdateItem that creates the entry and never moves `changedAt` back.
    fn note_project_day(
        &self,
        project: &str,
        date: &str,
        until_ms: i64,
        expires_at: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// The day (`YYYY-MM-DD` of `dateStarted`) of each stored execution among `(project,
    /// execution)`: where an export puts its steps. Executions not stored yet are left out.
    fn execution_days(
        &self,
        executions: &[(String, String)],
    ) -> impl Future<Output = Result<HashMap<(String, String), String>, StoreError>> + Send;
}

pub trait AppendLogs: Sync {
    /// Writes an offloaded event-log body; content addressed, so a retry rewrites the same object.
    fn put_log_body(&self, project: &str, body: &Body) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Stores an event log unless one with its id and timestamp is stored already (`false`).
    fn append_log(&self, log: &LogWrite) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

pub trait ListExecutions: Sync {
    /// One page of matches, read within `budget`, resuming after `resume`.
    fn list_executions(
        &self,
        query: &ListQuery,
        resume: Option<&Position>,
        budget: ReadBudget,
    ) -> impl Future<Output = Result<Page<ExecutionSummary>, StoreError>> + Send;
    /// The number of all matches, counted within `budget`.
    fn count_executions(
        &self,
        query: &ListQuery,
        budget: ReadBudget,
    ) -> impl Future<Output = Result<Count, StoreError>> + Send;
}

pub trait ReadExecution: Sync {
    /// The execution with its bodies and first `steps` steps, in one read; `None` when it does not
    /// exist or has expired.
    fn execution(
        &self,
        project: &str,
        execution: &str,
        steps: usize,
        now_epoch: i64,
    ) -> impl Future<Output = Result<Option<ExecutionRecord>, StoreError>> + Send;
    /// A page of an execution's steps; `None` when the execution does not exist.
    fn steps(&self, q: &StepsQuery<'_>) -> impl Future<Output = Result<Option<Page<StepSummary>>, StoreError>> + Send;
}

pub trait ReadStep: Sync {
    fn step(
        &self,
        project: &str,
        execution: &str,
        step: &str,
        now_epoch: i64,
    ) -> impl Future<Output = Result<Option<StepRecord>, StoreError>> + Send;
}

pub trait LinkBodies: Sync {
    /// A time-limited GET URL for an offloaded body.
    fn presign(&self, body: &BodyLocation<'_>) -> impl Future<Output = Result<String, StoreError>> + Send;
}

pub trait ReadKeys: Sync {
    fn api_key(&self, key_id: &str) -> impl Future<Output = Result<Option<KeyRecord>, StoreError>> + Send;
}

pub trait CommitUnits: Sync {
    /// The stored state of each unit that exists, and of the fingerprints of each execution in
    /// `tokens` (one read for both). `consistent`: a strongly consistent read, used after a lost
    /// race so the retry merges into what won.
    fn load_units(
        &self,
        keys: &[UnitKey],
        tokens: &[(String, String)],
        consistent: bool,
    ) -> impl Future<Output = Result<Loaded, StoreError>> + Send;
    /// Writes an execution's fingerprints, before the records whose tokens they add.
    fn commit_tokens(&self, tokens: &TokensCommit) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Writes an offloaded body; content addressed, so a retry rewrites the same object.
    fn put_body(&self, key: &UnitKey, body: &Body) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Writes the merged record: the commit point of its events.
    fn commit(&self, unit: &UnitCommit) -> impl Future<Output = Result<(), StoreError>> + Send;
}

pub trait AdminKeys: Sync {
    /// Stores a new key's lookup and listing entries together.
    fn create_key(&self, record: &KeyRecord) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn key(&self, key_id: &str) -> impl Future<Output = Result<Option<KeyRecord>, StoreError>> + Send;
    fn project_keys(&self, project: &str) -> impl Future<Output = Result<Vec<KeyRecord>, StoreError>> + Send;
    /// Marks both entries revoked (the first revocation time is kept).
    fn revoke_key(&self, record: &KeyRecord, now_epoch: i64) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// The operator's view of a project's listing shards (`runledger shards`).
pub trait AdminShards: Sync {
    fn shard_layout(&self, project: &str) -> impl Future<Output = Result<ShardLayout, StoreError>> + Send;
    /// Spreads the project's records dated from `LEAD_MS` after `now_ms` on over `shards`
    /// partitions per listing partition; records already stored stay where they are.
    fn set_shards(
        &self,
        project: &str,
        shards: u32,
        now_ms: i64,
    ) -> impl Future<Output = Result<ShardLayout, ShardChangeError>> + Send;
}

pub trait KeepStats: Sync {
    /// Takes in one stream batch's changes, read from `shard`. Each counter takes in only the
    /// changes past the last sequence number of that shard it has seen, so a batch delivered again,
    /// whole or in part, adds nothing twice.
    fn add_counts(
        &self,
        shard: &str,
        changes: &BatchChanges,
    ) -> impl Future<Output = Result<CountsWritten, StoreError>> + Send;
}

/// Everything ingest does to the store.
pub trait Ingests: CommitUnits + AppendLogs + NoteProjectDays + NoteWrites + SetAside {}
impl<T: CommitUnits + AppendLogs + NoteProjectDays + NoteWrites + SetAside> Ingests for T {}

pub trait NoteWrites: Sync {
    /// Adds `n` to the puts of `project`'s `family` records started in the hour of `started` (a
    /// negative `n` takes back puts that did not land). Made before the puts, so a total finds
    /// every stored change its counters have not taken in yet.
    fn note_writes(
        &self,
        project: &str,
        family: Family,
        started: DateTime<Utc>,
        n: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

pub trait ReadStats: Sync {
    /// The counters of a selection for intervals starting at `starts` (in order); counters that
    /// never counted anything are absent.
    fn counters(
        &self,
        selection: &CounterSelection,
        interval: Interval,
        starts: &[DateTime<Utc>],
        consistent: bool,
    ) -> impl Future<Output = Result<Vec<CounterRow>, StoreError>> + Send;
}
