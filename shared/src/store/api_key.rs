//! API-key items: a lookup entry by key id (`KEY#{keyId}` / `KEY`) and a listing entry in the
//! project's partition (`PROJECT#{projectId}` / `KEY#{keyId}`), written and revoked together.

use super::backend::Backend;
use super::table::{n, number_attr, s, string_attr, Item, PK, SK};
use super::{AdminKeys, Ledger, ReadKeys, StoreError};
use crate::model::api_key::KeyRecord;

#[derive(Debug, thiserror::Error)]
pub enum KeyAdminError {
    #[error("no key with id {0}")]
    NotFound(String),
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// What a key's lookup entry's partition key begins with.
pub(super) const KEY_PREFIX: &str = "KEY#";
/// What a project's key listing partition key begins with.
pub(super) const PROJECT_PREFIX: &str = "PROJECT#";

pub fn api_key_pk(key_id: &str) -> String {
    format!("{KEY_PREFIX}{key_id}")
}

pub const API_KEY_SK: &str = "KEY";

pub fn project_keys_pk(project: &str) -> String {
    format!("{PROJECT_PREFIX}{project}")
}

pub fn project_key_sk(key_id: &str) -> String {
    format!("{PROJECT_KEY_SK_PREFIX}{key_id}")
}

pub const PROJECT_KEY_SK_PREFIX: &str = "KEY#";

pub fn key_record(item: &Item) -> Option<KeyRecord> {
    Some(KeyRecord {
        key_id: string_attr(item, "keyId")?.to_string(),
        project_id: string_attr(item, "projectId")?.to_string(),
        name: string_attr(item, "name").unwrap_or("").to_string(),
        created_at: number_attr(item, "createdAt").unwrap_or(0),
        revoked_at: number_attr(item, REVOKED_AT),
        secret_hash: string_attr(item, "secretHash")?.to_string(),
    })
}

pub const REVOKED_AT: &str = "revokedAt";

/// The lookup entry and the project listing entry of a key.
pub fn key_items(r: &KeyRecord) -> [Item; 2] {
    let item = |pk: String, sk: String| {
        Item::from([
            (PK.to_string(), s(pk)),
            (SK.to_string(), s(sk)),
            ("keyId".to_string(), s(&r.key_id)),
            ("projectId".to_string(), s(&r.project_id)),
            ("name".to_string(), s(&r.name)),
            ("createdAt".to_string(), n(r.created_at)),
            ("secretHash".to_string(), s(&r.secret_hash)),
        ])
    };
    [
        item(api_key_pk(&r.key_id), API_KEY_SK.into()),
        item(project_keys_pk(&r.project_id), project_key_sk(&r.key_id)),
    ]
}

pub fn key_lookup(key_id: &str) -> (String, String) {
    (api_key_pk(key_id), API_KEY_SK.into())
}

pub fn key_entries(r: &KeyRecord) -> [(String, String); 2] {
    [
        key_lookup(&r.key_id),
        (project_keys_pk(&r.project_id), project_key_sk(&r.key_id)),
    ]
}

pub fn project_keys(project: &str) -> (String, &'static str) {
    (project_keys_pk(project), PROJECT_KEY_SK_PREFIX)
}

/// The key of an item that never exists (an API-key lookup of an id no key has): what the
/// minimal function `make bench` compares cold starts against reads, without knowing key formats.
pub fn absent_item_key() -> std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue> {
    let (pk, sk) = key_lookup("000000000000");
    std::collections::HashMap::from([
        (PK.to_string(), aws_sdk_dynamodb::types::AttributeValue::S(pk)),
        (SK.to_string(), aws_sdk_dynamodb::types::AttributeValue::S(sk)),
    ])
}

impl<B: Backend> Ledger<B> {
    async fn key_record(&self, key_id: &str, consistent: bool) -> Result<Option<KeyRecord>, StoreError> {
        let (pk, sk) = key_lookup(key_id);
        let item = self.backend.get_item(&pk, &sk, consistent).await?;
        Ok(item.as_ref().and_then(key_record))
    }
}

impl<B: Backend> ReadKeys for Ledger<B> {
    async fn api_key(&self, key_id: &str) -> Result<Option<KeyRecord>, StoreError> {
        self.key_record(key_id, false).await
    }
}

impl<B: Backend> AdminKeys for Ledger<B> {
    async fn create_key(&self, record: &KeyRecord) -> Result<(), StoreError> {
        self.backend.put_all_new(&key_items(record)).await
    }

    async fn key(&self, key_id: &str) -> Result<Option<KeyRecord>, StoreError> {
        // The CLI reads its own writes.
        self.key_record(key_id, true).await
    }

    async fn project_keys(&self, project: &str) -> Result<Vec<KeyRecord>, StoreError> {
        let (pk, prefix) = project_keys(project);
        let found = self.backend.query_prefix(&pk, prefix).await?;
        Ok(found.iter().filter_map(key_record).collect())
    }

    async fn revoke_key(&self, record: &KeyRecord, now_epoch: i64) -> Result<(), StoreError> {
        self.backend.set_once(&key_entries(record), REVOKED_AT, now_epoch).await
    }
}
