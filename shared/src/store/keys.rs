//! Every key format of the table and the bucket. Private to the store: nothing outside `store/`
//! builds or parses a key. The layout and its reasons are in docs/data-model.md.

use crate::model::{Field, LogField};
use chrono::{DateTime, Datelike, TimeZone, Utc};
use sha2::{Digest, Sha256};

/// Sort key of an execution summary.
pub const SUMMARY_SK: &str = "A";
/// Prefix of step sort keys.
pub const STEP_PREFIX: &str = "S#";
/// Above every step sort key (`$` sorts right after `#`).
pub const STEPS_END: &str = "S$";

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
            ListIndex::Table => "pk",
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
            ListIndex::Table => "sk",
            _ => "lsk",
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

    /// Whether partitions of this index span all time: a trace is short-lived and small, so its
    /// records share one partition (one Query reads the whole trace).
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
        (_, ListIndex::Trace) => trace_pk(project, value.unwrap_or("")),
        (Source::Logs, ListIndex::Table) => log_pk(project, bucket, shard, shards),
        (Source::Logs, _) => hashed(&format!(
            "L{}",
            listing_partition(project, bucket, shard, shards, value)
        )),
        (Source::Executions, _) => listing_pk(project, bucket, shard, shards, value),
    }
}

/// The table partition of a project's event logs of one month (and shard).
pub fn log_pk(project: &str, bucket: &str, shard: u32, shards: u32) -> String {
    let mut key = format!("LG#{project}#{bucket}");
    if shards > 1 {
        key.push_str(&format!("#s{shard}"));
    }
    key
}

/// The project and month of a log partition key.
pub fn parse_log_pk(pk: &str) -> Option<(&str, &str)> {
    let mut parts = pk.strip_prefix("LG#")?.split('#');
    Some((parts.next()?, parts.next()?))
}

/// The trace partition: every execution and event log of one trace, in time order.
pub fn trace_pk(project: &str, trace: &str) -> String {
    hashed(&format!("R#{project}#{trace}"))
}

fn hashed(partition: &str) -> String {
    use base64::Engine;
    let digest = Sha256::digest(partition.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..12])
}

pub fn execution_pk(project: &str, execution_id: &str) -> String {
    format!("EX#{project}#{execution_id}")
}

pub fn step_sk(step_id: &str) -> String {
    format!("{STEP_PREFIX}{step_id}")
}

/// The step id of a step sort key.
pub fn step_id_of(sk: &str) -> Option<&str> {
    sk.strip_prefix(STEP_PREFIX)
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
/// for (`items::in_partition`), so even a digest collision could not leak a row.
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
    format!("{:013}", t.timestamp_millis().max(0))
}

/// The highest listing sort key strictly before `t`: one millisecond earlier, then `$`, which sorts
/// after `#` and therefore after every id at that millisecond.
pub fn listing_sk_before(t: DateTime<Utc>) -> String {
    format!("{:013}$", (t.timestamp_millis() - 1).max(0))
}

/// Step order: `dateStarted` millis then id, the same shape as a listing key.
pub fn step_order_key(started_millis: i64, step_id: &str) -> String {
    listing_sk(started_millis, step_id)
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

/// An archive object: Hive-style partitions by project and day, so Athena and BigQuery prune by
/// both.
pub fn archive_object_key(project: &str, date: &str, part: &str) -> String {
    format!("archive/projectId={project}/date={date}/{part}.jsonl.gz")
}

/// An export object: the same Hive-style partitions as the archive, under `exports/`.
pub fn export_object_key(project: &str, date: &str, name: &str) -> String {
    format!("exports/projectId={project}/date={date}/{name}")
}

/// The register of the projects that stored records on a day: one partition per day, one item per
/// project, so the daily export finds them with one Query.
pub fn project_day_pk(date: &str) -> String {
    format!("DAY#{date}")
}

pub const PROJECT_DAY_PREFIX: &str = "P#";

/// Sort key of an execution's token fingerprints (after its steps, so reading an execution with
/// its steps never reads them).
pub const TOKENS_SK: &str = "T";

/// Why ids of these lengths would make a key past its limit (S3 object keys 1,024 bytes, DynamoDB
/// partition keys 2,048 and sort keys 1,024); `None` when every key they become part of fits.
pub fn ids_problem(project: &str, execution: &str, step: Option<&str>) -> Option<String> {
    let digest = "0".repeat(64);
    let checks = [
        (
            "a stored body's S3 key",
            body_object_key(project, Some(execution), &digest).len(),
            1024,
        ),
        ("an execution's key", execution_pk(project, execution).len(), 2048),
        ("a listing key", listing_sk(0, execution).len(), 1024),
        ("a step's key", step.map_or(0, |s| step_sk(s).len()), 1024),
    ];
    checks
        .into_iter()
        .find(|(_, len, max)| len > max)
        .map(|(what, len, max)| format!("the ids make {what} {len} bytes long; the limit is {max}"))
}

/// S3 object key of an offloaded body: content addressed, so retries rewrite the same object.
/// Event-log bodies sit under `log` (never an execution's own folder: ids have no `/`, and a body
/// is content addressed, so even an execution named `log` would only share identical bytes).
pub fn body_object_key(project: &str, execution_id: Option<&str>, sha256_hex: &str) -> String {
    format!("bodies/{project}/{}/{sha256_hex}", execution_id.unwrap_or("log"))
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn step_keys_sort_between_the_summary_and_the_end() {
        assert!(SUMMARY_SK < step_sk("0").as_str());
        assert!(step_sk("\u{10ffff}").as_str() < STEPS_END);
        assert_eq!(step_id_of(&step_sk("a#b")), Some("a#b"));
    }
}
