//! Project API keys: `rl_{keyId}_{secret}`. The id is public and finds the key's item; only the
//! SHA-256 of the secret is stored, and a key is shown once, at creation.

use crate::keys;
use crate::store::items::{number_attr, string_attr};
use crate::store::Item;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

const PREFIX: &str = "rl_";

/// A key as stored: no secret.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyRecord {
    pub key_id: String,
    pub project_id: String,
    pub name: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
    #[serde(skip)]
    pub secret_hash: String,
}

/// A freshly minted key: the full token (shown once) and what gets stored.
pub struct NewKey {
    pub token: String,
    pub record: KeyRecord,
}

pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

pub fn mint(project: &str, name: &str, now_epoch: i64) -> NewKey {
    let mut id = [0u8; 6];
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut id);
    rand::rng().fill_bytes(&mut secret);
    let key_id = hex::encode(id);
    let secret = URL_SAFE_NO_PAD.encode(secret);
    NewKey {
        token: format!("{PREFIX}{key_id}_{secret}"),
        record: KeyRecord {
            key_id,
            project_id: project.to_string(),
            name: name.to_string(),
            created_at: now_epoch,
            revoked_at: None,
            secret_hash: hash_secret(&secret),
        },
    }
}

/// Splits a presented token into (key id, secret); `None` when it is not shaped like a key.
pub fn split(token: &str) -> Option<(&str, &str)> {
    let rest = token.strip_prefix(PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    let well_formed = id.len() == 12 && id.bytes().all(|b| b.is_ascii_hexdigit()) && (20..=100).contains(&secret.len());
    well_formed.then_some((id, secret))
}

/// Constant-time comparison of a presented secret with the stored hash.
pub fn secret_matches(secret: &str, stored_hash: &str) -> bool {
    hash_secret(secret).as_bytes().ct_eq(stored_hash.as_bytes()).into()
}

pub fn record_from_item(item: &Item) -> Option<KeyRecord> {
    Some(KeyRecord {
        key_id: string_attr(item, "keyId")?.to_string(),
        project_id: string_attr(item, "projectId")?.to_string(),
        name: string_attr(item, "name").unwrap_or("").to_string(),
        created_at: number_attr(item, "createdAt").unwrap_or(0),
        revoked_at: number_attr(item, "revokedAt"),
        secret_hash: string_attr(item, "secretHash")?.to_string(),
    })
}

fn record_item(pk: String, sk: String, r: &KeyRecord) -> Item {
    let s = |v: &str| AttributeValue::S(v.to_string());
    Item::from([
        (keys::PK.to_string(), AttributeValue::S(pk)),
        (keys::SK.to_string(), AttributeValue::S(sk)),
        ("keyId".to_string(), s(&r.key_id)),
        ("projectId".to_string(), s(&r.project_id)),
        ("name".to_string(), s(&r.name)),
        ("createdAt".to_string(), AttributeValue::N(r.created_at.to_string())),
        ("secretHash".to_string(), s(&r.secret_hash)),
    ])
}

#[derive(Debug, thiserror::Error)]
pub enum KeyAdminError {
    #[error("no key with id {0}")]
    NotFound(String),
    #[error("{0}")]
    Store(String),
}

fn store_err(e: impl std::fmt::Display) -> KeyAdminError {
    KeyAdminError::Store(e.to_string())
}

/// Key administration for the command-line tool.
pub struct KeyAdmin<'a> {
    pub dynamodb: &'a aws_sdk_dynamodb::Client,
    pub table: &'a str,
}

impl KeyAdmin<'_> {
    /// Stores the lookup item and the project listing item together.
    pub async fn create(&self, project: &str, name: &str, now_epoch: i64) -> Result<NewKey, KeyAdminError> {
        let key = mint(project, name, now_epoch);
        let r = &key.record;
        let put = |item: Item| -> Result<TransactWriteItem, KeyAdminError> {
            let p = Put::builder()
                .table_name(self.table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .map_err(store_err)?;
            Ok(TransactWriteItem::builder().put(p).build())
        };
        self.dynamodb
            .transact_write_items()
            .transact_items(put(record_item(
                keys::api_key_pk(&r.key_id),
                keys::API_KEY_SK.into(),
                r,
            ))?)
            .transact_items(put(record_item(
                keys::project_keys_pk(project),
                keys::project_key_sk(&r.key_id),
                r,
            ))?)
            .send()
            .await
            .map_err(store_err)?;
        Ok(key)
    }

    pub async fn get(&self, key_id: &str) -> Result<KeyRecord, KeyAdminError> {
        let out = self
            .dynamodb
            .get_item()
            .table_name(self.table)
            .key(keys::PK, AttributeValue::S(keys::api_key_pk(key_id)))
            .key(keys::SK, AttributeValue::S(keys::API_KEY_SK.into()))
            .consistent_read(true)
            .send()
            .await
            .map_err(store_err)?;
        out.item
            .as_ref()
            .and_then(record_from_item)
            .ok_or_else(|| KeyAdminError::NotFound(key_id.into()))
    }

    pub async fn list(&self, project: &str) -> Result<Vec<KeyRecord>, KeyAdminError> {
        let items = self
            .dynamodb
            .query()
            .table_name(self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", AttributeValue::S(keys::project_keys_pk(project)))
            .expression_attribute_values(":prefix", AttributeValue::S(keys::PROJECT_KEY_SK_PREFIX.into()))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(store_err)?;
        Ok(items.iter().filter_map(record_from_item).collect())
    }

    /// Marks both items revoked; a revoked key is refused from then on (within the 60 s cache).
    pub async fn revoke(&self, key_id: &str, now_epoch: i64) -> Result<KeyRecord, KeyAdminError> {
        let record = self.get(key_id).await?;
        let update = |pk: String, sk: String| -> Result<TransactWriteItem, KeyAdminError> {
            let u = Update::builder()
                .table_name(self.table)
                .key(keys::PK, AttributeValue::S(pk))
                .key(keys::SK, AttributeValue::S(sk))
                .update_expression("SET revokedAt = if_not_exists(revokedAt, :now)")
                .condition_expression("attribute_exists(pk)")
                .expression_attribute_values(":now", AttributeValue::N(now_epoch.to_string()))
                .build()
                .map_err(store_err)?;
            Ok(TransactWriteItem::builder().update(u).build())
        };
        self.dynamodb
            .transact_write_items()
            .transact_items(update(keys::api_key_pk(key_id), keys::API_KEY_SK.into())?)
            .transact_items(update(
                keys::project_keys_pk(&record.project_id),
                keys::project_key_sk(key_id),
            )?)
            .send()
            .await
            .map_err(store_err)?;
        self.get(key_id).await
    }

    /// A new key for the same project and name; the old one is revoked.
    pub async fn rotate(&self, key_id: &str, now_epoch: i64) -> Result<NewKey, KeyAdminError> {
        let old = self.get(key_id).await?;
        let new = self.create(&old.project_id, &old.name, now_epoch).await?;
        self.revoke(key_id, now_epoch).await?;
        Ok(new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_keys_split_and_verify_against_their_hash_only() {
        let k = mint("p1", "ci", 0);
        let (id, secret) = split(&k.token).unwrap();
        assert_eq!(id, k.record.key_id);
        assert!(secret_matches(secret, &k.record.secret_hash));
        assert!(!k.token.contains(&k.record.secret_hash));
        assert!(!secret_matches("not-the-secret-at-all-000", &k.record.secret_hash));
    }

    #[test]
    fn malformed_tokens_do_not_split() {
        for bad in [
            "",
            "rl_",
            "rl_zz_secret",
            "Bearer x",
            "rl_0123456789ab_short",
            "xx_0123456789ab_aaaaaaaaaaaaaaaaaaaaaaaa",
        ] {
            assert!(split(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn two_keys_differ() {
        assert_ne!(mint("p", "a", 0).token, mint("p", "a", 0).token);
    }
}
