//! An execution's token fingerprints for keyword search: one small item beside its summary (sort
//! key `T`, after its steps, so reading an execution with its steps never reads it). Event logs
//! carry theirs in their own item, under the same attribute.

use super::execution;
use super::table::{n, number_attr, s, string_attr, version, Item, EXPIRES_AT, PK, SK, VERSION};
use crate::search::Fingerprints;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;

/// An execution's token fingerprints as stored: what its bodies, its steps' bodies and their errors
/// hold, for keyword search.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredTokens {
    pub fingerprints: Fingerprints,
    pub version: u64,
    /// Epoch seconds.
    pub expires_at: i64,
}

/// Fingerprints to write for an execution, guarded by the version read (`None`: must not exist).
#[derive(Clone, Debug, PartialEq)]
pub struct TokensCommit {
    pub project: String,
    pub execution: String,
    pub fingerprints: Fingerprints,
    pub expected_version: Option<u64>,
    pub expires_at: i64,
}

/// Sort key of an execution's token fingerprints (after its steps, so reading an execution with
/// its steps never reads them).
pub const TOKENS_SK: &str = "T";

const TOKENS: &str = "tk";

pub fn tokens_key(project: &str, execution: &str) -> (String, String) {
    (execution::execution_pk(project, execution), TOKENS_SK.to_string())
}

/// Which execution a fingerprint item belongs to, its fingerprints, version and expiry.
pub fn tokens_from_item(item: &Item) -> Option<((String, String), Fingerprints, u64, i64)> {
    let pk = string_attr(item, PK)?.strip_prefix(execution::PARTITION_PREFIX)?;
    if string_attr(item, SK)? != TOKENS_SK {
        return None;
    }
    let (project, execution) = pk.split_once('#')?;
    Some((
        (project.to_string(), execution.to_string()),
        fingerprints_of(item),
        version(item).unwrap_or(0),
        number_attr(item, EXPIRES_AT).unwrap_or(0),
    ))
}

pub(super) fn fingerprints_of(item: &Item) -> Fingerprints {
    match item.get(TOKENS).and_then(|v| v.as_b().ok()) {
        Some(b) => Fingerprints::decode(b.as_ref()),
        None => Fingerprints::default(),
    }
}

pub(super) fn fingerprints_attr(f: &Fingerprints) -> AttributeValue {
    AttributeValue::B(Blob::new(f.encode()))
}

pub fn tokens_item(project: &str, execution: &str, f: &Fingerprints, version: u64, expires_at: i64) -> Item {
    let (pk, sk) = tokens_key(project, execution);
    HashMap::from([
        (PK.to_string(), s(pk)),
        (SK.to_string(), s(sk)),
        (TOKENS.to_string(), fingerprints_attr(f)),
        (VERSION.to_string(), n(version)),
        (EXPIRES_AT.to_string(), n(expires_at)),
    ])
}

pub(super) const TOKENS_ATTRIBUTE: &str = TOKENS;
