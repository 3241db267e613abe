//! What the store needs of a table and a bucket, in their own terms (items, key strings). DynamoDB
//! with S3 and the in-memory tables implement it; `Ledger` builds every domain operation on it.

use super::index::ListIndex;
use super::table;
use super::table::Item;
use super::StoreError;
use aws_sdk_dynamodb::types::AttributeValue;
use std::future::Future;

/// One Query over one listing partition (of an index, or of the table for event logs), bounded by
/// listing sort keys (both inclusive).
#[derive(Clone, Debug)]
pub struct IndexQuery {
    pub index: ListIndex,
    pub partition: String,
    pub from: String,
    pub to: String,
    pub ascending: bool,
    /// Items to examine (before the filter), as DynamoDB's `Limit`.
    pub limit: u32,
    /// Residual filters: (attribute, any of these values).
    pub filters: Vec<(&'static str, Vec<String>)>,
    /// `LastEvaluatedKey` of the previous page of this partition.
    pub start: Option<Item>,
}

#[derive(Clone, Debug, Default)]
pub struct IndexPage {
    /// Matching items (after the filter).
    pub items: Vec<Item>,
    /// Where examining stopped when more may follow.
    pub last: Option<Item>,
    /// Items examined.
    pub scanned: u64,
}

/// A Query over one item collection (`pk`), sort keys between `from` and `to` inclusive.
#[derive(Clone, Debug)]
pub struct CollectionQuery {
    pub pk: String,
    pub from: String,
    pub to: String,
    pub limit: u32,
    /// A strongly consistent read (twice the read units).
    pub consistent: bool,
}

/// A put guarded by the version that was read (`None`: the item must not exist yet). The item
/// carries a token of this one write: when the answer to a put that succeeded is lost and the SDK
/// sends it again, the retry fails its condition on the put's own result, and the token tells that
/// apart from another writer's item.
#[derive(Clone, Debug)]
pub struct GuardedPut {
    pub item: Item,
    pub expected_version: Option<u64>,
}

impl GuardedPut {
    pub fn new(mut item: Item, expected_version: Option<u64>) -> Self {
        item.insert(table::WRITE_TOKEN.to_string(), table::write_token());
        GuardedPut { item, expected_version }
    }

    /// Whether `current`, the item found where the condition failed, is this put's own result.
    pub fn landed(&self, current: &Item) -> bool {
        let token = self.item.get(table::WRITE_TOKEN);
        token.is_some() && current.get(table::WRITE_TOKEN) == token
    }
}

/// Additions to a counter item's numbers, taken in only when the item's `mark` (one stream
/// shard's last sequence number taken in, as text in which text order is numeric order, and when)
/// is absent or before `first`; then `mark` becomes `last`. Marks in `prune` are removed, each only
/// while it holds the value given. Creates the item when missing, unless there are marks to prune.
#[derive(Clone, Debug)]
pub struct CounterUpdate {
    pub pk: String,
    pub sk: String,
    pub adds: Vec<(String, i64)>,
    /// The stream shard's mark attribute; empty for an addition no stream position guards.
    pub mark: String,
    pub first: String,
    pub last: String,
    /// Expired marks of other shards and the values they were seen with.
    pub prune: Vec<(String, String)>,
    pub expires_at: i64,
}

/// Sets a number attribute of one item to `value` unless it already holds as much or more; the
/// item's other attributes are left as they are, and `also` set with it. `create`: make the item
/// when it does not exist (with the key, the attribute and `also`); otherwise only an existing item
/// changes. One conditional UpdateItem.
#[derive(Clone, Debug)]
pub struct LaterUpdate {
    pub pk: String,
    pub sk: String,
    pub attribute: &'static str,
    pub value: i64,
    pub also: Vec<(&'static str, AttributeValue)>,
    pub create: bool,
}

/// What a read of one object found. S3 answers a missing key with 403 AccessDenied instead of 404
/// NoSuchKey when the caller may not list the bucket, so the two are told apart here and the
/// caller decides what a denial means.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ObjectRead {
    Found(Vec<u8>),
    NoSuchKey,
    AccessDenied,
}

pub trait Backend: Sync {
    fn query_index(&self, q: &IndexQuery) -> impl Future<Output = Result<IndexPage, StoreError>> + Send;
    /// Like `query_index` with `Select COUNT`: `items` stays empty, the count is returned.
    fn count_index(&self, q: &IndexQuery) -> impl Future<Output = Result<(u64, IndexPage), StoreError>> + Send;
    /// Items in sort-key order; the flag says whether the collection has more beyond them.
    fn query_collection(
        &self,
        q: &CollectionQuery,
    ) -> impl Future<Output = Result<(Vec<Item>, bool), StoreError>> + Send;
    fn get_item(
        &self,
        pk: &str,
        sk: &str,
        consistent: bool,
    ) -> impl Future<Output = Result<Option<Item>, StoreError>> + Send;
    fn batch_get(
        &self,
        keys: &[(String, String)],
        consistent: bool,
    ) -> impl Future<Output = Result<Vec<Item>, StoreError>> + Send;
    fn guarded_put(&self, put: &GuardedPut) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Puts an item whatever is there (for idempotent markers).
    fn put_plain(&self, item: &Item) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Puts every item, each only if it does not exist yet, all or none.
    fn put_all_new(&self, items: &[Item]) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Sets `attribute` on each existing item unless it is already set, all or none.
    fn set_once(
        &self,
        keys: &[(String, String)],
        attribute: &'static str,
        value: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Items of a collection whose sort key begins with `prefix`.
    fn query_prefix(&self, pk: &str, prefix: &str) -> impl Future<Output = Result<Vec<Item>, StoreError>> + Send;
    /// Applies a counter update; `Conflict` when the mark says part of it was taken in already, or
    /// a mark to prune holds another value. Returns the item as it is after the update.
    fn add_to_counter(&self, update: &CounterUpdate) -> impl Future<Output = Result<Item, StoreError>> + Send;
    /// Sets an attribute to a later value (`LaterUpdate`); `false` when the item already held as
    /// much or more, or (without `create`) does not exist.
    fn set_later(&self, update: &LaterUpdate) -> impl Future<Output = Result<bool, StoreError>> + Send;
    fn put_object(&self, key: &str, bytes: Vec<u8>) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// An object's bytes, or why there are none.
    fn read_object(&self, key: &str) -> impl Future<Output = Result<ObjectRead, StoreError>> + Send;
    /// The keys of every object under `prefix`, in key order.
    fn list_objects(&self, prefix: &str) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;
    /// Deletes an object; deleting one that does not exist succeeds.
    fn delete_object(&self, key: &str) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// An object's bytes; `None` when it does not exist (a denied read is a failure here).
    fn get_object(&self, key: &str) -> impl Future<Output = Result<Option<Vec<u8>>, StoreError>> + Send
    where
        Self: Sync,
    {
        async move {
            match self.read_object(key).await? {
                ObjectRead::Found(bytes) => Ok(Some(bytes)),
                ObjectRead::NoSuchKey => Ok(None),
                ObjectRead::AccessDenied => Err(StoreError::Permanent(format!("s3: AccessDenied reading {key}"))),
            }
        }
    }
    fn presign(&self, key: &str) -> impl Future<Output = Result<String, StoreError>> + Send;
    /// The time counter marks are stamped with and aged by: the host's clock (the in-memory
    /// backend's can be moved, for tests of marks that expire).
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now()
    }
}
