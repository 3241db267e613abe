//! Bodies (`input`, `output`, `error.details`): kept as the exact bytes the producer sent, stored
//! inline in their record (gzip when it helps) up to the inline threshold, otherwise in S3 with
//! size and digest.

use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;
use serde::Serialize;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use std::io::{Read, Write};

pub use crate::model::limits::MAX_BODY_BYTES;
use crate::model::limits::MAX_INLINE_RAW_BYTES;
/// Below this, gzip's header costs more than it saves.
const GZIP_FROM_BYTES: usize = 512;
pub const CONTENT_TYPE: &str = "application/json";

/// A body as received: its JSON text, byte for byte.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Body {
    pub raw: Vec<u8>,
    pub sha256: String,
}

impl Body {
    pub fn new(raw: Vec<u8>) -> Self {
        let sha256 = hex::encode(Sha256::digest(&raw));
        Body { raw, sha256 }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Raw,
    Gzip,
}

impl Encoding {
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Raw => "raw",
            Encoding::Gzip => "gzip",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "raw" => Some(Encoding::Raw),
            "gzip" => Some(Encoding::Gzip),
            _ => None,
        }
    }
}

/// The body-carrying fields of a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BodySlot {
    Input,
    Output,
    ErrorDetails,
}

impl BodySlot {
    pub const ALL: [BodySlot; 3] = [BodySlot::Input, BodySlot::Output, BodySlot::ErrorDetails];

    pub fn name(self) -> &'static str {
        match self {
            BodySlot::Input => "input",
            BodySlot::Output => "output",
            BodySlot::ErrorDetails => "error.details",
        }
    }
}

/// A body as a record holds it: its digest and size, and where its bytes are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredBody {
    pub sha256: String,
    pub size: u64,
    pub placement: Placement,
}

impl StoredBody {
    pub fn new(body: &Body, inline_max: usize) -> Self {
        Self::new_within(body, inline_max, MAX_INLINE_RAW_BYTES)
    }

    /// Like `new`, inline only while the body itself is at most `raw_max` bytes.
    pub fn new_within(body: &Body, inline_max: usize, raw_max: usize) -> Self {
        StoredBody {
            sha256: body.sha256.clone(),
            size: body.raw.len() as u64,
            placement: place(body, inline_max, raw_max),
        }
    }

    /// The exact bytes of an inline body.
    pub fn inline_bytes(&self) -> Option<std::io::Result<Vec<u8>>> {
        match &self.placement {
            Placement::Inline { encoding, data } => Some(decode(*encoding, data)),
            Placement::External => None,
        }
    }
}

/// Where a body lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Placement {
    Inline { encoding: Encoding, data: Vec<u8> },
    External,
}

/// Chooses inline (raw or gzip, whichever is smaller) when the stored form fits `inline_max` and
/// the body itself is at most `raw_max`.
pub fn place(body: &Body, inline_max: usize, raw_max: usize) -> Placement {
    if body.raw.len() > raw_max {
        return Placement::External;
    }
    let mut best = (Encoding::Raw, body.raw.clone());
    if body.raw.len() >= GZIP_FROM_BYTES {
        let gz = gzip(&body.raw);
        if gz.len() < best.1.len() {
            best = (Encoding::Gzip, gz);
        }
    }
    if best.1.len() <= inline_max {
        Placement::Inline {
            encoding: best.0,
            data: best.1,
        }
    } else {
        Placement::External
    }
}

fn gzip(raw: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::with_capacity(raw.len() / 4), Compression::fast());
    // Writing into a Vec cannot fail.
    let _ = enc.write_all(raw);
    enc.finish().unwrap_or_default()
}

/// Restores an inline body's bytes.
pub fn decode(encoding: Encoding, data: &[u8]) -> std::io::Result<Vec<u8>> {
    match encoding {
        Encoding::Raw => Ok(data.to_vec()),
        Encoding::Gzip => {
            let mut out = Vec::with_capacity(data.len() * 4);
            GzDecoder::new(data).read_to_end(&mut out)?;
            Ok(out)
        }
    }
}

/// A body as a read returns it: the JSON itself, or a reference to fetch it from.
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum BodyView {
    Inline(Box<RawValue>),
    Ref {
        #[serde(rename = "$ref")]
        reference: BodyRef,
    },
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct BodyRef {
    pub url: String,
    pub size: u64,
    pub sha256: String,
    pub content_type: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_bodies_stay_inline_and_raw() {
        let b = Body::new(br#"{"a":1}"#.to_vec());
        assert_eq!(
            place(&b, 8192, MAX_INLINE_RAW_BYTES),
            Placement::Inline {
                encoding: Encoding::Raw,
                data: b.raw.clone()
            }
        );
    }

    #[test]
    fn compressible_bodies_are_gzipped_and_round_trip() {
        let text = format!("[{}]", vec!["\"hello world\""; 2000].join(","));
        let b = Body::new(text.into_bytes());
        match place(&b, 8192, MAX_INLINE_RAW_BYTES) {
            Placement::Inline {
                encoding: Encoding::Gzip,
                data,
            } => {
                assert!(data.len() < b.raw.len());
                assert_eq!(decode(Encoding::Gzip, &data).unwrap(), b.raw);
            }
            other => panic!("expected gzip inline, got {other:?}"),
        }
    }

    #[test]
    fn huge_bodies_go_external_however_well_they_compress() {
        let b = Body::new(format!("\"{}\"", "a".repeat(MAX_INLINE_RAW_BYTES)).into_bytes());
        assert_eq!(place(&b, 8192, MAX_INLINE_RAW_BYTES), Placement::External);
    }

    #[test]
    fn incompressible_large_bodies_go_external() {
        let noise: String = (0..20_000u32)
            .map(|i| format!("{:x}", i.wrapping_mul(2654435761)))
            .collect();
        let b = Body::new(format!("\"{noise}\"").into_bytes());
        assert_eq!(place(&b, 8192, MAX_INLINE_RAW_BYTES), Placement::External);
    }

    #[test]
    fn digest_is_hex_sha256_of_the_exact_bytes() {
        let b = Body::new(b"{}".to_vec());
        assert_eq!(
            b.sha256,
            "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
    }

    #[test]
    fn views_serialize_inline_verbatim_and_refs_as_dollar_ref() {
        let raw = RawValue::from_string(r#"{"z":1,"a":[1.50]}"#.into()).unwrap();
        assert_eq!(
            serde_json::to_string(&BodyView::Inline(raw)).unwrap(),
            r#"{"z":1,"a":[1.50]}"#
        );
        let r = BodyView::Ref {
            reference: BodyRef {
                url: "u".into(),
                size: 3,
                sha256: "s".into(),
                content_type: CONTENT_TYPE.into(),
            },
        };
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            serde_json::json!({"$ref": {"url": "u", "size": 3, "sha256": "s", "contentType": "application/json"}})
        );
    }
}
