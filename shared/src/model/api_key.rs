//! A project API key as stored: its public id, its project and the SHA-256 of its secret.

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
