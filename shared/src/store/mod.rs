//! Ports the handlers depend on, and their DynamoDB/S3 adapter. Each handler takes only the trait
//! it needs, so a function's IAM permissions mirror its trait.

pub mod dynamo;
pub mod items;

use crate::keys::ListIndex;
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;
use std::future::Future;

pub type Item = HashMap<String, AttributeValue>;

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
}

impl StoreError {
    pub fn is_retryable(&self) -> bool {
        !matches!(self, StoreError::Permanent(_))
    }
}

/// A residual filter: attribute name and the values it may take.
pub type AttributeFilter = (&'static str, Vec<String>);

/// One Query over one listing partition, bounded by listing sort keys (both inclusive).
#[derive(Clone, Debug)]
pub struct PartitionQuery {
    pub index: ListIndex,
    pub partition: String,
    pub from: String,
    pub to: String,
    pub ascending: bool,
    pub limit: i32,
    pub filters: Vec<AttributeFilter>,
    pub start: Option<Item>,
}

#[derive(Clone, Debug, Default)]
pub struct PartitionPage {
    pub items: Vec<Item>,
    /// `LastEvaluatedKey`: the partition has more beyond this page.
    pub next: Option<Item>,
}

pub trait ListingReads: Sync {
    fn query_partition(&self, q: &PartitionQuery) -> impl Future<Output = Result<PartitionPage, StoreError>> + Send;
    /// Number of matching items in the partition range (`Select COUNT`, paged internally).
    fn count_partition(&self, q: &PartitionQuery) -> impl Future<Output = Result<u64, StoreError>> + Send;
}

pub trait CollectionReads: Sync {
    /// The summary, execution bodies and step summaries of one execution, in one Query.
    fn execution_collection(
        &self,
        project: &str,
        execution_id: &str,
    ) -> impl Future<Output = Result<Vec<Item>, StoreError>> + Send;
    /// A step summary and its body items: a GetItem and a Query, made concurrently.
    fn step_items(
        &self,
        project: &str,
        execution_id: &str,
        step_id: &str,
    ) -> impl Future<Output = Result<Vec<Item>, StoreError>> + Send;
}

pub trait KeyReads: Sync {
    fn api_key(&self, key_id: &str) -> impl Future<Output = Result<Option<Item>, StoreError>> + Send;
}

pub trait BodyLinks: Sync {
    fn presign(&self, object_key: &str) -> impl Future<Output = Result<String, StoreError>> + Send;
}

/// A put guarded by the version that was read (`None`: the item must not exist yet).
#[derive(Clone, Debug)]
pub struct GuardedPut {
    pub item: Item,
    pub expected_version: Option<u64>,
}

pub trait IngestWrites: Sync {
    /// Reads items by (pk, sk); missing items are simply absent from the result.
    fn batch_get(&self, keys: &[(String, String)]) -> impl Future<Output = Result<Vec<Item>, StoreError>> + Send;
    /// Unconditional puts of immutable items (content-addressed bodies), batched.
    fn batch_put(&self, items: &[Item]) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// One put guarded by the version that was read.
    fn guarded_put(&self, put: &GuardedPut) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn put_object(&self, key: &str, bytes: Vec<u8>) -> impl Future<Output = Result<(), StoreError>> + Send;
}
