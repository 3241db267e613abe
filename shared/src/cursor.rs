//! Opaque cursors: a store position bound to the project and the query it was issued for by an
//! HMAC-SHA256 tag, so a cursor cannot be forged, edited, or replayed against another project or
//! other filters. Each cursor names the key that signed it, so the signing key can be rotated while
//! cursors signed with the previous key stay valid as long as that key is configured.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

const TAG_BYTES: usize = 16;

/// A signing key and its id. The first of a key ring signs; every one verifies.
#[derive(Clone, PartialEq, Eq)]
pub struct CursorKey {
    pub id: String,
    pub secret: Vec<u8>,
}

impl std::fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CursorKey({}, <secret>)", self.id)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Project the cursor was issued for.
    #[serde(rename = "p")]
    pub project: String,
    /// Fingerprint of the query (filters and order, or the execution of a steps page).
    #[serde(rename = "f")]
    pub filters: String,
    /// The store's position.
    #[serde(rename = "k")]
    pub position: String,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum CursorError {
    #[error("the cursor is malformed")]
    Malformed,
    #[error("the cursor was not issued by this service, was altered, or its signing key was retired")]
    BadSignature,
    #[error("the cursor belongs to another project")]
    OtherProject,
    #[error("the cursor was issued for other filters or another sort order; repeat the original query")]
    OtherFilters,
}

fn mac(secret: &[u8], key_id: &str, payload: &[u8]) -> Hmac<Sha256> {
    // HMAC accepts keys of any length.
    let mut m = Hmac::<Sha256>::new_from_slice(secret).expect("hmac key");
    m.update(b"runledger-cursor-v2\0");
    m.update(key_id.as_bytes());
    m.update(b"\0");
    m.update(payload);
    m
}

/// `{keyId}.{payload}.{tag}`, signed with the first key of the ring.
pub fn encode(keys: &[CursorKey], claims: &Claims) -> String {
    let Some(key) = keys.first() else {
        return String::new();
    };
    let payload = serde_json::to_vec(claims).unwrap_or_default();
    let tag = mac(&key.secret, &key.id, &payload).finalize().into_bytes();
    format!(
        "{}.{}.{}",
        key.id,
        URL_SAFE_NO_PAD.encode(&payload),
        URL_SAFE_NO_PAD.encode(&tag[..TAG_BYTES])
    )
}

/// Verifies the tag with the key the cursor names, then that it matches this request.
pub fn decode(keys: &[CursorKey], token: &str, project: &str, filters: &str) -> Result<Claims, CursorError> {
    let mut parts = token.split('.');
    let (Some(key_id), Some(payload), Some(tag), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(CursorError::Malformed);
    };
    let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| CursorError::Malformed)?;
    let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| CursorError::Malformed)?;
    if tag.len() != TAG_BYTES {
        return Err(CursorError::Malformed);
    }
    let key = keys.iter().find(|k| k.id == key_id).ok_or(CursorError::BadSignature)?;
    mac(&key.secret, &key.id, &payload)
        .verify_truncated_left(&tag)
        .map_err(|_| CursorError::BadSignature)?;
    let claims: Claims = serde_json::from_slice(&payload).map_err(|_| CursorError::Malformed)?;
    if claims.project != project {
        return Err(CursorError::OtherProject);
    }
    if claims.filters != filters {
        return Err(CursorError::OtherFilters);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str, secret: &[u8]) -> CursorKey {
        CursorKey {
            id: id.into(),
            secret: secret.to_vec(),
        }
    }

    fn ring() -> Vec<CursorKey> {
        vec![key("2", b"0123456789abcdef0123456789abcdef")]
    }

    fn claims() -> Claims {
        Claims {
            project: "p1".into(),
            filters: "f1".into(),
            position: "1793613600000#e1".into(),
        }
    }

    #[test]
    fn round_trips() {
        let t = encode(&ring(), &claims());
        assert!(t.starts_with("2."));
        assert_eq!(decode(&ring(), &t, "p1", "f1"), Ok(claims()));
    }

    #[test]
    fn refuses_other_project_and_filters() {
        let t = encode(&ring(), &claims());
        assert_eq!(decode(&ring(), &t, "p2", "f1"), Err(CursorError::OtherProject));
        assert_eq!(decode(&ring(), &t, "p1", "f2"), Err(CursorError::OtherFilters));
    }

    #[test]
    fn a_rotated_key_keeps_old_cursors_valid_until_it_is_retired() {
        let old = vec![key("1", b"old-secret-old-secret-old-secret!")];
        let t = encode(&old, &claims());
        let rotated = vec![key("2", b"new-secret-new-secret-new-secret!"), old[0].clone()];
        assert_eq!(decode(&rotated, &t, "p1", "f1"), Ok(claims()));
        assert!(encode(&rotated, &claims()).starts_with("2."), "the new key signs");
        let retired = vec![rotated[0].clone()];
        assert_eq!(decode(&retired, &t, "p1", "f1"), Err(CursorError::BadSignature));
    }

    #[test]
    fn refuses_tampering_and_other_keys() {
        let t = encode(&ring(), &claims());
        let parts: Vec<&str> = t.split('.').collect();
        let mut forged = claims();
        forged.position = "9999".into();
        let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
        assert_eq!(
            decode(&ring(), &format!("2.{forged_payload}.{}", parts[2]), "p1", "f1"),
            Err(CursorError::BadSignature)
        );
        let same_id_other_secret = vec![key("2", b"another-key-another-key-another-k")];
        assert_eq!(
            decode(&same_id_other_secret, &t, "p1", "f1"),
            Err(CursorError::BadSignature)
        );
        assert_eq!(decode(&ring(), parts[1], "p1", "f1"), Err(CursorError::Malformed));
        assert_eq!(decode(&ring(), "!!.??.zz", "p1", "f1"), Err(CursorError::Malformed));
        assert_eq!(decode(&ring(), "", "p1", "f1"), Err(CursorError::Malformed));
    }
}
