//! A stored body: one Binary attribute (a tag byte, then the data inline or the S3 reference) and,
//! when offloaded, its content-addressed S3 object.

use crate::bodies::{self, Encoding, Placement, StoredBody};
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use sha2::{Digest, Sha256};

/// Where an offloaded body lives, for a presigned link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BodyLocation<'a> {
    pub project: &'a str,
    /// The execution whose body it is; `None` for an event log's.
    pub execution: Option<&'a str>,
    pub sha256: &'a str,
}

/// What every offloaded body's object key begins with.
pub(super) const OBJECT_PREFIX: &str = "bodies/";

/// S3 object key of an offloaded body: content addressed, so retries rewrite the same object.
/// Event-log bodies sit under `log` (never an execution's own folder: ids have no `/`, and a body
/// is content addressed, so even an execution named `log` would only share identical bytes).
pub fn body_object_key(project: &str, execution_id: Option<&str>, sha256_hex: &str) -> String {
    format!(
        "{OBJECT_PREFIX}{project}/{}/{sha256_hex}",
        execution_id.unwrap_or("log")
    )
}

/// The unpacked size of an inline body attribute, without unpacking it: a raw body is its bytes, a
/// gzip one names its size in its trailer (ISIZE, little-endian); an S3 reference adds nothing.
pub(super) fn inline_size(attr: &[u8]) -> usize {
    match attr.split_first() {
        Some((&TAG_RAW, data)) => data.len(),
        Some((&TAG_GZIP, data)) if data.len() >= 4 => {
            u32::from_le_bytes(data[data.len() - 4..].try_into().unwrap_or_default()) as usize
        }
        _ => 0,
    }
}

const TAG_RAW: u8 = 0;

const TAG_GZIP: u8 = 1;

const TAG_EXTERNAL: u8 = 2;

pub(super) fn body_attr(b: &StoredBody) -> AttributeValue {
    let mut bytes = Vec::new();
    match &b.placement {
        Placement::Inline { encoding, data } => {
            bytes.push(match encoding {
                Encoding::Raw => TAG_RAW,
                Encoding::Gzip => TAG_GZIP,
            });
            bytes.extend_from_slice(data);
        }
        Placement::External => {
            bytes.push(TAG_EXTERNAL);
            bytes.extend_from_slice(&b.size.to_be_bytes());
            bytes.extend_from_slice(&hex::decode(&b.sha256).unwrap_or_default());
        }
    }
    AttributeValue::B(Blob::new(bytes))
}

pub(super) fn body_from_attr(v: &AttributeValue) -> Option<StoredBody> {
    let bytes = v.as_b().ok()?.as_ref();
    let (&tag, rest) = bytes.split_first()?;
    let encoding = match tag {
        TAG_RAW => Encoding::Raw,
        TAG_GZIP => Encoding::Gzip,
        TAG_EXTERNAL => {
            let size = u64::from_be_bytes(rest.get(..8)?.try_into().ok()?);
            return Some(StoredBody {
                sha256: hex::encode(rest.get(8..40)?),
                size,
                placement: Placement::External,
            });
        }
        _ => return None,
    };
    let raw = bodies::decode(encoding, rest).ok()?;
    Some(StoredBody {
        sha256: hex::encode(Sha256::digest(&raw)),
        size: raw.len() as u64,
        placement: Placement::Inline {
            encoding,
            data: rest.to_vec(),
        },
    })
}
