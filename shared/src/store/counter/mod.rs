//! Counter items: keys, attributes and the guarded additions that make them exact under stream
//! redelivery (docs/data-model.md, "Counters").
//!
//! One partition per project, family, dimension and month: `ST#{project}#{E|L}#{dimension}#{YYYY-MM}`.
//! Each counter is spread over up to `SLOTS` items, one per slot letter `s`: a stream shard always
//! writes the slot its id hashes to, so a hot counter's updates and its shards' marks divide
//! between the slots, and readers sum them. Sort keys `D#{value}#{DD}{s}` for a day (one value's
//! days, every slot, are one range) and `h{DD}{value}#{HH}{s}` for an hour (one value's hours of a
//! day are one range; every value's hours of a day too). Items of the layout before slots
//! (`D#{value}#{DD}`, `H#{DD}{HH}#{value}`) are read and summed with them until they expire, and
//! never written again. Ingest's notes of the puts it made (`pw`) are items of their own in the
//! `all` partition: `PH{DD}{HH}{s}` and `PD{DD}{s}`, each function instance writing one slot.
//!
//! Attributes: `n0`..`n4` executions by status (in `Status::ALL` order), `n` event logs,
//! `h{i}_{bucket}` finished executions by status (`FINISHED[i]`) and duration bucket, `exp` (TTL),
//! `pa` (`all` counters: stream records taken in), and per stream shard that wrote the item
//! within `MARK_LIFETIME_SECONDS` a mark `w{digest}`: the last sequence number the item has taken
//! in from that shard and when it was written.

use super::backend::CounterUpdate;
use super::table;
use super::table::{n, s, Item, EXPIRES_AT, PK, SK};
use super::StoreError;
use crate::model::counts::CounterSelection;
use crate::model::counts::{BatchChanges, Counter, CounterRow, Dimension, Family, Interval, Sequence, Tally};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Datelike, Duration, TimeZone, Timelike, Utc};
use std::collections::BTreeMap;

pub(super) const PREFIX: &str = "ST#";

/// Items each counter is spread over. At the target load (docs/data-model.md, "Counters": about
/// 300 open stream shards, a hot project's counters taken in by ~286 batches a second) a slot
/// takes ~18 updates a second and holds ~25 live marks. Only writers use it: readers take every
/// slot a range holds, so it can be raised (up to 26, one letter) without touching stored items;
/// batches in flight while it changes may be counted twice, as the shards' slots move.
pub const SLOTS: u32 = 16;

/// How long a mark outlives its last write: the stats event source mapping's maximum record age
/// (`MaximumRecordAgeInSeconds` in infra/template.yaml, 3,600 s: Lambda delivers no record older
/// than that, however often a batch is retried or bisected), plus the function's 60 s timeout and
/// clock differences between Lambda hosts and DynamoDB. A batch delivered again is at most that
/// old, so a mark older than this guards nothing and is removed.
pub const MARK_LIFETIME_SECONDS: i64 = 3600 + 60 + 540;

/// An item prunes its expired marks once it holds more than this many: a counter that few shards
/// write keeps its few old marks rather than paying an extra write to remove them.
pub const PRUNE_AT: usize = 8;

fn family_letter(f: Family) -> char {
    match f {
        Family::Executions => 'E',
        Family::Logs => 'L',
    }
}

pub fn partition(project: &str, family: Family, dimension: Dimension, month_of: DateTime<Utc>) -> String {
    format!(
        "{PREFIX}{project}#{}#{}#{:04}-{:02}",
        family_letter(family),
        dimension.name(),
        month_of.year(),
        month_of.month()
    )
}

/// A slot's letter. Letters, so a day key's slot is told apart from the day digits before it.
fn slot_letter(slot: u32) -> char {
    char::from(b'a' + (slot % 26) as u8)
}

/// The sort key of one slot of a counter: a day's by value, then day, then slot (one value's days
/// are one range), an hour's by day, value, hour and slot (one value's hours of a day are one
/// range, and so are every value's).
pub fn sort_key(interval: Interval, start: DateTime<Utc>, value: &str, slot: u32) -> String {
    let s = slot_letter(slot);
    match interval {
        Interval::Day => format!("D#{value}#{:02}{s}", start.day()),
        Interval::Hour => format!("h{:02}{value}#{:02}{s}", start.day(), start.hour()),
    }
}

/// The sort key before counters had slots: read, never written.
fn legacy_sort_key(interval: Interval, start: DateTime<Utc>, value: &str) -> String {
    match interval {
        Interval::Day => format!("D#{value}#{:02}", start.day()),
        Interval::Hour => format!("H#{:02}{:02}#{value}", start.day(), start.hour()),
    }
}

/// DynamoDB's limits on a partition and a sort key, in bytes.
const PARTITION_KEY_BYTES: usize = 2048;
const SORT_KEY_BYTES: usize = 1024;

/// Whether a counter's keys are within DynamoDB's limits.
fn fits(c: &Counter) -> bool {
    let (pk, sk) = key(c, 0);
    pk.len() <= PARTITION_KEY_BYTES && sk.len() <= SORT_KEY_BYTES
}

/// The most UTF-8 bytes a counted value may have: every counter sort key around it (the hour's has
/// the longest prefix) must stay within DynamoDB's limit, or the stream batch holding it fails.
pub fn value_bytes_max() -> usize {
    let longest = [Interval::Hour, Interval::Day]
        .into_iter()
        .flat_map(|i| {
            [
                sort_key(i, DateTime::UNIX_EPOCH, "", 0).len(),
                legacy_sort_key(i, DateTime::UNIX_EPOCH, "").len(),
            ]
        })
        .max()
        .unwrap_or(0);
    SORT_KEY_BYTES - longest
}

/// The keys of one slot of a counter.
pub fn key(c: &Counter, slot: u32) -> (String, String) {
    (
        partition(&c.project, c.family, c.dimension, c.start),
        sort_key(c.interval, c.start, &c.value, slot),
    )
}

/// The interval start and value a counter item's sort key names (any layout, any slot).
fn parse_sort_key(month: (i32, u32), sk: &str) -> Option<(DateTime<Utc>, String)> {
    let two = |t: &str| -> Option<u32> {
        (t.len() == 2 && t.bytes().all(|b| b.is_ascii_digit()))
            .then(|| t.parse().ok())
            .flatten()
    };
    let (day, hour, value) = if let Some(rest) = sk.strip_prefix("D#") {
        // A slot letter last, or the legacy layout's day digits.
        let rest = rest.strip_suffix(|c: char| c.is_ascii_lowercase()).unwrap_or(rest);
        let (value, day) = rest.rsplit_once('#')?;
        (two(day)?, 0, value)
    } else if let Some(rest) = sk.strip_prefix("H#") {
        let (time, value) = rest.split_once('#')?;
        (two(time.get(..2)?)?, two(time.get(2..)?)?, value)
    } else {
        let rest = sk.strip_prefix('h')?;
        let (value, time) = rest.get(2..)?.rsplit_once('#')?;
        let slot = time.get(2..)?;
        if slot.len() != 1 || !slot.bytes().all(|b| b.is_ascii_lowercase()) {
            return None;
        }
        (two(rest.get(..2)?)?, two(time.get(..2)?)?, value)
    };
    let start = Utc.with_ymd_and_hms(month.0, month.1, day, hour, 0, 0).single()?;
    Some((start, value.to_string()))
}

/// The project of a counter partition key.
pub(super) fn project_of_partition(pk: &str) -> Option<&str> {
    pk.strip_prefix(PREFIX)?.split('#').next()
}

fn month_of_partition(pk: &str) -> Option<(i32, u32)> {
    let month = pk.rsplit('#').next()?;
    let (y, m) = month.split_once('-')?;
    Some((y.parse().ok()?, m.parse().ok()?))
}

/// 96 bits of SHA-256 of a shard id, then 32 more for its slot. Shard ids are too long to be
/// attribute names on every counter, and a digest too short lets two shards share a mark (each
/// then skips the other's records, or counts its own twice): at 96 bits the chance that any two
/// of a million shard ids collide is below 10^-17.
fn shard_digest(shard: &str) -> ([u8; 12], u32) {
    use sha2::Digest;
    let d = sha2::Sha256::digest(shard.as_bytes());
    let mut mark = [0u8; 12];
    mark.copy_from_slice(&d[..12]);
    (mark, u32::from_be_bytes([d[12], d[13], d[14], d[15]]))
}

/// The mark attribute of a shard: `w` and 16 characters (base64url of the 96-bit digest).
pub fn mark_attribute(shard: &str) -> String {
    use base64::Engine;
    let (digest, _) = shard_digest(shard);
    format!("w{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest))
}

fn is_mark(name: &str) -> bool {
    name.len() == 17 && name.starts_with('w')
}

/// The slot a shard writes.
pub fn slot_of(shard: &str) -> u32 {
    shard_digest(shard).1 % SLOTS
}

/// A sequence number as mark text: its digit count (two digits), then its digits without leading
/// zeros, so text order is numeric order in 30 bytes where the 40-digit padding took 40.
fn sequence_text(seq: &Sequence) -> String {
    let digits = seq.0.trim_start_matches('0');
    format!("{:02}{digits}", digits.len())
}

/// A mark's value: the last sequence number taken in, then when (epoch seconds). The time comes
/// after the number, so a mark compares below a sequence text exactly when its number does.
fn mark_value(seq: &Sequence, at: i64) -> String {
    format!("{}{at}", sequence_text(seq))
}

/// The sequence number and time of a mark's value.
fn parse_mark(value: &str) -> Option<(Sequence, i64)> {
    let len: usize = value.get(..2)?.parse().ok()?;
    let digits = value.get(2..2 + len)?;
    let at = value.get(2 + len..)?.parse().ok()?;
    digits
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| (Sequence::of(digits), at))
}

/// Attributes of an `All` counter: puts ingest made of the records it counts (on the legacy
/// items; now on note items of their own), and the stream records of them the counters took in
/// (`Tally::written`, `Tally::applied`).
const WRITTEN: &str = "pw";
const APPLIED: &str = "pa";

/// The additions one tally makes, attribute by attribute.
pub fn additions(family: Family, t: &Tally) -> Vec<(String, i64)> {
    let mut out = Vec::new();
    for (name, v) in [(WRITTEN, t.written), (APPLIED, t.applied)] {
        if v != 0 {
            out.push((name.to_string(), v));
        }
    }
    match family {
        Family::Executions => {
            for (i, v) in t.by_status.iter().enumerate() {
                if *v != 0 {
                    out.push((format!("n{i}"), *v));
                }
            }
            for (i, buckets) in t.durations.iter().enumerate() {
                for (b, v) in buckets {
                    if *v != 0 {
                        out.push((format!("h{i}_{b}"), *v));
                    }
                }
            }
        }
        Family::Logs => {
            if t.records != 0 {
                out.push(("n".into(), t.records));
            }
        }
    }
    out
}

/// What a counter item holds.
pub fn tally_of(item: &Item) -> Tally {
    let mut t = Tally::default();
    for (name, v) in item {
        let Some(value) = v.as_n().ok().and_then(|x| x.parse::<i64>().ok()) else {
            continue;
        };
        if name == "n" {
            t.records = value;
        } else if name == WRITTEN {
            t.written = value;
        } else if name == APPLIED {
            t.applied = value;
        } else if let Some(i) = name.strip_prefix('n').and_then(|i| i.parse::<usize>().ok()) {
            if i < 5 {
                t.by_status[i] = value;
            }
        } else if let Some((i, b)) = name.strip_prefix('h').and_then(|r| r.split_once('_')) {
            if let (Ok(i), Ok(b)) = (i.parse::<usize>(), b.parse::<u32>()) {
                if i < 3 {
                    t.durations[i].insert(b, value);
                }
            }
        }
    }
    t
}

/// One counter item as read: one slot's (or the legacy item's) part of a counter.
pub fn row_of(item: &Item) -> Option<CounterRow> {
    let month = month_of_partition(table::string_attr(item, PK)?)?;
    let (start, value) = parse_sort_key(month, table::string_attr(item, SK)?)?;
    Some(CounterRow {
        value,
        start,
        tally: tally_of(item),
    })
}

/// Counters live as long as the records they count, and a day beyond.
fn expires_at(c: &Counter, retention_days: i64) -> i64 {
    (c.start + c.interval.length() + Duration::days(retention_days + 1)).timestamp()
}

/// The update one shard makes of one counter with its changes past what `item` (the counter's
/// slot as last read, `None` before any read) has seen of it, at `now` (epoch seconds); `None`
/// when nothing is left to add. With the item known, its expired marks go in the same update.
pub fn update(
    c: &Counter,
    changes: &[(Sequence, Tally)],
    shard: &str,
    item: Option<&Item>,
    now: i64,
    retention_days: i64,
) -> Option<CounterUpdate> {
    let mark = mark_attribute(shard);
    let seen = item.and_then(|it| seen(it, &mark));
    let (sum, first, last) = BatchChanges::past(changes, seen.as_ref())?;
    let (pk, sk) = key(c, slot_of(shard));
    Some(CounterUpdate {
        pk,
        sk,
        adds: additions(c.family, &sum),
        first: sequence_text(&first),
        last: mark_value(&last, now),
        prune: item.map(|it| expired_marks(it, &mark, now)).unwrap_or_default(),
        mark,
        expires_at: expires_at(c, retention_days),
    })
}

/// The updates a batch from `shard` makes of the counters at `now` (epoch seconds), on items that
/// have seen nothing of it yet: its first attempt, one UpdateItem each, `All` counters last.
pub fn counter_updates(shard: &str, changes: &BatchChanges, now: i64, retention_days: i64) -> Vec<CounterUpdate> {
    let (others, alls): (Vec<_>, Vec<_>) = changes
        .counters
        .iter()
        .partition(|(c, _)| c.dimension != Dimension::All);
    others
        .into_iter()
        .chain(alls)
        .filter_map(|(c, list)| update(c, list, shard, None, now, retention_days))
        .collect()
}

/// The mark a counter item holds for a shard's mark attribute.
pub fn seen(item: &Item, mark: &str) -> Option<Sequence> {
    table::string_attr(item, mark).and_then(parse_mark).map(|(seq, _)| seq)
}

/// The marks of an item, other than `keep`, last written longer than `MARK_LIFETIME_SECONDS`
/// before `now`, with the values they hold; none while the item holds `PRUNE_AT` marks or fewer.
pub fn expired_marks(item: &Item, keep: &str, now: i64) -> Vec<(String, String)> {
    let marks: Vec<(&String, &str)> = item
        .iter()
        .filter(|(name, _)| is_mark(name))
        .filter_map(|(name, v)| Some((name, v.as_s().ok()?.as_str())))
        .collect();
    if marks.len() <= PRUNE_AT {
        return Vec::new();
    }
    marks
        .into_iter()
        .filter(|(name, value)| {
            name.as_str() != keep && parse_mark(value).is_some_and(|(_, at)| at + MARK_LIFETIME_SECONDS < now)
        })
        .map(|(name, value)| (name.clone(), value.to_string()))
        .collect()
}

/// The update that removes an item's expired marks (each only while it holds the value seen);
/// `None` when it has none to remove.
pub fn prune_update(after: &Item, keep: &str, now: i64, expires_at: i64) -> Option<CounterUpdate> {
    let prune = expired_marks(after, keep, now);
    if prune.is_empty() {
        return None;
    }
    Some(CounterUpdate {
        pk: table::string_attr(after, PK)?.to_string(),
        sk: table::string_attr(after, SK)?.to_string(),
        adds: Vec::new(),
        mark: String::new(),
        first: String::new(),
        last: String::new(),
        prune,
        expires_at,
    })
}

/// Marks an item holds.
pub fn marks_of(item: &Item) -> usize {
    item.keys().filter(|name| is_mark(name)).count()
}

/// The sort key of ingest's note of its puts, in one slot, in the `all` partition of the family.
fn note_sort_key(interval: Interval, start: DateTime<Utc>, slot: u32) -> String {
    let s = slot_letter(slot);
    match interval {
        Interval::Day => format!("PD{:02}{s}", start.day()),
        Interval::Hour => format!("PH{:02}{:02}{s}", start.day(), start.hour()),
    }
}

/// The interval and start a note's sort key names.
fn parse_note(month: (i32, u32), sk: &str) -> Option<(Interval, DateTime<Utc>)> {
    let two = |t: Option<&str>| t.filter(|t| t.bytes().all(|b| b.is_ascii_digit()))?.parse::<u32>().ok();
    let (interval, day, hour) = if let Some(rest) = sk.strip_prefix("PH") {
        (Interval::Hour, two(rest.get(..2))?, two(rest.get(2..4))?)
    } else {
        (Interval::Day, two(sk.strip_prefix("PD")?.get(..2))?, 0)
    };
    Some((
        interval,
        Utc.with_ymd_and_hms(month.0, month.1, day, hour, 0, 0).single()?,
    ))
}

/// The addition ingest makes to note `n` puts (negative: taken back) of `project`'s `family`
/// records started in the interval holding `started`, in `slot`: no mark, as ingest has no stream
/// position and each call is its own addition. Any slot will do; readers sum them.
pub fn note_update(
    project: &str,
    family: Family,
    interval: Interval,
    started: DateTime<Utc>,
    n: i64,
    slot: u32,
    retention_days: i64,
) -> CounterUpdate {
    let c = Counter {
        project: project.to_string(),
        family,
        dimension: Dimension::All,
        value: String::new(),
        interval,
        start: interval.floor(started),
    };
    CounterUpdate {
        pk: partition(project, family, Dimension::All, c.start),
        sk: note_sort_key(interval, c.start, slot),
        adds: vec![(WRITTEN.to_string(), n)],
        mark: String::new(),
        first: String::new(),
        last: String::new(),
        prune: Vec::new(),
        expires_at: expires_at(&c, retention_days),
    }
}

/// A note item's interval, start and the puts it holds.
fn note_of(item: &Item) -> Option<(Interval, DateTime<Utc>, i64)> {
    let month = month_of_partition(table::string_attr(item, PK)?)?;
    let (interval, start) = parse_note(month, table::string_attr(item, SK)?)?;
    Some((interval, start, table::number_attr(item, WRITTEN).unwrap_or(0)))
}

/// A counter update applied to the item as it is (`None`: absent), as DynamoDB applies it: the
/// item after it, or `Conflict` when a condition fails (the mark is at or past `first`, or a
/// mark to prune no longer holds the value it was seen with). An absent item is created unless
/// the update only prunes.
pub fn apply(item: Option<&Item>, u: &CounterUpdate) -> Result<Item, StoreError> {
    let guarded = !u.mark.is_empty();
    if guarded
        && item
            .and_then(|it| table::string_attr(it, &u.mark))
            .is_some_and(|seen| seen >= u.first.as_str())
    {
        return Err(StoreError::Conflict);
    }
    if u.prune
        .iter()
        .any(|(name, v)| item.and_then(|it| table::string_attr(it, name)) != Some(v.as_str()))
    {
        return Err(StoreError::Conflict);
    }
    let mut item = match item {
        Some(it) => it.clone(),
        None => new_item(u),
    };
    for (name, v) in &u.adds {
        let now = table::number_attr(&item, name).unwrap_or(0);
        item.insert(name.clone(), AttributeValue::N((now + v).to_string()));
    }
    if guarded {
        item.insert(u.mark.clone(), AttributeValue::S(u.last.clone()));
    }
    for (name, _) in &u.prune {
        item.remove(name);
    }
    item.insert(EXPIRES_AT.into(), AttributeValue::N(u.expires_at.to_string()));
    Ok(item)
}

/// One request of a counter read: a Query of one partition between two sort keys (inclusive),
/// or a BatchGetItem of keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Read {
    Range { pk: String, from: String, to: String },
    Keys(Vec<(String, String)>),
}

/// The starts of a range, by the month partition that holds them: (partition, first, last).
fn by_month(
    project: &str,
    family: Family,
    dimension: Dimension,
    starts: &[DateTime<Utc>],
) -> Vec<(String, DateTime<Utc>, DateTime<Utc>)> {
    let mut months: BTreeMap<String, (DateTime<Utc>, DateTime<Utc>)> = BTreeMap::new();
    for t in starts {
        let e = months
            .entry(partition(project, family, dimension, *t))
            .or_insert((*t, *t));
        e.0 = e.0.min(*t);
        e.1 = e.1.max(*t);
    }
    months.into_iter().map(|(pk, (a, b))| (pk, a, b)).collect()
}

/// The requests that read a selection's counter items for intervals starting at `starts`, every
/// slot and the legacy items. Ranges reach past the wanted starts where the layout does not
/// separate them (a day's other hours); the reader keeps the wanted ones.
pub fn reads(selection: &CounterSelection, interval: Interval, starts: &[DateTime<Utc>]) -> Vec<Read> {
    let months = by_month(&selection.project, selection.family, selection.dimension, starts);
    let range = |pk: &str, from: String, to: String| Read::Range {
        pk: pk.to_string(),
        from,
        to,
    };
    let mut out = Vec::new();
    for (pk, a, b) in months {
        match (interval, &selection.values) {
            // One value's days, every slot (slot letters sort below '~'), the legacy item first.
            (Interval::Day, Some(values)) => {
                for v in values {
                    let mut to = legacy_sort_key(interval, b, v);
                    to.push('~');
                    out.push(range(&pk, legacy_sort_key(interval, a, v), to));
                }
            }
            // Every value's days of the month ('$' sorts right after '#').
            (Interval::Day, None) => out.push(range(&pk, "D#".into(), "D$".into())),
            // Every value's hours of whole days (no item is just `h{DD}`), and the legacy layout's.
            (Interval::Hour, None) => {
                out.push(range(&pk, format!("h{:02}", a.day()), format!("h{:02}", b.day() + 1)));
                let mut to = legacy_sort_key(interval, b, "");
                to.pop();
                to.push('$');
                out.push(range(&pk, legacy_sort_key(interval, a, ""), to));
            }
            // The `all` partition holds one value: each run of consecutive hours is one range, in
            // either layout.
            (Interval::Hour, Some(_)) if selection.dimension == Dimension::All => {
                for (first, last) in runs(interval, starts, a, b) {
                    let mut to = sort_key(interval, last, "", 0);
                    to.pop();
                    to.push('~');
                    let mut from = sort_key(interval, first, "", 0);
                    from.pop();
                    out.push(range(&pk, from, to));
                    let mut to = legacy_sort_key(interval, last, "");
                    to.push('~');
                    out.push(range(&pk, legacy_sort_key(interval, first, ""), to));
                }
            }
            // One value's hours of each day; legacy items by key.
            (Interval::Hour, Some(values)) => {
                let mut days: BTreeMap<u32, (u32, u32)> = BTreeMap::new();
                let in_month: Vec<DateTime<Utc>> = starts.iter().copied().filter(|t| *t >= a && *t <= b).collect();
                for t in &in_month {
                    let e = days.entry(t.day()).or_insert((t.hour(), t.hour()));
                    e.0 = e.0.min(t.hour());
                    e.1 = e.1.max(t.hour());
                }
                for v in values {
                    for (day, (h1, h2)) in &days {
                        out.push(range(
                            &pk,
                            format!("h{day:02}{v}#{h1:02}"),
                            format!("h{day:02}{v}#{h2:02}~"),
                        ));
                    }
                }
                let mut keys: Vec<(String, String)> = Vec::new();
                for v in values {
                    keys.extend(in_month.iter().map(|t| (pk.clone(), legacy_sort_key(interval, *t, v))));
                }
                for chunk in keys.chunks(100) {
                    out.push(Read::Keys(chunk.to_vec()));
                }
            }
        }
    }
    out
}

/// The runs of consecutive intervals among `starts` from `a` to `b` (one month's): (first, last).
fn runs(
    interval: Interval,
    starts: &[DateTime<Utc>],
    a: DateTime<Utc>,
    b: DateTime<Utc>,
) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let mut within: Vec<DateTime<Utc>> = starts.iter().copied().filter(|t| *t >= a && *t <= b).collect();
    within.sort();
    within.dedup();
    let mut out: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::new();
    for t in within {
        match out.last_mut() {
            Some((_, last)) if *last + interval.length() == t => *last = t,
            _ => out.push((t, t)),
        }
    }
    out
}

/// The Queries that read ingest's notes for `all` counters starting at `starts`: one per run of
/// consecutive intervals.
pub fn note_reads(project: &str, family: Family, interval: Interval, starts: &[DateTime<Utc>]) -> Vec<Read> {
    let mut out = Vec::new();
    for (pk, a, b) in by_month(project, family, Dimension::All, starts) {
        for (first, last) in runs(interval, starts, a, b) {
            let mut to = note_sort_key(interval, last, 0);
            to.pop();
            to.push('~');
            let mut from = note_sort_key(interval, first, 0);
            from.pop();
            out.push(Read::Range {
                pk: pk.clone(),
                from,
                to,
            });
        }
    }
    out
}

/// Counter rows summed by value and start (a counter's slots and legacy item are one row), with
/// the notes' puts added to the `all` rows, for the wanted starts, in order.
fn sum_rows(
    items: &[Item],
    notes: &[Item],
    interval: Interval,
    wanted: &std::collections::BTreeSet<DateTime<Utc>>,
) -> Vec<CounterRow> {
    let mut rows: BTreeMap<(DateTime<Utc>, String), Tally> = BTreeMap::new();
    for r in items.iter().filter_map(row_of) {
        if wanted.contains(&r.start) {
            rows.entry((r.start, r.value)).or_default().add(&r.tally, 1);
        }
    }
    for (i, start, puts) in notes.iter().filter_map(note_of) {
        if i == interval && wanted.contains(&start) {
            rows.entry((start, String::new())).or_default().written += puts;
        }
    }
    rows.into_iter()
        .map(|((start, value), tally)| CounterRow { value, start, tally })
        .collect()
}

/// A new counter item, before its first addition.
pub fn new_item(u: &CounterUpdate) -> Item {
    let mut item = Item::new();
    item.insert(PK.into(), s(&u.pk));
    item.insert(SK.into(), s(&u.sk));
    item.insert(EXPIRES_AT.into(), n(u.expires_at));
    item
}

mod keep;
mod total;

pub use total::{execution_selection, log_selection, total, TotalRange};

/// What one stream batch did to the counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CountsWritten {
    /// Counter items updated.
    pub written: usize,
    /// Counters whose changes had all been taken in already (a batch delivered again).
    pub skipped: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        crate::dates::parse(s).unwrap()
    }

    fn counter(interval: Interval, value: &str, start: &str) -> Counter {
        Counter {
            project: "p".into(),
            family: Family::Executions,
            dimension: Dimension::UserId,
            value: value.into(),
            interval,
            start: at(start),
        }
    }

    fn keyed(pk: &str, sk: &str) -> Item {
        Item::from([(PK.to_string(), s(pk)), (SK.to_string(), s(sk))])
    }

    #[test]
    fn keys_of_every_slot_and_the_legacy_layout_read_back_with_values_that_hold_separators() {
        let hour = counter(Interval::Hour, "a#b$c07", "2026-11-05T07:00:00Z");
        let day = Counter {
            interval: Interval::Day,
            ..hour.clone()
        };
        assert_eq!(key(&hour, 2), ("ST#p#E#userId#2026-11".into(), "h05a#b$c07#07c".into()));
        assert_eq!(key(&day, 0).1, "D#a#b$c07#05a");
        let pk = key(&hour, 0).0;
        for (sk, start) in [
            (key(&hour, 2).1, hour.start),
            (key(&hour, 15).1, hour.start),
            (legacy_sort_key(Interval::Hour, hour.start, &hour.value), hour.start),
            (key(&day, 9).1, at("2026-11-05T00:00:00Z")),
            (
                legacy_sort_key(Interval::Day, day.start, &day.value),
                at("2026-11-05T00:00:00Z"),
            ),
        ] {
            let row = row_of(&keyed(&pk, &sk)).unwrap_or_else(|| panic!("{sk}"));
            assert_eq!((row.start, row.value.as_str()), (start, "a#b$c07"), "{sk}");
        }
        for bad in ["h05x", "D#v#5", "h0a#07a", "D#v#05ab", "h05v#07", "PH0507a", "", "H#05"] {
            assert!(row_of(&keyed(&pk, bad)).is_none(), "{bad}");
        }
        assert_eq!(value_bytes_max(), 1017, "slots take no byte from a value");
    }

    /// The items of every slot a range holds, and none it must not: the reads run on a copy of the
    /// partition's keys, compared as DynamoDB compares them (UTF-8 bytes).
    fn read_keys(reads: &[Read], stored: &[(String, String)]) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for r in reads {
            match r {
                Read::Range { pk, from, to } => out.extend(
                    stored
                        .iter()
                        .filter(|(p, s)| p == pk && from.as_str() <= s.as_str() && s.as_str() <= to.as_str())
                        .cloned(),
                ),
                Read::Keys(keys) => out.extend(keys.iter().filter(|k| stored.contains(k)).cloned()),
            }
        }
        out
    }

    #[test]
    fn reads_take_every_slot_and_the_legacy_item_of_the_wanted_counters() {
        let hours: Vec<DateTime<Utc>> = ["2026-11-02T05:00:00Z", "2026-11-02T06:00:00Z", "2026-11-03T23:00:00Z"]
            .iter()
            .map(|t| at(t))
            .collect();
        let mut stored = Vec::new();
        for v in ["crm", "crm#02", "erp", "\u{1F600}"] {
            for t in [
                "2026-11-02T04:00:00Z",
                "2026-11-02T05:00:00Z",
                "2026-11-02T06:00:00Z",
                "2026-11-03T23:00:00Z",
            ] {
                let c = counter(Interval::Hour, v, t);
                let d = counter(Interval::Day, v, t);
                for slot in [0, 7, 15] {
                    stored.push(key(&c, slot));
                    stored.push(key(&d, slot));
                }
                stored.push((key(&c, 0).0, legacy_sort_key(Interval::Hour, c.start, v)));
                stored.push((key(&d, 0).0, legacy_sort_key(Interval::Day, d.start, v)));
            }
        }
        stored.sort();
        stored.dedup();
        let wanted_rows = |reads: Vec<Read>, interval: Interval, starts: &[DateTime<Utc>], values: &[&str]| {
            let mut rows: Vec<(DateTime<Utc>, String)> = read_keys(&reads, &stored)
                .iter()
                .filter_map(|(pk, sk)| row_of(&keyed(pk, sk)))
                .filter(|r| starts.contains(&r.start) && values.contains(&r.value.as_str()))
                .map(|r| (r.start, r.value))
                .collect();
            rows.sort();
            let _ = interval;
            rows
        };
        let select = |values: Option<Vec<&str>>| CounterSelection {
            project: "p".into(),
            family: Family::Executions,
            dimension: Dimension::UserId,
            values: values.map(|v| v.into_iter().map(String::from).collect()),
        };
        // One value's hours: 3 slots and the legacy item of each wanted hour, nothing else of it.
        let one = reads(&select(Some(vec!["crm"])), Interval::Hour, &hours);
        let got = wanted_rows(one.clone(), Interval::Hour, &hours, &["crm"]);
        assert_eq!(got.len(), 3 * 4, "{got:?}");
        let all_read = read_keys(&one, &stored);
        assert!(
            all_read.iter().all(
                |(pk, sk)| row_of(&keyed(pk, sk)).unwrap().start != at("2026-11-02T04:00:00Z")
                    || !sk.contains("crm#04")
            ),
            "{all_read:?}"
        );
        // Every value's hours.
        let every = reads(&select(None), Interval::Hour, &hours);
        let got = wanted_rows(every, Interval::Hour, &hours, &["crm", "crm#02", "erp", "\u{1F600}"]);
        assert_eq!(got.len(), 4 * 3 * 4);
        // One value's days and every value's days.
        let days = [at("2026-11-02T00:00:00Z"), at("2026-11-03T00:00:00Z")];
        let one = reads(&select(Some(vec!["crm"])), Interval::Day, &days);
        assert_eq!(wanted_rows(one, Interval::Day, &days, &["crm"]).len(), 2 * 4);
        let every = reads(&select(None), Interval::Day, &days);
        assert_eq!(
            wanted_rows(every, Interval::Day, &days, &["crm", "erp"]).len(),
            2 * 2 * 4
        );
    }

    #[tokio::test]
    async fn slots_notes_and_the_legacy_item_of_a_counter_read_as_one_row() {
        use crate::store::backend::Backend;
        use crate::store::{KeepStats, MemoryStore, ReadStats, StoreConfig};
        let store = MemoryStore::memory(StoreConfig::from_settings(&crate::config::Settings::defaults()));
        let hour = at("2026-11-05T07:00:00Z");
        // Ingest instances noted 2 puts each in three slots; the legacy item holds 1 put, taken in.
        for slot in [0, 5, 15] {
            let note = note_update("p", Family::Executions, Interval::Hour, hour, 2, slot, 90);
            store.backend.add_to_counter(&note).await.unwrap();
        }
        let all = Counter {
            project: "p".into(),
            family: Family::Executions,
            dimension: Dimension::All,
            value: String::new(),
            interval: Interval::Hour,
            start: hour,
        };
        let legacy = CounterUpdate {
            pk: key(&all, 0).0,
            sk: legacy_sort_key(Interval::Hour, hour, ""),
            adds: vec![("pw".into(), 1), ("pa".into(), 1), ("n2".into(), 1)],
            mark: String::new(),
            first: String::new(),
            last: String::new(),
            prune: Vec::new(),
            expires_at: 0,
        };
        store.backend.add_to_counter(&legacy).await.unwrap();
        // Two shards of different slots take in 3 and 2 records.
        let shards: Vec<String> = (0..)
            .map(|i| format!("shardId-{i}"))
            .scan(None, |first: &mut Option<u32>, id| {
                let keep = first.is_none_or(|f| f != slot_of(&id));
                first.get_or_insert(slot_of(&id));
                Some(keep.then_some(id))
            })
            .flatten()
            .take(2)
            .collect();
        for (shard, records) in shards.iter().zip([3, 2]) {
            let mut t = Tally::default();
            t.by_status[2] = 1;
            t.applied = 1;
            let mut b = BatchChanges::default();
            b.counters.insert(
                all.clone(),
                (1..=records)
                    .map(|q| (Sequence::of(&q.to_string()), t.clone()))
                    .collect(),
            );
            store.add_counts(shard, &b).await.unwrap();
        }
        let selection = CounterSelection {
            project: "p".into(),
            family: Family::Executions,
            dimension: Dimension::All,
            values: Some(vec![String::new()]),
        };
        let rows = store.counters(&selection, Interval::Hour, &[hour], true).await.unwrap();
        assert_eq!(rows.len(), 1, "{rows:?}");
        let t = &rows[0].tally;
        assert_eq!((t.written, t.applied, t.by_status[2]), (7, 6, 6));
        assert!(
            t.applied < t.written,
            "one noted put is not taken in: the hour is not settled"
        );
    }

    #[test]
    fn tallies_round_trip_through_attributes() {
        let mut t = Tally::default();
        t.by_status[2] = 3;
        t.by_status[1] = -1;
        t.durations[0].insert(57, 2);
        let mut item = Item::new();
        for (name, v) in additions(Family::Executions, &t) {
            item.insert(name, n(v));
        }
        item.insert(mark_attribute("shardId-1"), s(mark_value(&Sequence::of("42"), 1)));
        item.insert("w_0000abcd".into(), s("0".repeat(40)));
        assert_eq!(tally_of(&item), t);
    }

    #[test]
    fn shard_marks_do_not_collide_and_shards_spread_over_every_slot() {
        let mut names = std::collections::HashSet::new();
        let mut per_slot = [0u32; SLOTS as usize];
        for i in 0..32_000 {
            let shard = format!("shardId-00000001765{i:09}-{:08x}", i * 7919);
            assert!(names.insert(mark_attribute(&shard)), "{shard}");
            per_slot[slot_of(&shard) as usize] += 1;
        }
        assert!(names.iter().all(|n| is_mark(n)));
        // 32,000 / 16 = 2,000 each; a fair hash stays within a few percent.
        assert!(per_slot.iter().all(|n| (1_850..2_150).contains(n)), "{per_slot:?}");
    }

    /// One record's change to a project's day counter, at each sequence number.
    fn changes(project: &str, seqs: &str) -> BatchChanges {
        let c = Counter {
            project: project.into(),
            family: Family::Executions,
            dimension: Dimension::All,
            value: String::new(),
            interval: Interval::Day,
            start: at("2026-11-05T00:00:00Z"),
        };
        let mut b = BatchChanges::default();
        let mut t = Tally::default();
        t.by_status[2] = 1;
        t.applied = 1;
        b.counters
            .insert(c, seqs.split(',').map(|q| (Sequence::of(q), t.clone())).collect());
        b
    }

    #[test]
    fn a_mark_takes_in_only_sequence_numbers_past_it_whatever_their_length() {
        let now = 1_765_000_000;
        let b = changes("p", "99,100");
        let u = &counter_updates("s1", &b, now, 90)[0];
        let item = apply(None, u).unwrap();
        assert_eq!(tally_of(&item).by_status[2], 2);
        assert!(
            matches!(apply(Some(&item), u), Err(StoreError::Conflict)),
            "the same batch again"
        );
        let again = &counter_updates("s1", &changes("p", "100,101"), now, 90)[0];
        assert!(matches!(apply(Some(&item), again), Err(StoreError::Conflict)));
        let c = b.counters.keys().next().unwrap();
        let list = &changes("p", "100,101").counters[c];
        let rest = update(c, list, "s1", Some(&item), now + 5, 90).unwrap();
        let item = apply(Some(&item), &rest).unwrap();
        assert_eq!(tally_of(&item).by_status[2], 3, "only 101 was new");
        assert_eq!(seen(&item, &mark_attribute("s1")), Some(Sequence::of("101")));
        let other = &counter_updates("s2", &changes("p", "1"), now, 90)[0];
        assert_eq!(other.sk, key(c, slot_of("s2")).1);
    }

    #[test]
    fn expired_marks_go_only_from_items_holding_many_and_only_while_unchanged() {
        let now = 1_765_000_000;
        let old = now - MARK_LIFETIME_SECONDS - 1;
        let mut item = keyed("ST#p#E#all#2026-11", "D##05a");
        for i in 0..PRUNE_AT {
            item.insert(mark_attribute(&format!("s{i}")), s(mark_value(&Sequence::of("1"), old)));
        }
        assert!(expired_marks(&item, "", now).is_empty(), "few marks stay, however old");
        item.insert(mark_attribute("live"), s(mark_value(&Sequence::of("1"), now - 60)));
        let expired = expired_marks(&item, "", now);
        assert_eq!(expired.len(), PRUNE_AT, "every old one, not the live one");
        let p = prune_update(&item, "", now, 0).unwrap();
        let pruned = apply(Some(&item), &p).unwrap();
        assert_eq!(marks_of(&pruned), 1);
        assert!(pruned.contains_key(&mark_attribute("live")));
        // A shard writes its old mark again before the prune lands: nothing is removed.
        let mut back = item.clone();
        back.insert(mark_attribute("s0"), s(mark_value(&Sequence::of("2"), now)));
        assert!(matches!(apply(Some(&back), &p), Err(StoreError::Conflict)));
        assert!(
            matches!(apply(None, &p), Err(StoreError::Conflict)),
            "a prune creates nothing"
        );
    }

    /// The capacity argument, run on the store's own updates: 300 open stream shards, each
    /// closing after 4 hours for a child with a new id, every batch of every shard touching the hot
    /// project's day counter (286 batches a second at the target), for a day, with sequence
    /// numbers as long as DynamoDB's. Each slot item holds no more marks than the shards that
    /// wrote it within a mark's lifetime, stays well under 4 KB, and takes a sixteenth or so of
    /// the updates.
    #[test]
    fn a_hot_counter_stays_small_and_spread_at_hundreds_of_shards() {
        let open = 300u64;
        let step = 180; // seconds per round: every open shard sends a batch
        let lifetime = 4 * 3600;
        let start = 1_765_000_000i64;
        let mut items: BTreeMap<(String, String), Item> = BTreeMap::new();
        let mut updates: BTreeMap<String, u64> = BTreeMap::new();
        let mut written: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
        let (mut largest, mut batches) = (0usize, 0u64);
        for round in 0..(24 * 3600 / step) {
            let now = start + round * step;
            for shard in 0..open {
                // Shards roll over at staggered times; a child continues at higher numbers.
                let generation = (now - start + (shard as i64 * lifetime / open as i64)) / lifetime;
                let id = format!("shardId-{shard:05}-{generation:04}");
                batches += 1;
                let seq = 4_421_584_500_000_000_017_450_439_091u128 + batches as u128;
                let b = changes("hot", &seq.to_string());
                for u in counter_updates(&id, &b, now, 90) {
                    let k = (u.pk.clone(), u.sk.clone());
                    let after = apply(items.get(&k), &u).unwrap();
                    let after = match prune_update(&after, &u.mark, now, u.expires_at) {
                        Some(p) => apply(Some(&after), &p).unwrap(),
                        None => after,
                    };
                    let shards = written.entry(u.sk.clone()).or_default();
                    shards.insert(id.clone(), now);
                    let recent = shards
                        .values()
                        .filter(|t| **t + MARK_LIFETIME_SECONDS + step >= now)
                        .count();
                    assert!(
                        marks_of(&after) <= recent.max(PRUNE_AT + 1),
                        "{} marks",
                        marks_of(&after)
                    );
                    largest = largest.max(super::super::capacity::item_size(&after));
                    *updates.entry(u.sk.clone()).or_default() += 1;
                    items.insert(k, after);
                }
            }
        }
        assert_eq!(items.len(), SLOTS as usize, "one item per slot");
        let counted: i64 = items.values().map(|it| tally_of(it).by_status[2]).sum();
        assert_eq!(counted as u64, batches);
        let busiest = *updates.values().max().unwrap() as f64 / batches as f64;
        assert!(largest < 3 * 1024, "{largest} bytes");
        assert!(busiest * 286.0 < 40.0, "{:.0} updates a second", busiest * 286.0);
    }

    #[test]
    fn marks_outlive_the_stream_consumers_maximum_record_age() {
        let template = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/template.yaml"));
        let stats = &template[template.find("  StatsFunction:").unwrap()..];
        let stats = &stats[..stats.find("\n  # ").unwrap_or(stats.len())];
        let field = |name: &str| -> i64 {
            let line = stats.lines().find(|l| l.trim_start().starts_with(name)).unwrap();
            line.split(':').nth(1).unwrap().trim().parse().unwrap()
        };
        let age = field("MaximumRecordAgeInSeconds:");
        let timeout = field("Timeout:");
        assert!(
            age + timeout < MARK_LIFETIME_SECONDS,
            "a mark must outlive any redelivery: {age} s + {timeout} s"
        );
        assert_eq!(
            field("ParallelizationFactor:"),
            1,
            "marks need each shard's batches in order"
        );
    }
}
