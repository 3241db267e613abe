//! Every key format of the table. No other module builds a key string.
//! The layout and its reasons are in docs/data-model.md.

use chrono::{DateTime, Datelike, Utc};
use sha2::{Digest, Sha256};

pub const PK: &str = "pk";
pub const SK: &str = "sk";
/// Sort key of every listing index.
pub const LSK: &str = "lsk";
pub const EXPIRES_AT: &str = "expiresAt";
pub const VERSION: &str = "ver";

/// Sort key of an execution summary.
pub const SUMMARY_SK: &str = "A";
/// Exclusive upper bound of the get-with-steps Query: everything below it except step bodies.
pub const STEP_BODIES_START: &str = "T";

/// A body-carrying field of an execution or step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BodyField {
    Input,
    Output,
    ErrorDetails,
}

impl BodyField {
    pub const ALL: [BodyField; 3] = [BodyField::Input, BodyField::Output, BodyField::ErrorDetails];

    pub fn name(self) -> &'static str {
        match self {
            BodyField::Input => "input",
            BodyField::Output => "output",
            BodyField::ErrorDetails => "errorDetails",
        }
    }

    /// The summary field holding the digest of the current body.
    pub fn reference_field(self) -> &'static str {
        match self {
            BodyField::Input => "inputRef",
            BodyField::Output => "outputRef",
            BodyField::ErrorDetails => "errorDetailsRef",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        BodyField::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// The listing indexes, in the order a query prefers them (most selective first).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ListIndex {
    Trace,
    User,
    Workflow,
    Integration,
    Trigger,
    Status,
    Project,
}

impl ListIndex {
    /// Every index that carries a dimension value, in preference order.
    pub const DIMENSIONS: [ListIndex; 6] = [
        ListIndex::Trace,
        ListIndex::User,
        ListIndex::Workflow,
        ListIndex::Integration,
        ListIndex::Trigger,
        ListIndex::Status,
    ];

    pub fn index_name(self) -> &'static str {
        match self {
            ListIndex::Project => "byProject",
            ListIndex::Integration => "byIntegration",
            ListIndex::User => "byUser",
            ListIndex::Workflow => "byWorkflow",
            ListIndex::Status => "byStatus",
            ListIndex::Trigger => "byTrigger",
            ListIndex::Trace => "byTrace",
        }
    }

    /// Name of the item attribute holding this index's partition key.
    pub fn key_attribute(self) -> &'static str {
        match self {
            ListIndex::Project => "gP",
            ListIndex::Integration => "gI",
            ListIndex::User => "gU",
            ListIndex::Workflow => "gW",
            ListIndex::Status => "gS",
            ListIndex::Trigger => "gT",
            ListIndex::Trace => "gR",
        }
    }

    /// The summary attribute whose value this index is keyed by.
    pub fn field(self) -> Option<&'static str> {
        match self {
            ListIndex::Project => None,
            ListIndex::Integration => Some("integration"),
            ListIndex::User => Some("userId"),
            ListIndex::Workflow => Some("workflowId"),
            ListIndex::Status => Some("status"),
            ListIndex::Trigger => Some("triggerType"),
            ListIndex::Trace => Some("traceId"),
        }
    }
}

/// A project id may not contain `#` (keys stay unambiguous) or `/` (it is a path segment).
pub fn valid_project_id(id: &str) -> bool {
    valid_id(id)
}

/// Ids of executions and steps: 1..=128 visible characters without `#`, `/` or `?`.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| !c.is_control() && !c.is_whitespace() && !matches!(c, '#' | '/' | '?'))
}

/// Partition key of an execution's item collection.
pub fn execution_pk(project: &str, execution_id: &str) -> String {
    format!("EX#{project}#{execution_id}")
}

/// Body items are content addressed: a new version is a new item, and the summary's reference
/// decides which one is current, so a body is never visible before the summary that points at it.
pub fn execution_body_sk(field: BodyField, sha256_hex: &str) -> String {
    format!("B#{}#{sha256_hex}", field.name())
}

pub fn step_sk(step_id: &str) -> String {
    format!("S#{step_id}")
}

pub fn step_body_sk(step_id: &str, field: BodyField, sha256_hex: &str) -> String {
    format!("T#{step_id}#{}#{sha256_hex}", field.name())
}

/// Prefix of every body item of one step.
pub fn step_bodies_prefix(step_id: &str) -> String {
    format!("T#{step_id}#")
}

/// What a sort key inside an execution collection names.
#[derive(Debug, PartialEq, Eq)]
pub enum CollectionItem<'a> {
    Summary,
    ExecutionBody(BodyField, &'a str),
    Step(&'a str),
    StepBody(&'a str, BodyField, &'a str),
}

pub fn parse_collection_sk(sk: &str) -> Option<CollectionItem<'_>> {
    if sk == SUMMARY_SK {
        return Some(CollectionItem::Summary);
    }
    if let Some(rest) = sk.strip_prefix("B#") {
        let (field, sha) = rest.split_once('#')?;
        return BodyField::from_name(field).map(|f| CollectionItem::ExecutionBody(f, sha));
    }
    if let Some(rest) = sk.strip_prefix("S#") {
        return Some(CollectionItem::Step(rest));
    }
    if let Some(rest) = sk.strip_prefix("T#") {
        let (rest, sha) = rest.rsplit_once('#')?;
        let (step, field) = rest.rsplit_once('#')?;
        return BodyField::from_name(field).map(|f| CollectionItem::StepBody(step, f, sha));
    }
    None
}

/// Month bucket of a listing partition.
pub fn month_bucket(t: DateTime<Utc>) -> String {
    format!("{:04}-{:02}", t.year(), t.month())
}

/// Every month bucket from `from` to `to`, inclusive, oldest first.
pub fn month_buckets(from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<String> {
    let (mut y, mut m) = (from.year(), from.month());
    let mut out = Vec::new();
    while (y, m) <= (to.year(), to.month()) {
        out.push(format!("{y:04}-{m:02}"));
        (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    }
    out
}

/// Shard of an execution within a bucket; stable across processes and releases.
pub fn shard_of(execution_id: &str, shards: u32) -> u32 {
    if shards <= 1 {
        return 0;
    }
    let digest = Sha256::digest(execution_id.as_bytes());
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]) % shards
}

/// Partition key value of a listing index.
pub fn listing_pk(project: &str, bucket: &str, shard: u32, shards: u32, value: Option<&str>) -> String {
    let mut key = format!("X#{project}#{bucket}");
    if shards > 1 {
        key.push_str(&format!("#s{shard}"));
    }
    if let Some(v) = value {
        key.push('#');
        key.push_str(v);
    }
    key
}

/// Listing sort key: the stored `dateStarted` then the id.
pub fn listing_sk(date_started: &str, execution_id: &str) -> String {
    format!("{date_started}#{execution_id}")
}

/// The lowest listing sort key at or after `t`.
pub fn listing_sk_from(t: DateTime<Utc>) -> String {
    crate::dates::format(t)
}

/// The highest listing sort key strictly before `t`: one millisecond earlier, then `$`, which sorts
/// after `#` and therefore after every id at that millisecond.
pub fn listing_sk_before(t: DateTime<Utc>) -> String {
    format!("{}$", crate::dates::format(t - chrono::Duration::milliseconds(1)))
}

pub fn api_key_pk(key_id: &str) -> String {
    format!("KEY#{key_id}")
}

pub const API_KEY_SK: &str = "KEY";

pub fn project_keys_pk(project: &str) -> String {
    format!("PROJECT#{project}")
}

pub fn project_key_sk(key_id: &str) -> String {
    format!("KEY#{key_id}")
}

pub const PROJECT_KEY_SK_PREFIX: &str = "KEY#";

/// S3 object key of an offloaded body: content addressed, so retries rewrite the same object.
pub fn body_object_key(project: &str, execution_id: &str, sha256_hex: &str) -> String {
    format!("bodies/{project}/{execution_id}/{sha256_hex}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dates::parse;

    #[test]
    fn collection_sort_keys_order_summary_bodies_steps_then_step_bodies() {
        let mut keys = [
            step_body_sk("s1", BodyField::Input, "ab"),
            step_sk("zz"),
            execution_body_sk(BodyField::Output, "cd"),
            SUMMARY_SK.to_string(),
            step_sk("00"),
        ];
        keys.sort();
        assert_eq!(keys[0], "A");
        assert!(keys[1].starts_with("B#"));
        assert!(keys[2].starts_with("S#") && keys[3].starts_with("S#"));
        assert!(keys[4].starts_with("T#"));
        // The get-with-steps Query stops below step bodies.
        assert!(keys[..4].iter().all(|k| k.as_str() < STEP_BODIES_START));
        assert!(keys[4].as_str() > STEP_BODIES_START);
    }

    #[test]
    fn collection_sort_keys_round_trip() {
        assert_eq!(parse_collection_sk("A"), Some(CollectionItem::Summary));
        assert_eq!(
            parse_collection_sk(&execution_body_sk(BodyField::ErrorDetails, "ff")),
            Some(CollectionItem::ExecutionBody(BodyField::ErrorDetails, "ff"))
        );
        assert_eq!(parse_collection_sk(&step_sk("a-b")), Some(CollectionItem::Step("a-b")));
        assert_eq!(
            parse_collection_sk(&step_body_sk("a-b", BodyField::Output, "00")),
            Some(CollectionItem::StepBody("a-b", BodyField::Output, "00"))
        );
        assert!(step_body_sk("a-b", BodyField::Output, "00").starts_with(&step_bodies_prefix("a-b")));
        assert_eq!(parse_collection_sk("B#nope#00"), None);
    }

    #[test]
    fn listing_keys_put_the_value_last_and_shard_only_when_enabled() {
        assert_eq!(listing_pk("p1", "2026-11", 0, 1, None), "X#p1#2026-11");
        assert_eq!(listing_pk("p1", "2026-11", 0, 1, Some("a#b")), "X#p1#2026-11#a#b");
        assert_eq!(listing_pk("p1", "2026-11", 3, 4, Some("sf")), "X#p1#2026-11#s3#sf");
    }

    #[test]
    fn shards_are_stable_and_in_range() {
        for id in ["a", "b", "c", "0f8e"] {
            assert_eq!(shard_of(id, 1), 0);
            let s = shard_of(id, 8);
            assert!(s < 8);
            assert_eq!(s, shard_of(id, 8));
        }
    }

    #[test]
    fn date_bounds_include_after_and_exclude_before() {
        let t = parse("2026-11-01T00:00:00Z").unwrap();
        let at_t = listing_sk("2026-11-01T00:00:00.000Z", "zzzz");
        let just_before = listing_sk("2026-10-31T23:59:59.999Z", "\u{7f}zz");
        assert!(at_t >= listing_sk_from(t));
        assert!(at_t > listing_sk_before(t));
        assert!(just_before <= listing_sk_before(t));
    }

    #[test]
    fn month_buckets_cover_the_range() {
        let from = parse("2026-10-15").unwrap();
        let to = parse("2027-01-02").unwrap();
        assert_eq!(month_buckets(from, to), ["2026-10", "2026-11", "2026-12", "2027-01"]);
        assert_eq!(month_buckets(to, from), Vec::<String>::new());
    }

    #[test]
    fn ids_with_separators_are_refused() {
        assert!(valid_id("c70cafa5-4f80-45c7-b5b3-71454f6d638d"));
        for bad in ["", "a#b", "a/b", "a b", "a?b", &"x".repeat(129)] {
            assert!(!valid_id(bad), "{bad}");
        }
    }
}
