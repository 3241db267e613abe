//! Settings read once from the environment at cold start.

use crate::cursor::CursorKey;
use std::env;

/// Runtime settings shared by every function.
#[derive(Clone, Debug)]
pub struct Settings {
    pub table_name: String,
    pub bucket_name: String,
    /// Cursor signing keys: the first signs, each verifies (so a rotation keeps issued cursors
    /// valid while the previous key stays configured). Empty in functions that issue no cursors.
    pub cursor_keys: Vec<CursorKey>,
    pub retention_days: i64,
    /// Bodies whose stored form is larger than this go to S3.
    pub body_inline_max_bytes: usize,
    pub presign_ttl_seconds: u64,
    /// Absolute base for `nextLink`; when unset it is derived from the request's host.
    pub public_base_url: Option<String>,
    pub s3_force_path_style: bool,
    /// Items one page may examine (matches and filtered-out ones alike).
    pub read_budget_items: u64,
    /// Items `count=true` may count.
    pub count_budget_items: u64,
}

#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

impl Settings {
    /// The settings of a function; `cursors`: whether it issues or checks cursors (only those
    /// receive the signing keys).
    pub fn from_env_for(cursors: bool) -> Result<Self, ConfigError> {
        let cursor_keys = if cursors { cursor_keys()? } else { Vec::new() };
        Ok(Settings {
            table_name: env::var("TABLE_NAME").unwrap_or_else(|_| "runledger".into()),
            bucket_name: env::var("BUCKET_NAME").unwrap_or_else(|_| "runledger-bodies".into()),
            cursor_keys,
            retention_days: number("RETENTION_DAYS", crate::model::limits::DEFAULT_RETENTION_DAYS)?.max(1),
            body_inline_max_bytes: number("BODY_INLINE_MAX_BYTES", DEFAULT_INLINE_MAX)?,
            presign_ttl_seconds: number("PRESIGN_TTL_SECONDS", 900)?,
            public_base_url: env::var("PUBLIC_BASE_URL")
                .ok()
                .filter(|s| !s.is_empty())
                .map(|s| s.trim_end_matches('/').to_string()),
            s3_force_path_style: env::var("S3_FORCE_PATH_STYLE").is_ok_and(|v| v == "true"),
            read_budget_items: number("READ_BUDGET_ITEMS", DEFAULT_READ_BUDGET)?.max(1),
            count_budget_items: number("COUNT_BUDGET_ITEMS", DEFAULT_COUNT_BUDGET)?.max(1),
        })
    }

    /// Every setting, cursor keys included (tools and tests).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_env_for(true)
    }

    /// The built-in defaults with a fixed cursor key: for tools and tests that never sign cursors
    /// clients will see.
    pub fn defaults() -> Self {
        Settings {
            table_name: "runledger".into(),
            bucket_name: "runledger-bodies".into(),
            cursor_keys: vec![CursorKey {
                id: "1".into(),
                secret: b"test-secret-test-secret-test-secret!".to_vec(),
            }],
            retention_days: crate::model::limits::DEFAULT_RETENTION_DAYS,
            body_inline_max_bytes: DEFAULT_INLINE_MAX,
            presign_ttl_seconds: 900,
            public_base_url: None,
            s3_force_path_style: true,
            read_budget_items: DEFAULT_READ_BUDGET,
            count_budget_items: DEFAULT_COUNT_BUDGET,
        }
    }
}

/// Stored bytes up to which a body stays inline in its record (see docs/data-model.md).
pub const DEFAULT_INLINE_MAX: usize = 4096;
/// A page examines at most this many listing entries (about 330 bytes each: some 650 KB, 80 read
/// units at most).
pub const DEFAULT_READ_BUDGET: u64 = 2000;
/// `count=true` counts at most this many entries (about 400 read units at most).
pub const DEFAULT_COUNT_BUDGET: u64 = 10_000;

/// The cursor keys from the environment: `CURSOR_SECRET` (and `CURSOR_SECRET_ID`, default `1`)
/// signs; `CURSOR_PREVIOUS_SECRET` (with `CURSOR_PREVIOUS_SECRET_ID`) still verifies during a
/// rotation. Empty when they are to come from Secrets Manager (`CURSOR_SECRET_ARN`, read at init).
fn cursor_keys() -> Result<Vec<CursorKey>, ConfigError> {
    if env::var("CURSOR_SECRET").is_err() && cursor_secret_arn().is_some() {
        return Ok(Vec::new());
    }
    let mut keys = Vec::new();
    for (secret_var, id_var, required) in [
        ("CURSOR_SECRET", "CURSOR_SECRET_ID", true),
        ("CURSOR_PREVIOUS_SECRET", "CURSOR_PREVIOUS_SECRET_ID", false),
    ] {
        let secret = env::var(secret_var).unwrap_or_default();
        if secret.is_empty() && !required {
            continue;
        }
        if secret.len() < 32 {
            return Err(ConfigError(format!("{secret_var} must be at least 32 characters")));
        }
        let id = env::var(id_var)
            .ok()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "1".into());
        if id.contains('.') || keys.iter().any(|k: &CursorKey| k.id == id) {
            return Err(ConfigError(format!("{id_var} must be unique and contain no '.'")));
        }
        keys.push(CursorKey {
            id,
            secret: secret.into_bytes(),
        });
    }
    Ok(keys)
}

/// Secrets Manager secret holding the cursor keys, when they are not in the environment.
pub fn cursor_secret_arn() -> Option<String> {
    env::var("CURSOR_SECRET_ARN").ok().filter(|s| !s.is_empty())
}

#[derive(serde::Deserialize)]
struct RingKey {
    id: String,
    secret: String,
}

#[derive(serde::Deserialize)]
#[serde(untagged)]
enum Ring {
    Keys { keys: Vec<RingKey> },
    One(RingKey),
}

/// Parses a key ring: `{"keys": [{"id", "secret"}, ...]}` or a single `{"id", "secret"}`.
pub fn parse_key_ring(text: &str) -> Result<Vec<CursorKey>, ConfigError> {
    let ring: Ring =
        serde_json::from_str(text).map_err(|_| ConfigError("the cursor key secret is not a key ring".into()))?;
    let keys = match ring {
        Ring::Keys { keys } => keys,
        Ring::One(k) => vec![k],
    };
    let mut out: Vec<CursorKey> = Vec::new();
    for k in keys {
        if k.secret.len() < 32 || k.id.is_empty() || k.id.contains('.') || out.iter().any(|o| o.id == k.id) {
            return Err(ConfigError(
                "every cursor key needs a unique id without '.' and a secret of at least 32 characters".into(),
            ));
        }
        out.push(CursorKey {
            id: k.id,
            secret: k.secret.into_bytes(),
        });
    }
    if out.is_empty() {
        return Err(ConfigError("the cursor key ring is empty".into()));
    }
    Ok(out)
}

fn number<T: std::str::FromStr>(name: &str, default: T) -> Result<T, ConfigError> {
    match env::var(name) {
        Ok(v) if !v.is_empty() => v
            .parse()
            .map_err(|_| ConfigError(format!("{name} must be a number, got {v:?}"))),
        _ => Ok(default),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_rings_parse_in_both_shapes_and_refuse_weak_keys() {
        let secret = "s".repeat(40);
        let one = parse_key_ring(&format!(r#"{{"id":"1","secret":"{secret}"}}"#)).unwrap();
        assert_eq!(one[0].id, "1");
        let two = parse_key_ring(&format!(
            r#"{{"keys":[{{"id":"2","secret":"{secret}"}},{{"id":"1","secret":"{secret}"}}]}}"#
        ))
        .unwrap();
        assert_eq!(two.iter().map(|k| k.id.as_str()).collect::<Vec<_>>(), ["2", "1"]);
        assert!(parse_key_ring(r#"{"id":"1","secret":"short"}"#).is_err());
        assert!(parse_key_ring(&format!(r#"{{"keys":[{{"id":"a.b","secret":"{secret}"}}]}}"#)).is_err());
        assert!(parse_key_ring("nope").is_err());
    }
}
