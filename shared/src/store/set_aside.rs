//! Records a consumer could not take in, kept whole in S3 under `set-aside/{consumer}/{date}/` so
//! an operator can read them and replay them (`runledger set-aside`), while the consumer goes on.
//! A stream mapping only resumes from the lowest failed record and its failure destination gets
//! pointers, not records: without this, one bad record blocks its shard until the stream drops it.
//! Set-aside items are also what ingest keeps of SQS messages it rejected for good.

use super::backend::Backend;
use super::{Ledger, StoreError};
use std::future::Future;

/// What every set-aside object's key begins with.
pub(super) const OBJECT_PREFIX: &str = "set-aside/";

/// The consumer ingest sets aside SQS messages it rejected for good as.
pub const INGEST: &str = "ingest";
/// The consumer the stats function sets aside stream records it could not count as.
pub const STATS: &str = "stats";

/// Where one set-aside record lives.
pub fn object_key(consumer: &str, date: &str, id: &str) -> String {
    format!("{OBJECT_PREFIX}{consumer}/{date}/{id}.json")
}

pub trait SetAside: Sync {
    /// Keeps `bytes` (a record as delivered, with why it failed) as `id` of `consumer` on `date`;
    /// the same id again rewrites the same object. Answers the object key.
    fn set_aside(
        &self,
        consumer: &str,
        date: &str,
        id: &str,
        bytes: Vec<u8>,
    ) -> impl Future<Output = Result<String, StoreError>> + Send;
    /// A set-aside record by its object key; `None` when there is none (or the key is not one).
    fn set_aside_record(&self, key: &str) -> impl Future<Output = Result<Option<Vec<u8>>, StoreError>> + Send;
}

impl<B: Backend> SetAside for Ledger<B> {
    async fn set_aside(&self, consumer: &str, date: &str, id: &str, bytes: Vec<u8>) -> Result<String, StoreError> {
        let key = object_key(consumer, date, id);
        self.backend.put_object(&key, bytes).await?;
        Ok(key)
    }

    async fn set_aside_record(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        if !key.starts_with(OBJECT_PREFIX) {
            return Ok(None);
        }
        self.backend.get_object(key).await
    }
}
