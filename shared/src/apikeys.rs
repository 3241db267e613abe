//! Project API keys: `rl_{keyId}_{secret}`. The id is public and finds the key's item; only the
//! SHA-256 of the secret is stored, and a key is shown once, at creation.

pub use crate::model::api_key::KeyRecord;
use crate::store::{AdminKeys, KeyAdminError};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub const PREFIX: &str = "rl_";

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

/// Key administration for the command-line tool.
pub struct KeyAdmin<'a, S> {
    pub store: &'a S,
}

impl<S: AdminKeys> KeyAdmin<'_, S> {
    pub async fn create(&self, project: &str, name: &str, now_epoch: i64) -> Result<NewKey, KeyAdminError> {
        let key = mint(project, name, now_epoch);
        self.store.create_key(&key.record).await?;
        Ok(key)
    }

    pub async fn get(&self, key_id: &str) -> Result<KeyRecord, KeyAdminError> {
        self.store
            .key(key_id)
            .await?
            .ok_or_else(|| KeyAdminError::NotFound(key_id.into()))
    }

    pub async fn list(&self, project: &str) -> Result<Vec<KeyRecord>, KeyAdminError> {
        Ok(self.store.project_keys(project).await?)
    }

    /// Marks the key revoked; it is refused from then on (within the 60 s cache).
    pub async fn revoke(&self, key_id: &str, now_epoch: i64) -> Result<KeyRecord, KeyAdminError> {
        let record = self.get(key_id).await?;
        self.store.revoke_key(&record, now_epoch).await?;
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
