//! The capacity model behind `make scale`: the load a workload puts on each key of the table and of
//! every listing index, on the counters, the stream, the export and the archive, next to DynamoDB's,
//! Lambda's and S3's limits and the account quotas that bind first.
//!
//! Nothing here restates a key or an item: a sample of the workload's events goes through the real
//! ingest and stats paths over a `Recorder`, which bills each write to its keys with the entity
//! modules' own item functions and `index::index_entry`, and weights it by the traffic the sample
//! stands for. `model` turns those per-key counts into rates at the target.

mod record;

pub use record::{Calls, Recorder};

use super::counter;
use super::index::{self, ListIndex, Source};
use crate::model::counts::Interval;
use crate::model::Status;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

/// DynamoDB's per-partition limits, per second, and its item limit.
pub const PARTITION_WCU: f64 = 1000.0;
pub const PARTITION_RCU: f64 = 3000.0;
pub const ITEM_BYTES_MAX: usize = 400 * 1024;
/// Storage one partition holds before it splits.
const PARTITION_BYTES: f64 = 10.0 * 1024.0 * 1024.0 * 1024.0;
/// Account defaults, raised on request: an on-demand table's (and each of its indexes') units a
/// second, and Lambda's concurrent executions per region.
pub const TABLE_QUOTA: f64 = 40_000.0;
pub const LAMBDA_CONCURRENCY: f64 = 1000.0;
/// What a new on-demand table serves at first; it then takes up to twice its previous peak, a
/// doubling every 30 minutes at most.
const NEW_TABLE_WCU: f64 = 4000.0;
const NEW_TABLE_RCU: f64 = 12_000.0;
/// Readers a stream shard serves at once; ours are the stats and archive functions.
const SHARD_READERS: u32 = 2;
const CONSUMERS: u32 = 2;
/// S3 PUTs a second one prefix takes (an archive object's prefix is one project and day).
const PREFIX_PUTS: f64 = 3500.0;
/// The targets for counters, the archive and the hot day's export.
const COUNTER_ITEM_BYTES: f64 = 4096.0;
const COUNTER_ITEM_UPDATES: f64 = 100.0;
const ARCHIVE_PUTS: f64 = 100.0;
const ARCHIVE_OBJECT_BYTES: f64 = 1024.0 * 1024.0;
const HOT_DAY_SECONDS: f64 = 3600.0;
/// The event source mappings (infra/template.yaml): records per batch, batching windows (s).
const STREAM_BATCH: f64 = 100.0;
const STATS_WINDOW: f64 = 5.0;
const ARCHIVE_WINDOW: f64 = 30.0;
/// Counter writes the stats function has in flight (store/counter/keep.rs).
const COUNTER_WRITES_IN_FLIGHT: f64 = 16.0;
/// The export's time per run: its timeout less the 5 minutes in which it starts no new day.
const EXPORT_SECONDS: f64 = 600.0;
/// Collection Queries the export has in flight (export/mod.rs).
const EXPORT_IN_FLIGHT: f64 = 16.0;

/// Readable names of the sample's ids (project, values), for the report.
#[derive(Clone, Debug, Default)]
pub struct Names {
    /// (id, name), projects first.
    pub projects: Vec<(String, String)>,
    pub values: Vec<(String, String)>,
}

/// What the caller measured of the paths the recorder cannot time, at this machine's speed, and
/// the workload's figures the model scales by.
#[derive(Clone, Debug, Default)]
pub struct Measured {
    pub list_shards: u32,
    pub retention_days: i64,
    /// A DynamoDB or S3 round trip in AWS, ms (an assumption, not a measurement).
    pub call_ms: f64,
    pub ingest_invocations_per_s: f64,
    pub ingest_calls_per_invocation: f64,
    pub ingest_puts_per_invocation: f64,
    pub ingest_cpu_ms: f64,
    /// How long an ingest instance's note of a project day holds (`ingest::DAY_LEASE`), seconds:
    /// an instance writes a day's register entry at most once in it.
    pub register_lease_s: f64,
    /// CPU time of one stats batch of `STREAM_BATCH` records and one archive batch, ms.
    pub stats_batch_cpu_ms: f64,
    pub archive_batch_cpu_ms: f64,
    /// Rows a second the export writes on this machine (in-memory store), and rows per execution.
    pub export_rows_per_s: f64,
    pub export_rows_per_execution: f64,
    /// The hot project's share of the records.
    /// Projects at the target, the hot one included.
    pub projects: f64,
    pub hot_share: f64,
    /// Queries one 100-item page takes: (what, Queries).
    pub fanout: Vec<(String, u64)>,
}

/// One key's load at the target.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyLoad {
    /// `table` or the index's name.
    pub place: &'static str,
    pub key: String,
    pub wcu: f64,
    pub rcu: f64,
    pub item_bytes: usize,
    /// A counter partition (`ST#`), whose load the counter model gives.
    pub counter: bool,
}

impl KeyLoad {
    pub fn over(&self) -> bool {
        self.wcu > PARTITION_WCU || self.rcu > PARTITION_RCU
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct CounterLoad {
    pub key: String,
    pub updates_per_s: f64,
    pub marks: f64,
    pub bytes: usize,
    pub wcu: f64,
}

/// A limit or quota next to what the target needs of it.
#[derive(Clone, Debug, PartialEq)]
pub struct Check {
    pub what: String,
    pub need: f64,
    pub limit: f64,
    /// A quota raised on request (not a hard limit).
    pub quota: bool,
    /// `need` must reach `limit` (a floor), not stay within it.
    pub at_least: bool,
    pub note: String,
}

impl Check {
    /// Whether the figure is on the wrong side of its limit.
    pub fn over(&self) -> bool {
        if self.at_least {
            self.need < self.limit
        } else {
            self.need > self.limit
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Report {
    pub list_shards: u32,
    /// The busiest keys of the table and of each index, busiest first.
    pub keys: Vec<KeyLoad>,
    /// An execution's own keys (its collection, its trace): writes and units over its life.
    pub own_writes: u64,
    pub own_wcu: u64,
    pub own_bytes: usize,
    pub counters: Vec<CounterLoad>,
    pub table_wcu: f64,
    pub table_rcu: f64,
    /// The counters' part of `table_wcu`.
    pub counter_wcu: f64,
    pub index_wcu: Vec<(&'static str, f64)>,
    pub storage_bytes: f64,
    pub partitions: f64,
    pub partitions_by_throughput: f64,
    pub stats_records_per_s: f64,
    pub removes_per_s: f64,
    pub rows_per_s: f64,
    pub checks: Vec<Check>,
    /// Queries one 100-item page takes: (what, Queries).
    pub fanout: Vec<(String, u64)>,
}

impl Report {
    /// Hard limits the target passes.
    pub fn limits_passed(&self) -> Vec<&Check> {
        self.checks.iter().filter(|c| !c.quota && c.over()).collect()
    }

    pub fn quota_increases(&self) -> Vec<&Check> {
        self.checks.iter().filter(|c| c.quota && c.over()).collect()
    }

    /// The busiest listing partition's load (every index but the trace's; the table's event-log
    /// partitions are listing partitions too).
    pub fn busiest_listing(&self) -> Option<&KeyLoad> {
        self.keys
            .iter()
            .filter(|k| k.place != "table" && k.place != "byTrace")
            .max_by(|a, b| a.wcu.total_cmp(&b.wcu))
    }
}

/// `n` execution ids of `chars` characters whose listing shards go round-robin over `shards`, so a
/// sample splits over the shards as evenly as the real traffic does on average.
pub fn balanced_ids(n: usize, shards: u32) -> Vec<String> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let id = uuid::Uuid::new_v4().to_string();
        if index::shard_of(&id, shards) == (out.len() as u32) % shards.max(1) {
            out.push(id);
        }
    }
    out
}

/// The month bucket of listing partitions at `t`.
pub fn bucket(t: chrono::DateTime<chrono::Utc>) -> String {
    index::month_bucket(t)
}

fn index_name(index: Option<ListIndex>) -> &'static str {
    index.and_then(ListIndex::index_name).unwrap_or("table")
}

/// Readable forms of the listing partitions the sample's names can key.
fn labels(names: &Names, bucket: &str, shards: u32) -> HashMap<String, String> {
    let rename = |text: String| {
        names
            .projects
            .iter()
            .chain(&names.values)
            .fold(text, |t, (id, name)| t.replace(id.as_str(), name))
    };
    let mut values: Vec<Option<String>> = vec![None];
    values.extend(names.values.iter().map(|(id, _)| Some(id.clone())));
    values.extend(Status::ALL.iter().map(|s| Some(s.as_str().to_string())));
    let mut out = HashMap::new();
    for (project, _) in &names.projects {
        // Labels for both layouts: the hot project's shards and the quiet projects' one.
        for (shard, shards) in (0..shards.max(1)).map(|k| (k, shards)).chain([(0, 1)]) {
            for v in &values {
                for index in ListIndex::ALL {
                    let key =
                        index::partition_key(Source::Executions, index, project, bucket, shard, shards, v.as_deref());
                    let readable = index::listing_partition(project, bucket, shard, shards, v.as_deref());
                    out.entry(key).or_insert_with(|| rename(readable));
                }
            }
        }
    }
    out
}

impl<B> Recorder<B> {
    /// The load of what was recorded, at the target, next to the limits.
    pub fn model(&self, names: &Names, bucket: &str, m: &Measured) -> Report {
        let s = self.state.lock().unwrap();
        let copies = |sample: &usize| s.samples.get(*sample).map_or(1.0, |x| x.copies);
        // A key two samples of alike projects both wrote is shared by every project they stand
        // for; one only one of them wrote is that project's own.
        let shared = |samples: &mut dyn Iterator<Item = &usize>| {
            samples
                .filter(|x| copies(x) > 1.0)
                .collect::<std::collections::HashSet<_>>()
                .len()
                >= 2
        };
        let factor = |shared: bool| move |sample: &usize| if shared { copies(sample) } else { 1.0 };
        let labels = labels(names, bucket, m.list_shards);
        let rename = |text: &str| {
            names
                .projects
                .iter()
                .chain(&names.values)
                .fold(text.to_string(), |t, (id, name)| t.replace(id.as_str(), name))
        };
        let mut r = Report {
            list_shards: m.list_shards,
            ..Report::default()
        };

        let mut index_wcu: BTreeMap<&'static str, f64> = BTreeMap::new();
        let (mut table_wcu, mut table_rcu) = (0.0, 0.0);
        let mut keys = Vec::new();
        // A register partition holds the projects whose ids hash to it: its load is one quiet
        // project's register writes times the projects in the fullest partition (of as many
        // projects as the quiet samples stand for), whichever samples happened to meet in it.
        let register = |index: &Option<ListIndex>, key: &str| {
            index.is_none() && key.starts_with(super::project_day::PARTITION_PREFIX)
        };
        let quiet_samples: Vec<&record::Sample> = s.samples.iter().filter(|x| x.copies > 1.0).collect();
        let quiet_projects: f64 = quiet_samples.iter().map(|x| x.copies).sum();
        let register_wcu_per_quiet_project = s
            .keys
            .iter()
            .filter(|((index, key), _)| register(index, key))
            .flat_map(|(_, t)| t.by_sample.iter())
            .filter(|(sample, _)| copies(sample) > 1.0)
            .map(|(_, share)| share.wcu)
            .sum::<f64>()
            / quiet_samples.len().max(1) as f64;
        let fullest_register = fullest_register_partition(quiet_projects.round() as usize) as f64;
        // The hot project notes its day from every ingest instance, each at most once a lease.
        let hot_register_cap = ingest_instances(m) / m.register_lease_s.max(1.0);
        for ((index, key), t) in &s.keys {
            let counter_partition = index.is_none() && s.counters.keys().any(|(pk, _)| pk == key);
            let f = factor(shared(&mut t.by_sample.keys()));
            let (mut wcu, mut rcu) = (0.0, 0.0);
            let mut hot_register = 0.0;
            if register(index, key) {
                wcu = register_wcu_per_quiet_project * fullest_register;
            }
            for (sample, share) in &t.by_sample {
                if register(index, key) {
                    // The hot project's own writes add to the partition it hashes to.
                    hot_register += if copies(sample) > 1.0 { 0.0 } else { share.wcu };
                } else {
                    wcu += share.wcu * f(sample);
                }
                rcu += share.rcu * f(sample);
                table_rcu += if index.is_none() {
                    share.rcu * copies(sample)
                } else {
                    0.0
                };
                if counter_partition {
                    continue;
                }
                match index {
                    None => table_wcu += share.wcu * copies(sample),
                    Some(i) => *index_wcu.entry(index_name(Some(*i))).or_default() += share.wcu * copies(sample),
                }
            }
            if counter_partition {
                continue;
            }
            wcu += hot_register.min(hot_register_cap);
            if t.writers.len() == 1 && !register(index, key) {
                r.own_writes = r.own_writes.max(t.sample_writes);
                r.own_wcu = r.own_wcu.max(t.sample_wcu);
                r.own_bytes = r.own_bytes.max(t.max_bytes);
                continue;
            }
            let readable = labels.get(key).cloned().unwrap_or_else(|| rename(key));
            keys.push(KeyLoad {
                place: index_name(*index),
                key: readable,
                wcu,
                rcu,
                item_bytes: t.max_bytes,
                counter: false,
            });
        }

        // Storage at steady state (every record kept for the retention), and the rows and TTL
        // deletions it turns over.
        let per_s: f64 = s
            .stored
            .values()
            .map(|(bytes, sample, w)| *bytes as f64 * w * copies(sample))
            .sum();
        r.storage_bytes = per_s * 86_400.0 * m.retention_days as f64;
        r.removes_per_s = s.stored.values().map(|(_, sample, w)| w * copies(sample)).sum();
        r.rows_per_s = s.rows_per_s(&copies);
        r.stats_records_per_s = s.counted_records.iter().map(|(sample, w)| w * copies(sample)).sum();
        let partitions_by_storage = (r.storage_bytes / PARTITION_BYTES).ceil().max(1.0);

        // Counters: the stats function writes each counter once per batch that changes it. With
        // stream shards as many as table partitions, a shard's batch holds `b` records; a counter
        // that `t` of the `R` records a second change is in `1 - (1 - t/R)^b` of the batches. A
        // shard writes the one slot item (of `counter::SLOTS`) its id hashes to and leaves its mark
        // there; marks older than `MARK_LIFETIME_SECONDS` are pruned. The sample ran on one shard,
        // so each counter's sample item stands for each of its slots. Ingest's notes go to a slot
        // per instance, so each note item takes a slot's share.
        let hour_prefix: String = counter::sort_key(Interval::Hour, chrono::DateTime::UNIX_EPOCH, "", 0)
            .chars()
            .take(1)
            .collect();
        let slots = f64::from(counter::SLOTS);
        let lifetime = counter::MARK_LIFETIME_SECONDS as f64;
        let rate = r.stats_records_per_s.max(1e-9);
        // Partitions (and stream shards) from storage and the records' own writes: counting the
        // counters' writes in too would feed their marks back into their size without end.
        r.partitions_by_throughput = (table_wcu / PARTITION_WCU + table_rcu / PARTITION_RCU).ceil().max(1.0);
        let partitions = partitions_by_storage.max(r.partitions_by_throughput);
        let mut counters = Vec::new();
        let mut counter_wcu = 0.0;
        let mut by_partition: BTreeMap<String, f64> = BTreeMap::new();
        {
            let per_batch = (rate / partitions * STATS_WINDOW).clamp(1.0, STREAM_BATCH);
            let batches = rate / per_batch;
            for ((pk, sk), c) in &s.counters {
                let is_shared = shared(&mut c.touches.keys().chain(c.notes.keys()));
                let f = factor(is_shared);
                let touched: f64 = c.touches.iter().map(|(x, t)| t * f(x)).sum();
                let noted: f64 = c.notes.iter().map(|(x, t)| t * f(x)).sum();
                let all_slots = batches * (1.0 - (1.0 - (touched / rate).min(1.0)).powf(per_batch));
                let updates = all_slots / slots;
                let noted = noted / slots;
                let seconds: f64 = if sk.starts_with(&hour_prefix) { 3600.0 } else { 86_400.0 };
                let window = seconds.min(lifetime);
                let marks = if updates > 0.0 {
                    (partitions / slots * (1.0 - (-all_slots / partitions * window).exp())).max(1.0)
                } else {
                    0.0
                };
                let sample_marks = if c.touches.is_empty() { 0 } else { c.mark_bytes };
                let bytes = c.bytes - sample_marks + (marks * c.mark_bytes as f64) as usize;
                let wcu = (updates + noted) * super::capacity::units(bytes) as f64;
                // Every real project alike has counters of its own like a sample's.
                let alike = c
                    .touches
                    .keys()
                    .chain(c.notes.keys())
                    .map(copies)
                    .fold(1.0_f64, f64::max);
                counter_wcu += wcu * if is_shared { 1.0 } else { alike };
                *by_partition.entry(pk.clone()).or_default() += wcu;
                counters.push(CounterLoad {
                    key: rename(&format!("{pk} {sk}")),
                    updates_per_s: updates + noted,
                    marks,
                    bytes,
                    wcu,
                });
            }
        }
        r.partitions = partitions;
        for (pk, wcu) in by_partition {
            let rcu = s
                .keys
                .get(&(None, pk.clone()))
                .map_or(0.0, |t| t.by_sample.values().map(|x| x.rcu).sum());
            keys.push(KeyLoad {
                place: "table",
                key: rename(&pk),
                wcu,
                rcu,
                item_bytes: 0,
                counter: true,
            });
        }
        for k in keys.iter_mut().filter(|k| k.place == "table") {
            if let Some(c) = counters
                .iter()
                .filter(|c| c.key.starts_with(&k.key))
                .map(|c| c.bytes)
                .max()
            {
                k.item_bytes = c;
            }
        }
        counters.sort_by(|a, b| b.wcu.total_cmp(&a.wcu));
        keys.sort_by(|a, b| b.wcu.total_cmp(&a.wcu).then(b.rcu.total_cmp(&a.rcu)));
        r.counters = counters;
        r.keys = keys;
        r.table_wcu = table_wcu + counter_wcu;
        r.counter_wcu = counter_wcu;
        r.table_rcu = table_rcu;
        r.index_wcu = index_wcu.into_iter().collect();
        r.checks = checks(&r, m);
        r.fanout = m.fanout.clone();
        r
    }
}

impl record::State {
    fn rows_per_s(&self, copies: &dyn Fn(&usize) -> f64) -> f64 {
        self.stored
            .iter()
            .filter(|((_, sk), _)| *sk != super::tokens::tokens_key("", "").1)
            .map(|(_, (_, sample, w))| w * copies(sample))
            .sum()
    }
}

fn check(what: impl Into<String>, need: f64, limit: f64, quota: bool, note: impl Into<String>) -> Check {
    Check {
        what: what.into(),
        need,
        limit,
        quota,
        at_least: false,
        note: note.into(),
    }
}

/// A figure that must reach `limit` rather than stay within it.
fn check_at_least(what: impl Into<String>, need: f64, limit: f64, note: impl Into<String>) -> Check {
    Check {
        at_least: true,
        ..check(what, need, limit, false, note)
    }
}

/// Every limit and quota next to what the target needs of it.
fn checks(r: &Report, m: &Measured) -> Vec<Check> {
    let mut out = Vec::new();
    // Per partition: a listing index that throttles throttles the table's writes too.
    if let Some(k) = r.keys.iter().find(|k| k.place == "table" && !k.counter) {
        out.push(check(
            format!("table busiest partition WCU/s but counters ({})", k.key),
            k.wcu,
            PARTITION_WCU,
            false,
            "",
        ));
    }
    for place in [
        "table",
        "byProject",
        "byStatus",
        "byWorkflow",
        "byUser",
        "byIntegration",
        "byTrace",
    ] {
        if let Some(k) = r.keys.iter().find(|k| k.place == place) {
            let note = if place == "table" {
                ""
            } else {
                "a throttled index throttles the table"
            };
            out.push(check(
                format!("{place} busiest partition WCU/s ({})", k.key),
                k.wcu,
                PARTITION_WCU,
                false,
                note,
            ));
        }
    }
    if let Some(k) = r.keys.iter().max_by(|a, b| a.rcu.total_cmp(&b.rcu)) {
        out.push(check(
            format!("busiest partition RCU/s ({})", k.key),
            k.rcu,
            PARTITION_RCU,
            false,
            "",
        ));
    }
    if let Some(c) = r.counters.iter().max_by_key(|c| c.bytes) {
        out.push(check(
            format!("largest counter item, bytes ({})", c.key),
            c.bytes as f64,
            COUNTER_ITEM_BYTES,
            false,
            "a mark per stream shard of its slot within the mark lifetime",
        ));
    }
    if let Some(c) = r
        .counters
        .iter()
        .max_by(|a, b| a.updates_per_s.total_cmp(&b.updates_per_s))
    {
        out.push(check(
            format!("busiest counter item, updates/s ({})", c.key),
            c.updates_per_s,
            COUNTER_ITEM_UPDATES,
            false,
            "one per stream batch that changes it",
        ));
    }

    // The stream: one shard per partition, each read by both consumers.
    let shards = r.partitions;
    out.push(check(
        "stream readers per shard",
        CONSUMERS as f64,
        SHARD_READERS as f64,
        false,
        "stats, archive",
    ));
    let per_batch = (r.stats_records_per_s / shards * STATS_WINDOW).clamp(1.0, STREAM_BATCH);
    let updates_per_batch =
        r.counters.iter().map(|c| c.updates_per_s).sum::<f64>() / (r.stats_records_per_s / per_batch).max(1e-9);
    let stats_ms = m.stats_batch_cpu_ms * per_batch / STREAM_BATCH
        + (updates_per_batch / COUNTER_WRITES_IN_FLIGHT).ceil().max(1.0) * m.call_ms;
    out.push(check(
        format!("stats records/s per shard ({per_batch:.0} a batch, {stats_ms:.0} ms a batch)"),
        r.stats_records_per_s / shards,
        per_batch / (stats_ms / 1000.0),
        false,
        "",
    ));
    let archive_batch = (r.removes_per_s / shards * ARCHIVE_WINDOW).clamp(1.0, STREAM_BATCH);
    let archive_ms = m.archive_batch_cpu_ms * archive_batch / STREAM_BATCH + 2.0 * m.call_ms;
    out.push(check(
        format!("archive records/s per shard ({archive_batch:.0} a batch, {archive_ms:.0} ms a batch)"),
        r.removes_per_s / shards,
        archive_batch / (archive_ms / 1000.0),
        false,
        "TTL deletions at steady state",
    ));
    let hot_batches = (r.removes_per_s / archive_batch) * (1.0 - (1.0 - m.hot_share).powf(archive_batch));
    out.push(check(
        "archive PUTs/s into the hot project's day prefix",
        hot_batches,
        PREFIX_PUTS,
        false,
        "one object per project and day per batch",
    ));

    // Objects the archive writes: one per project and day in each batch, so a batch holding
    // records of `n` project days writes `n`.
    let quiet = (m.projects - 1.0).max(1.0);
    let quiet_share = (1.0 - m.hot_share) / quiet;
    let per_batch_objects =
        (1.0 - (1.0 - m.hot_share).powf(archive_batch)) + quiet * (1.0 - (1.0 - quiet_share).powf(archive_batch));
    let archive_puts = r.removes_per_s / archive_batch * per_batch_objects;
    let record_bytes_per_s = r.storage_bytes / (86_400.0 * m.retention_days.max(1) as f64);
    out.push(check(
        "archive PUTs/s, every project",
        archive_puts,
        ARCHIVE_PUTS,
        false,
        "one object per project and day per batch",
    ));
    out.push(check_at_least(
        "archive object, average bytes (as stored, before gzip)",
        record_bytes_per_s / archive_puts.max(1e-9),
        ARCHIVE_OBJECT_BYTES,
        "",
    ));

    // The export: the last run of a day writes every project's day whole, within one run.
    let rows_day = r.rows_per_s * 86_400.0;
    let fetch = EXPORT_IN_FLIGHT * 1000.0 / m.call_ms.max(1e-9) * m.export_rows_per_execution;
    let export_rate = m.export_rows_per_s.min(fetch);
    out.push(check(
        format!(
            "export rows/s, last run of a day ({:.0}M rows in {EXPORT_SECONDS:.0} s)",
            rows_day / 1e6
        ),
        rows_day / EXPORT_SECONDS,
        export_rate,
        false,
        "one run at a time; limit: measured here, or 16 Queries in flight",
    ));
    out.push(check(
        "export rows/s of the hot project's day, to finish in an hour",
        rows_day * m.hot_share / HOT_DAY_SECONDS,
        export_rate,
        false,
        "one worker per project day",
    ));

    // Quotas.
    out.push(check(
        "table WCU/s (on-demand quota)",
        r.table_wcu,
        TABLE_QUOTA,
        true,
        "raise the table's write quota",
    ));
    out.push(check(
        "table RCU/s (on-demand quota)",
        r.table_rcu,
        TABLE_QUOTA,
        true,
        "raise the table's read quota",
    ));
    for (name, wcu) in &r.index_wcu {
        out.push(check(
            format!("{name} WCU/s (on-demand quota)"),
            *wcu,
            TABLE_QUOTA,
            true,
            "per index",
        ));
    }
    let doublings = (r.table_wcu / NEW_TABLE_WCU)
        .log2()
        .ceil()
        .max((r.table_rcu / NEW_TABLE_RCU).log2().ceil())
        .max(0.0);
    out.push(check(
        format!("new table's ramp: WCU/s at first ({doublings:.0} doublings of 30 min to the target)"),
        r.table_wcu,
        NEW_TABLE_WCU,
        true,
        "set warm throughput to the target",
    ));
    let ingest_ms = ingest_invocation_ms(m);
    let ingest = ingest_instances(m);
    let stats = (r.stats_records_per_s / per_batch) * stats_ms / 1000.0;
    let archive = (r.removes_per_s / archive_batch) * archive_ms / 1000.0;
    out.push(check(
        format!("Lambda concurrency (ingest {ingest:.0} at {ingest_ms:.0} ms, stats {stats:.0}, archive {archive:.0}, export 1)"),
        ingest + stats + archive + 1.0,
        LAMBDA_CONCURRENCY,
        true,
        "raise concurrent executions",
    ));
    out
}

fn si(x: f64) -> String {
    if x >= 1e6 {
        format!("{:.1}M", x / 1e6)
    } else if x >= 1e4 {
        format!("{:.1}k", x / 1e3)
    } else {
        format!("{x:.0}")
    }
}

impl Report {
    /// The report as `make scale` prints it.
    pub fn render(&self, busiest: usize) -> String {
        let mut o = String::new();
        let _ = writeln!(
            o,
            "== busiest keys at the target (limits: {PARTITION_WCU:.0} WCU/s, {PARTITION_RCU:.0} RCU/s a partition) =="
        );
        let _ = writeln!(o, "{:<13} {:>9} {:>8} {:>7}  key", "where", "WCU/s", "RCU/s", "bytes");
        let mut shown: HashMap<&str, usize> = HashMap::new();
        for k in &self.keys {
            let n = shown.entry(k.place).or_default();
            // Past the busiest few, only keys unlike those shown (not a counter) that pass a limit.
            if *n >= busiest && (k.counter || !k.over()) {
                continue;
            }
            *n += 1;
            let _ = writeln!(
                o,
                "{:<13} {:>9} {:>8} {:>7}  {}{}",
                k.place,
                si(k.wcu),
                si(k.rcu),
                k.item_bytes,
                k.key,
                if k.over() { "  OVER" } else { "" }
            );
        }
        let more = self.keys.iter().filter(|k| k.over()).count();
        let listed = o.lines().filter(|l| l.ends_with("OVER")).count();
        if more > listed {
            let _ = writeln!(o, "... and {} more keys over the limit", more - listed);
        }
        let _ = writeln!(
            o,
            "an execution's own keys (its collection, its trace): at most {} writes, {} WCU over its life, items up to {} bytes",
            self.own_writes, self.own_wcu, self.own_bytes
        );
        let _ = writeln!(
            o,
            "\n== counters (slot items of one project, dimension and month; marks: live stream shards of the slot) =="
        );
        let _ = writeln!(
            o,
            "{:>10} {:>8} {:>8} {:>9}  key",
            "updates/s", "marks", "bytes", "WCU/s"
        );
        for c in self.counters.iter().take(busiest * 2) {
            let _ = writeln!(
                o,
                "{:>10} {:>8} {:>8} {:>9}  {}{}",
                si(c.updates_per_s),
                si(c.marks),
                c.bytes,
                si(c.wcu),
                c.key,
                if c.bytes > ITEM_BYTES_MAX { "  OVER (item)" } else { "" }
            );
        }
        let _ = writeln!(o, "\n== totals ==");
        let _ = writeln!(
            o,
            "table {} WCU/s ({} of them counters), {} RCU/s; indexes: {}",
            si(self.table_wcu),
            si(self.counter_wcu),
            si(self.table_rcu),
            self.index_wcu
                .iter()
                .map(|(n, w)| format!("{n} {}", si(*w)))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let _ = writeln!(
            o,
            "storage at steady state {:.0} TB: {} partitions (by throughput {}), as many stream shards",
            self.storage_bytes / 1e12,
            si(self.partitions),
            si(self.partitions_by_throughput)
        );
        let _ = writeln!(
            o,
            "stream: {} summary records/s to stats, {} TTL deletions/s to archive, {} export rows/s",
            si(self.stats_records_per_s),
            si(self.removes_per_s),
            si(self.rows_per_s)
        );
        let _ = writeln!(o, "\n== list fan-out (listing shards: {}) ==", self.list_shards);
        for (what, queries) in &self.fanout {
            let _ = writeln!(o, "{what:<40} {queries} Queries a 100-item page");
        }
        let _ = writeln!(o, "\n== limits and quotas (listing shards: {}) ==", self.list_shards);
        for c in &self.checks {
            let verdict = match (c.over(), c.quota) {
                (false, _) => "ok",
                (true, false) => "OVER",
                (true, true) => "RAISE",
            };
            let _ = writeln!(
                o,
                "{verdict:<6} {:<78} need {:>9}  limit {:>9}{}",
                c.what,
                si(c.need),
                si(c.limit),
                if c.note.is_empty() {
                    String::new()
                } else {
                    format!("  ({})", c.note)
                }
            );
        }
        o
    }
}

/// One ingest invocation's time: its CPU, and its round trips (puts go 8 at a time).
fn ingest_invocation_ms(m: &Measured) -> f64 {
    m.ingest_cpu_ms
        + ((m.ingest_calls_per_invocation - m.ingest_puts_per_invocation) + (m.ingest_puts_per_invocation / 8.0).ceil())
            * m.call_ms
}

/// Ingest instances busy at the target.
fn ingest_instances(m: &Measured) -> f64 {
    m.ingest_invocations_per_s * ingest_invocation_ms(m) / 1000.0
}

/// Projects in the fullest register partition when `projects` random 36-character ids are spread
/// by the register's own hash: what the busiest partition carries, not the average.
fn fullest_register_partition(projects: usize) -> usize {
    use sha2::{Digest, Sha256};
    let mut per: HashMap<u32, usize> = HashMap::new();
    for n in 0..projects {
        let digest = Sha256::digest(n.to_le_bytes());
        let hex: String = digest.iter().take(18).map(|b| format!("{b:02x}")).collect();
        *per.entry(super::project_day::day_shard(&hex)).or_default() += 1;
    }
    per.into_values().max().unwrap_or(0)
}
