//! The listing indexes: their names, partition and sort keys, what each projects, which entries
//! belong to a partition, and where a read resumes. Every partition-key format lives here; each
//! entity says which of its attributes an index is keyed by and projects.

use super::event_log;
use super::event_log::log_pk;
use super::execution;
use super::execution::{attribute, LISTED};
use super::shard_layout::ShardLayout;
use super::table::{s, string_attr, Item, LSK, PK, SK};
use crate::model::{Field, LogField};
use chrono::{DateTime, Datelike, TimeZone, Utc};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// The listing indexes, in the order a query prefers them (most selective first). `triggerType`
/// has none: it takes a handful of values per project, so the project index with a filter serves
/// it, and every execution saves the two write units an index entry costs (docs/data-model.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ListIndex {
    /// The table itself: event logs are keyed by project and month, so their plain listing needs
    /// no index (and reads whole items, payload included).
    Table,
    Trace,
    User,
    Workflow,
    Integration,
    Status,
    Project,
}

impl ListIndex {
    /// Every index keyed by a dimension value, in preference order.
    pub const DIMENSIONS: [ListIndex; 5] = [
        ListIndex::Trace,
        ListIndex::User,
        ListIndex::Workflow,
        ListIndex::Integration,
        ListIndex::Status,
    ];
    /// The secondary indexes.
    pub const ALL: [ListIndex; 6] = [
        ListIndex::Trace,
        ListIndex::User,
        ListIndex::Workflow,
        ListIndex::Integration,
        ListIndex::Status,
        ListIndex::Project,
    ];

    /// `None`: the table.
    pub fn index_name(self) -> Option<&'static str> {
        Some(match self {
            ListIndex::Table => return None,
            ListIndex::Project => "byProject",
            ListIndex::Integration => "byIntegration",
            ListIndex::User => "byUser",
            ListIndex::Workflow => "byWorkflow",
            ListIndex::Status => "byStatus",
            ListIndex::Trace => "byTrace",
        })
    }

    /// The item attribute holding this index's partition key.
    pub fn key_attribute(self) -> &'static str {
        match self {
            ListIndex::Table => PK,
            ListIndex::Project => "gP",
            ListIndex::Integration => "gI",
            ListIndex::User => "gU",
            ListIndex::Workflow => "gW",
            ListIndex::Status => "gS",
            ListIndex::Trace => "gR",
        }
    }

    /// The item attribute holding this index's sort key: the listing key (a log item's sort key
    /// is its listing key too).
    pub fn sort_attribute(self) -> &'static str {
        match self {
            ListIndex::Table => SK,
            _ => LSK,
        }
    }

    /// The dimension field this index is keyed by (`None`: project, or status).
    pub fn field(self) -> Option<Field> {
        match self {
            ListIndex::Integration => Some(Field::Integration),
            ListIndex::User => Some(Field::UserId),
            ListIndex::Workflow => Some(Field::WorkflowId),
            ListIndex::Trace => Some(Field::TraceId),
            ListIndex::Status | ListIndex::Project | ListIndex::Table => None,
        }
    }

    /// The event-log field this index is keyed by, for the indexes event logs are entered in.
    pub fn log_field(self) -> Option<LogField> {
        match self {
            ListIndex::Integration => Some(LogField::IntegrationId),
            ListIndex::User => Some(LogField::EndUserId),
            ListIndex::Workflow => Some(LogField::WorkflowId),
            ListIndex::Trace => Some(LogField::TraceId),
            _ => None,
        }
    }

    /// Whether partitions of this index span all time: a trace is short-lived, so its records
    /// share one partition per shard (one Query reads a quiet project's whole trace).
    pub fn timeless(self) -> bool {
        self == ListIndex::Trace
    }
}

/// The two families of listed records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    Executions,
    Logs,
}

/// Partition of `source` records in `index` for a month bucket, shard and value. Executions and
/// event logs of one trace share the trace partition; otherwise each family has its own partitions.
pub fn partition_key(
    source: Source,
    index: ListIndex,
    project: &str,
    bucket: &str,
    shard: u32,
    shards: u32,
    value: Option<&str>,
) -> String {
    match (source, index) {
        (_, ListIndex::Trace) => trace_pk(project, value.unwrap_or(""), shard, shards),
        (Source::Logs, ListIndex::Table) => log_pk(project, bucket, shard, shards),
        (Source::Logs, _) => hashed(&format!(
            "L{}",
            listing_partition(project, bucket, shard, shards, value)
        )),
        (Source::Executions, _) => listing_pk(project, bucket, shard, shards, value),
    }
}

/// A trace partition: the executions and event logs of one trace (of one shard of it, when the
/// project's records of that time are sharded), in time order.
pub fn trace_pk(project: &str, trace: &str, shard: u32, shards: u32) -> String {
    if shards > 1 {
        hashed(&format!("R#{project}#s{shard}#{trace}"))
    } else {
        hashed(&format!("R#{project}#{trace}"))
    }
}

fn hashed(partition: &str) -> String {
    use base64::Engine;
    let digest = Sha256::digest(partition.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..12])
}

/// Month bucket of a listing partition.
pub fn month_bucket(t: DateTime<Utc>) -> String {
    format!("{:04}-{:02}", t.year(), t.month())
}

/// Every month from `from` to `to`, inclusive, oldest first: (bucket, first instant of the month).
pub fn months(from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<(String, DateTime<Utc>)> {
    let (mut y, mut m) = (from.year(), from.month());
    let mut out = Vec::new();
    while (y, m) <= (to.year(), to.month()) {
        if let Some(start) = Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0).single() {
            out.push((format!("{y:04}-{m:02}"), start));
        }
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

/// The partition a listing entry belongs to, readable: the dimension value comes last, and project
/// ids hold no `#`, so values containing `#` cannot collide.
pub fn listing_partition(project: &str, bucket: &str, shard: u32, shards: u32, value: Option<&str>) -> String {
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

/// Partition key value of a listing index: the first 96 bits of the SHA-256 of the partition,
/// base64url (16 characters). The readable form repeats the project and the value, which the
/// summary and every index entry carry already; the digest keeps each summary about 300 bytes and
/// each entry about 50 bytes smaller. Readers check every entry against the partition they asked
/// for (`in_partition`), so even a digest collision could not leak a row.
pub fn listing_pk(project: &str, bucket: &str, shard: u32, shards: u32, value: Option<&str>) -> String {
    hashed(&listing_partition(project, bucket, shard, shards, value))
}

/// Listing sort key: `dateStarted` as 13-digit epoch milliseconds (fixed width, so string order is
/// time order), then the id to break ties.
pub fn listing_sk(started_millis: i64, execution_id: &str) -> String {
    format!("{started_millis:013}#{execution_id}")
}

/// Parses the time and id out of a listing sort key.
pub fn parse_listing_sk(lsk: &str) -> Option<(i64, &str)> {
    let (millis, id) = lsk.split_once('#')?;
    Some((millis.parse().ok()?, id))
}

/// The lowest listing sort key at or after `t`.
pub fn listing_sk_from(t: DateTime<Utc>) -> String {
    listing_sk_from_millis(t.timestamp_millis())
}

pub fn listing_sk_from_millis(millis: i64) -> String {
    format!("{:013}", millis.max(0))
}

/// The highest listing sort key strictly before `t`: one millisecond earlier, then `$`, which sorts
/// after `#` and therefore after every id at that millisecond.
pub fn listing_sk_before(t: DateTime<Utc>) -> String {
    listing_sk_through_millis(t.timestamp_millis() - 1)
}

/// The highest listing sort key at `millis`.
pub fn listing_sk_through_millis(millis: i64) -> String {
    format!("{:013}$", millis.max(0))
}

/// The non-key attributes `index` projects.
pub fn projection(index: ListIndex) -> Vec<&'static str> {
    let mut out = LISTED.to_vec();
    match index {
        ListIndex::Trace => out.extend(event_log::TRACED),
        ListIndex::User | ListIndex::Integration | ListIndex::Workflow => out.extend(event_log::FILTERED),
        _ => {}
    }
    out
}

/// The entry an item has in `index`: its keys and what the index projects (the whole item for the
/// table); `None` when the item is not in the index.
pub fn index_entry(item: &Item, index: ListIndex) -> Option<Item> {
    item.get(index.key_attribute())?;
    if index == ListIndex::Table {
        return Some(item.clone());
    }
    let projected = projection(index);
    Some(
        item.iter()
            .filter(|(k, _)| {
                let k = k.as_str();
                k == PK || k == SK || k == LSK || k == index.key_attribute() || projected.contains(&k)
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    )
}

/// The listing key of an entry of `index`, or of a `LastEvaluatedKey` from it (which holds only key
/// attributes: for the table, `pk` and `sk`).
pub fn entry_key(item: &Item, index: ListIndex) -> &str {
    string_attr(item, index.sort_attribute()).unwrap_or("")
}

/// Whether an entry belongs to `partition` of `index` and to the `source` family: recomputed from
/// the entry itself (its shard from the epoch of its own time), so neither a partition-key digest
/// collision nor a trace partition (which holds both families) can put a foreign row in a listing.
pub fn in_partition(
    source: Source,
    project: &str,
    index: ListIndex,
    partition: &str,
    item: &Item,
    layout: &ShardLayout,
) -> bool {
    let Some((started, id)) = string_attr(item, LSK).and_then(parse_listing_sk) else {
        return false;
    };
    let Some(t) = chrono::DateTime::from_timestamp_millis(started) else {
        return false;
    };
    let shards = layout.shards_at(started);
    let bucket = month_bucket(t);
    let shard = shard_of(id, shards);
    let value = match source {
        Source::Executions => {
            if string_attr(item, PK) != Some(execution::execution_pk(project, id).as_str())
                || string_attr(item, SK) != Some(execution::SUMMARY_SK)
            {
                return false;
            }
            match index {
                ListIndex::Project | ListIndex::Table => None,
                ListIndex::Status => string_attr(item, attribute(Field::Status)),
                _ => index.field().and_then(|f| string_attr(item, attribute(f))),
            }
        }
        Source::Logs => {
            if string_attr(item, PK) != Some(event_log::log_pk(project, &bucket, shard, shards).as_str())
                || string_attr(item, SK) != string_attr(item, LSK)
            {
                return false;
            }
            index.log_field().and_then(|f| event_log::text(item, f))
        }
    };
    partition_key(source, index, project, &bucket, shard, shards, value) == partition
}

/// A position just at `lsk` in `partition`, as `ExclusiveStartKey`: a read resumes strictly after
/// it. `None` when `lsk` is a bound rather than an entry's key.
pub fn index_start(
    source: Source,
    project: &str,
    index: ListIndex,
    partition: &str,
    lsk: &str,
    shards: u32,
) -> Option<Item> {
    let (millis, id) = parse_listing_sk(lsk)?;
    let (pk, sk) = match source {
        Source::Executions => (execution::execution_pk(project, id), execution::SUMMARY_SK.to_string()),
        // The table is read partition by partition (month and shard): the start key names the one
        // being read, wherever the entry at `lsk` lives.
        Source::Logs if index == ListIndex::Table => (partition.to_string(), lsk.to_string()),
        Source::Logs => {
            let bucket = month_bucket(chrono::DateTime::from_timestamp_millis(millis)?);
            (
                event_log::log_pk(project, &bucket, shard_of(id, shards), shards),
                lsk.to_string(),
            )
        }
    };
    let mut start = HashMap::from([(PK.to_string(), s(pk)), (SK.to_string(), s(sk))]);
    if index != ListIndex::Table {
        start.insert(index.key_attribute().to_string(), s(partition));
        start.insert(LSK.to_string(), s(lsk));
    }
    Some(start)
}

#[cfg(test)]
mod tests {
    use super::super::event_log::parse_log_pk;
    use super::*;
    use crate::dates::parse;

    #[test]
    fn listing_keys_put_the_value_last_and_shard_only_when_enabled() {
        assert_eq!(listing_partition("p1", "2026-11", 0, 1, None), "X#p1#2026-11");
        assert_eq!(
            listing_partition("p1", "2026-11", 0, 1, Some("a#b")),
            "X#p1#2026-11#a#b"
        );
        assert_eq!(
            listing_partition("p1", "2026-11", 3, 4, Some("sf")),
            "X#p1#2026-11#s3#sf"
        );
        let key = listing_pk("p1", "2026-11", 0, 1, Some("sf"));
        assert_eq!(key.len(), 16);
        assert_ne!(key, listing_pk("p1", "2026-11", 0, 1, Some("sg")));
    }

    #[test]
    fn families_have_their_own_partitions_except_a_trace() {
        let part = |source, index, bucket: &str, value| partition_key(source, index, "p1", bucket, 0, 1, value);
        let (x, l) = (Source::Executions, Source::Logs);
        assert_ne!(
            part(x, ListIndex::User, "2026-11", Some("u")),
            part(l, ListIndex::User, "2026-11", Some("u"))
        );
        assert_eq!(
            part(x, ListIndex::Trace, "2026-11", Some("t")),
            part(l, ListIndex::Trace, "2026-12", Some("t")),
            "one partition per trace, whatever the month or family"
        );
        assert_eq!(part(l, ListIndex::Table, "2026-11", None), "LG#p1#2026-11");
        assert_eq!(parse_log_pk("LG#p1#2026-11#s3"), Some(("p1", "2026-11")));
        assert_eq!(log_pk("p1", "2026-11", 3, 4), "LG#p1#2026-11#s3");
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
        let at_t = listing_sk(t.timestamp_millis(), "zzzz");
        let just_before = listing_sk(t.timestamp_millis() - 1, "\u{7f}zz");
        assert!(at_t >= listing_sk_from(t));
        assert!(at_t > listing_sk_before(t));
        assert!(just_before <= listing_sk_before(t));
        assert_eq!(parse_listing_sk(&at_t), Some((t.timestamp_millis(), "zzzz")));
    }

    #[test]
    fn months_cover_the_range() {
        let from = parse("2026-10-15").unwrap();
        let to = parse("2027-01-02").unwrap();
        let names: Vec<String> = months(from, to).into_iter().map(|(m, _)| m).collect();
        assert_eq!(names, ["2026-10", "2026-11", "2026-12", "2027-01"]);
        assert!(months(to, from).is_empty());
    }
}
