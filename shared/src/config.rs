//! Settings read once from the environment at cold start.

use std::env;

/// Runtime settings shared by every function.
#[derive(Clone, Debug)]
pub struct Settings {
    pub table_name: String,
    pub bucket_name: String,
    /// Key for cursor MACs; cursors signed with another key are rejected.
    pub cursor_secret: Vec<u8>,
    pub retention_days: i64,
    /// Bodies whose stored form is larger than this go to S3.
    pub body_inline_max_bytes: usize,
    /// Time-bucket shards per listing partition (1 = no sharding).
    pub list_shards: u32,
    pub presign_ttl_seconds: u64,
    /// Absolute base for `nextLink`; when unset it is derived from the request's host.
    pub public_base_url: Option<String>,
    pub s3_force_path_style: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        let cursor_secret = env::var("CURSOR_SECRET").unwrap_or_default();
        if cursor_secret.len() < 32 {
            return Err(ConfigError(
                "CURSOR_SECRET must be set to at least 32 characters".into(),
            ));
        }
        Ok(Settings {
            table_name: env::var("TABLE_NAME").unwrap_or_else(|_| "runledger".into()),
            bucket_name: env::var("BUCKET_NAME").unwrap_or_else(|_| "runledger-bodies".into()),
            cursor_secret: cursor_secret.into_bytes(),
            retention_days: number("RETENTION_DAYS", 90)?,
            body_inline_max_bytes: number("BODY_INLINE_MAX_BYTES", 8192)?,
            list_shards: number("LIST_SHARDS", 1)?.max(1),
            presign_ttl_seconds: number("PRESIGN_TTL_SECONDS", 900)?,
            public_base_url: env::var("PUBLIC_BASE_URL")
                .ok()
                .filter(|s| !s.is_empty())
                .map(|s| s.trim_end_matches('/').to_string()),
            s3_force_path_style: env::var("S3_FORCE_PATH_STYLE").is_ok_and(|v| v == "true"),
        })
    }

    /// The built-in defaults with a fixed cursor key: for tools and tests that never sign cursors
    /// clients will see.
    pub fn defaults() -> Self {
        Settings {
            table_name: "runledger".into(),
            bucket_name: "runledger-bodies".into(),
            cursor_secret: b"test-secret-test-secret-test-secret!".to_vec(),
            retention_days: 90,
            body_inline_max_bytes: 8192,
            list_shards: 1,
            presign_ttl_seconds: 900,
            public_base_url: None,
            s3_force_path_style: true,
        }
    }
}

fn number<T: std::str::FromStr>(name: &str, default: T) -> Result<T, ConfigError> {
    match env::var(name) {
        Ok(v) if !v.is_empty() => v
            .parse()
            .map_err(|_| ConfigError(format!("{name} must be a number, got {v:?}"))),
        _ => Ok(default),
    }
}
