//! Bearer API keys: 401 for a missing, malformed, unknown or revoked key; 403 for a valid key used on
//! another project. Verified keys are cached for a minute per function instance, so most requests
//! cost no key lookup; a revocation takes effect within that minute. Unknown key ids are remembered
//! for the same minute, and lookups of uncached ids are rate limited per instance, so a burst of
//! invented keys cannot each cost a read.

use crate::apikeys;
use crate::error::ApiError;
use crate::store::ReadKeys;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const CACHE_TTL: Duration = Duration::from_secs(60);
const CACHE_MAX: usize = 1024;

/// (secret hash, project, when it was read); an unknown id has no hash and no project.
type Verified = (String, String, Instant);
/// Uncached lookups allowed per instance: a bucket of this many, refilled at this rate per second.
const LOOKUP_BURST: f64 = 50.0;
const LOOKUPS_PER_SECOND: f64 = 20.0;

static LOOKUPS: Mutex<Option<(f64, Instant)>> = Mutex::new(None);

/// Takes a lookup token; `false` when the instance is over its rate.
fn lookup_allowed() -> bool {
    let Ok(mut guard) = LOOKUPS.lock() else { return true };
    let now = Instant::now();
    let (tokens, at) = guard.get_or_insert((LOOKUP_BURST, now));
    *tokens = (*tokens + at.elapsed().as_secs_f64() * LOOKUPS_PER_SECOND).min(LOOKUP_BURST);
    *at = now;
    if *tokens >= 1.0 {
        *tokens -= 1.0;
        true
    } else {
        false
    }
}

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
    if let Ok(mut guard) = LOOKUPS.lock() {
        *guard = None;
    }
}

/// Checks `Authorization: Bearer <key>` for `project`.
pub async fn authorize<K: ReadKeys>(keys: &K, authorization: Option<&str>, project: &str) -> Result<(), ApiError> {
    let token = authorization
        .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
        .map(str::trim)
        .ok_or_else(ApiError::unauthorized)?;
    let (key_id, secret) = apikeys::split(token).ok_or_else(ApiError::unauthorized)?;
    let (hash, owner) = match cached(key_id) {
        Some(hit) => hit,
        None => {
            if !lookup_allowed() {
                return Err(ApiError::rate_limited(1));
            }
            let record = keys.api_key(key_id).await.map_err(super::read_failed("api key"))?;
            let Some(record) = record.filter(|r| r.revoked_at.is_none()) else {
                // Remembered as unknown: the same id is refused without a read for a minute.
                remember(key_id, "", "");
                return Err(ApiError::unauthorized());
            };
            remember(key_id, &record.secret_hash, &record.project_id);
            (record.secret_hash, record.project_id)
        }
    };
    if hash.is_empty() || !apikeys::secret_matches(secret, &hash) {
        return Err(ApiError::unauthorized());
    }
    if owner != project {
        return Err(ApiError::forbidden());
    }
    Ok(())
}
