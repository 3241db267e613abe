//! Opaque list cursors: the last listing sort key returned, bound to the project and the filter set
//! by an HMAC-SHA256 tag, so a cursor cannot be forged, edited, or replayed against another project
//! or other filters.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

const TAG_BYTES: usize = 16;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// Project the cursor was issued for.
    #[serde(rename = "p")]
    pub project: String,
    /// Fingerprint of the filters and sort order it was issued for.
    #[serde(rename = "f")]
    pub filters: String,
    /// Listing sort key of the last item returned.
    #[serde(rename = "k")]
    pub last_key: String,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum CursorError {
    #[error("the cursor is malformed")]
    Malformed,
    #[error("the cursor was not issued by this service or was altered")]
    BadSignature,
    #[error("the cursor belongs to another project")]
    OtherProject,
    #[error("the cursor was issued for other filters or another sort order; repeat the original query")]
    OtherFilters,
}

fn mac(secret: &[u8], payload: &[u8]) -> Hmac<Sha256> {
    // HMAC accepts keys of any length.
    let mut m = Hmac::<Sha256>::new_from_slice(secret).expect("hmac key");
    m.update(b"runledger-cursor-v1\0");
    m.update(payload);
    m
}

pub fn encode(secret: &[u8], position: &Position) -> String {
    let payload = serde_json::to_vec(position).unwrap_or_default();
    let tag = mac(secret, &payload).finalize().into_bytes();
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(&payload),
        URL_SAFE_NO_PAD.encode(&tag[..TAG_BYTES])
    )
}

/// Verifies the tag first, then that the cursor matches this request's project and filters.
pub fn decode(secret: &[u8], token: &str, project: &str, filters: &str) -> Result<Position, CursorError> {
    let (payload, tag) = token.split_once('.').ok_or(CursorError::Malformed)?;
    let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| CursorError::Malformed)?;
    let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| CursorError::Malformed)?;
    if tag.len() != TAG_BYTES {
        return Err(CursorError::Malformed);
    }
    mac(secret, &payload)
        .verify_truncated_left(&tag)
        .map_err(|_| CursorError::BadSignature)?;
    let position: Position = serde_json::from_slice(&payload).map_err(|_| CursorError::Malformed)?;
    if position.project != project {
        return Err(CursorError::OtherProject);
    }
    if position.filters != filters {
        return Err(CursorError::OtherFilters);
    }
    Ok(position)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn pos() -> Position {
        Position {
            project: "p1".into(),
            filters: "f1".into(),
            last_key: "2026-11-01T00:00:00.000Z#e1".into(),
        }
    }

    #[test]
    fn round_trips() {
        let t = encode(KEY, &pos());
        assert_eq!(decode(KEY, &t, "p1", "f1"), Ok(pos()));
    }

    #[test]
    fn refuses_other_project_and_filters() {
        let t = encode(KEY, &pos());
        assert_eq!(decode(KEY, &t, "p2", "f1"), Err(CursorError::OtherProject));
        assert_eq!(decode(KEY, &t, "p1", "f2"), Err(CursorError::OtherFilters));
    }

    #[test]
    fn refuses_tampering_and_other_keys() {
        let t = encode(KEY, &pos());
        let (payload, tag) = t.split_once('.').unwrap();
        let mut forged = pos();
        forged.last_key = "9999".into();
        let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
        assert_eq!(
            decode(KEY, &format!("{forged_payload}.{tag}"), "p1", "f1"),
            Err(CursorError::BadSignature)
        );
        assert_eq!(
            decode(b"another-key-another-key-another-k", &t, "p1", "f1"),
            Err(CursorError::BadSignature)
        );
        assert_eq!(decode(KEY, payload, "p1", "f1"), Err(CursorError::Malformed));
        assert_eq!(decode(KEY, "!!.??", "p1", "f1"), Err(CursorError::Malformed));
        assert_eq!(decode(KEY, "", "p1", "f1"), Err(CursorError::Malformed));
    }
}
