//! Bearer API keys: 401 for a missing, malformed, unknown or revoked key; 403 for a valid key used on
//! another project. Verified keys are cached for a minute per function instance, so most requests
//! cost no key lookup; a revocation takes effect within that minute.

use crate::apikeys;
use crate::error::ApiError;
use crate::store::KeyReads;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const CACHE_TTL: Duration = Duration::from_secs(60);
const CACHE_MAX: usize = 1024;

/// (secret hash, project, when it was read)
type Verified = (String, String, Instant);

/// Keyed by key id.
static VERIFIED: Mutex<Option<HashMap<String, Verified>>> = Mutex::new(None);

fn cached(key_id: &str) -> Option<(String, String)> {
    let guard = VERIFIED.lock().ok()?;
    let (hash, project, at) = guard.as_ref()?.get(key_id)?;
    (at.elapsed() < CACHE_TTL).then(|| (hash.clone(), project.clone()))
}

fn remember(key_id: &str, hash: &str, project: &str) {
    if let Ok(mut guard) = VERIFIED.lock() {
        let map = guard.get_or_insert_with(HashMap::new);
        if map.len() >= CACHE_MAX {
            map.clear();
        }
        map.insert(
            key_id.to_string(),
            (hash.to_string(), project.to_string(), Instant::now()),
        );
    }
}

/// Forgets every cached key (tests, and revocation tooling run in-process).
pub fn clear_cache() {
    if let Ok(mut guard) = VERIFIED.lock() {
        *guard = None;
    }
}

/// Checks `Authorization: Bearer <key>` for `project`.
pub async fn authorize<K: KeyReads>(keys: &K, authorization: Option<&str>, project: &str) -> Result<(), ApiError> {
    let token = authorization
        .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
        .map(str::trim)
        .ok_or_else(ApiError::unauthorized)?;
    let (key_id, secret) = apikeys::split(token).ok_or_else(ApiError::unauthorized)?;
    let (hash, owner) = match cached(key_id) {
        Some(hit) => hit,
        None => {
            let item = keys.api_key(key_id).await.map_err(super::read_failed("api key"))?;
            let record = item
                .as_ref()
                .and_then(apikeys::record_from_item)
                .ok_or_else(ApiError::unauthorized)?;
            if record.revoked_at.is_some() {
                return Err(ApiError::unauthorized());
            }
            remember(key_id, &record.secret_hash, &record.project_id);
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
