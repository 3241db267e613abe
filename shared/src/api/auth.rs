//! Bearer API keys: 401 for a missing, malformed, unknown or revoked key; 403 for a valid key used on
//! another project. Verified keys are cached for a minute per function instance, so most requests
//! cost no key lookup; a revocation takes effect within that minute. Unknown key ids are remembered
//! for the same minute in a cache of their own, so invented keys never push a real key out.
//!
//! There is deliberately no limiter on lookups: any limit shared by callers lets invented keys deny
//! valid ones. An uncached key costs one eventually consistent GetItem of its own partition, once a
//! minute per instance; a flood's volume is bounded by API Gateway's throttling and the read
//! functions' reserved concurrency, which cannot take ingest's (infra/template.yaml).

use crate::apikeys;
use crate::error::ApiError;
use crate::store::ReadKeys;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const CACHE_TTL: Duration = Duration::from_secs(60);
/// Real keys kept per instance; past it, the key verified longest ago goes.
const CACHE_MAX: usize = 1024;
/// Unknown ids kept per instance; past it, they are all forgotten (each then costs a read again).
const UNKNOWN_MAX: usize = 4096;

/// (secret hash, project, when it was read).
type Verified = (String, String, Instant);

/// The keys one function instance has looked up, kept between its requests (in `Process`).
#[derive(Debug, Default)]
pub struct KeyCache {
    /// Keyed by key id.
    verified: Mutex<HashMap<String, Verified>>,
    /// Key ids found unknown or revoked, and when.
    unknown: Mutex<HashMap<String, Instant>>,
}

enum Cached {
    Key(String, String),
    Unknown,
}

impl KeyCache {
    fn cached(&self, key_id: &str) -> Option<Cached> {
        if let Ok(map) = self.verified.lock() {
            if let Some((hash, project, at)) = map.get(key_id) {
                if at.elapsed() < CACHE_TTL {
                    return Some(Cached::Key(hash.clone(), project.clone()));
                }
            }
        }
        let map = self.unknown.lock().ok()?;
        let at = map.get(key_id)?;
        (at.elapsed() < CACHE_TTL).then_some(Cached::Unknown)
    }

    fn remember(&self, key_id: &str, hash: &str, project: &str) {
        if let Ok(mut map) = self.verified.lock() {
            if map.len() >= CACHE_MAX && !map.contains_key(key_id) {
                map.retain(|_, (_, _, at)| at.elapsed() < CACHE_TTL);
                if map.len() >= CACHE_MAX {
                    if let Some(oldest) = map.iter().min_by_key(|(_, (_, _, at))| *at).map(|(k, _)| k.clone()) {
                        map.remove(&oldest);
                    }
                }
            }
            map.insert(
                key_id.to_string(),
                (hash.to_string(), project.to_string(), Instant::now()),
            );
        }
    }

    fn remember_unknown(&self, key_id: &str) {
        if let Ok(mut map) = self.unknown.lock() {
            if map.len() >= UNKNOWN_MAX {
                map.retain(|_, at| at.elapsed() < CACHE_TTL);
                if map.len() >= UNKNOWN_MAX {
                    map.clear();
                }
            }
            map.insert(key_id.to_string(), Instant::now());
        }
    }
}

/// Checks `Authorization: Bearer <key>` for `project`, looking keys up in `cache` first.
pub async fn authorize<K: ReadKeys>(
    keys: &K,
    cache: &KeyCache,
    authorization: Option<&str>,
    project: &str,
) -> Result<(), ApiError> {
    let token = authorization
        .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
        .map(str::trim)
        .ok_or_else(ApiError::unauthorized)?;
    let (key_id, secret) = apikeys::split(token).ok_or_else(ApiError::unauthorized)?;
    let (hash, owner) = match cache.cached(key_id) {
        Some(Cached::Key(hash, owner)) => (hash, owner),
        Some(Cached::Unknown) => return Err(ApiError::unauthorized()),
        None => {
            let record = keys.api_key(key_id).await.map_err(super::read_failed("api key"))?;
            let Some(record) = record.filter(|r| r.revoked_at.is_none()) else {
                // Remembered as unknown: the same id is refused without a read for a minute.
                cache.remember_unknown(key_id);
                return Err(ApiError::unauthorized());
            };
            cache.remember(key_id, &record.secret_hash, &record.project_id);
            (record.secret_hash, record.project_id)
        }
    };
    if !apikeys::secret_matches(secret, &hash) {
        return Err(ApiError::unauthorized());
    }
    if owner != project {
        return Err(ApiError::forbidden());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apikeys::KeyAdmin;
    use crate::store::{MemoryStore, StoreConfig};

    #[tokio::test]
    async fn invented_keys_never_lock_out_a_valid_key() {
        let store = MemoryStore::memory(StoreConfig { retention_days: 90 });
        let admin = KeyAdmin { store: &store };
        let now = chrono::Utc::now().timestamp();
        let used = admin.create("auth-p", "used", now).await.unwrap();
        let bearer = |t: &str| format!("Bearer {t}");
        let cache = KeyCache::default();
        assert!(authorize(&store, &cache, Some(&bearer(&used.token)), "auth-p")
            .await
            .is_ok());
        // More invented ids than either cache holds, each refused as unknown, never rate limited.
        for i in 0..(UNKNOWN_MAX + CACHE_MAX + 240) {
            let invented = format!("Bearer {}{i:012x}_{}", crate::apikeys::PREFIX, "A".repeat(43));
            let e = authorize(&store, &cache, Some(&invented), "auth-p").await.unwrap_err();
            assert_eq!(e.status(), 401, "invented key {i}");
        }
        let reads = store.backend.calls();
        assert!(authorize(&store, &cache, Some(&bearer(&used.token)), "auth-p")
            .await
            .is_ok());
        assert_eq!(
            store.backend.calls(),
            reads,
            "a verified key stays cached through the flood"
        );
        let fresh = admin.create("auth-p", "fresh", now).await.unwrap();
        assert!(
            authorize(&store, &cache, Some(&bearer(&fresh.token)), "auth-p")
                .await
                .is_ok(),
            "a key never used before is looked up and admitted"
        );
    }
}
