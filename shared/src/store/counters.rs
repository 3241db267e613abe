//! Counter items: keys, attributes and the guarded additions that make them exact under stream
//! redelivery (docs/data-model.md, "Counters").
//!
//! One partition per project, family, dimension and month: `ST#{project}#{E|L}#{dimension}#{YYYY-MM}`.
//! Sort key `D#{DD}#{value}` for a day, `H#{DD}{HH}#{value}` for an hour, so a range of days or hours
//! of every value is one Query, and one value's are keys for one BatchGetItem.
//!
//! Attributes: `n0`..`n4` executions by status (in `Status::ALL` order), `n` event logs,
//! `h{i}_{bucket}` finished executions by status (`FINISHED[i]`) and duration bucket, `exp` (TTL),
//! and per stream shard `w_{shard digest}`: the last sequence number the counter has taken in.

use super::backend::{Backend, CollectionQuery, CounterUpdate};
use super::items::{self, n, s, Item, EXPIRES_AT, PK, SK};
use super::{CountsWritten, KeepStats, Ledger, NoteWrites, ReadStats, StoreError};
use crate::model::limits::{MAX_CLOCK_SKEW_HOURS, MAX_INTEGRATIONS};
use crate::model::Status;
use crate::query::{Count, ListQuery, LogQuery, ReadBudget};
use crate::retry::{self, retrying};
use crate::stats::CounterSelection;
use crate::stats::{BatchChanges, Counter, CounterRow, Dimension, Family, Interval, Sequence, Tally};
use chrono::{DateTime, Datelike, Duration, TimeZone, Timelike, Utc};
use futures::stream::{self, StreamExt, TryStreamExt};
use std::collections::BTreeMap;

const PREFIX: &str = "ST#";

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

/// The sort key: a day's counters by value, then day (one value's days are one range), an
/// hour's by hour, then value (every value of a range of hours is one range).
pub fn sort_key(interval: Interval, start: DateTime<Utc>, value: &str) -> String {
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
    let (pk, sk) = key(c);
    pk.len() <= PARTITION_KEY_BYTES && sk.len() <= SORT_KEY_BYTES
}

/// The most UTF-8 bytes a counted value may have: every counter sort key around it (the hour's has
/// the longest prefix) must stay within DynamoDB's limit, or the stream batch holding it fails.
pub fn value_bytes_max() -> usize {
    let longest = [Interval::Hour, Interval::Day]
        .into_iter()
        .map(|i| sort_key(i, DateTime::UNIX_EPOCH, "").len())
        .max()
        .unwrap_or(0);
    SORT_KEY_BYTES - longest
}

pub fn key(c: &Counter) -> (String, String) {
    (
        partition(&c.project, c.family, c.dimension, c.start),
        sort_key(c.interval, c.start, &c.value),
    )
}

/// The interval start and value a counter item's keys name.
fn parse_sort_key(month: (i32, u32), sk: &str) -> Option<(DateTime<Utc>, String)> {
    let (day, hour, value) = if let Some(rest) = sk.strip_prefix("D#") {
        let (value, day) = rest.rsplit_once('#')?;
        (day.parse().ok()?, 0, value)
    } else {
        let (time, value) = sk.strip_prefix("H#")?.split_once('#')?;
        (time.get(..2)?.parse().ok()?, time.get(2..4)?.parse().ok()?, value)
    };
    let start = Utc.with_ymd_and_hms(month.0, month.1, day, hour, 0, 0).single()?;
    Some((start, value.to_string()))
}

fn month_of_partition(pk: &str) -> Option<(i32, u32)> {
    let month = pk.rsplit('#').next()?;
    let (y, m) = month.split_once('-')?;
    Some((y.parse().ok()?, m.parse().ok()?))
}

/// The watermark attribute of a shard: a short digest, as shard ids are long and change every few
/// hours.
pub fn mark_attribute(shard: &str) -> String {
    let mut h: u32 = 0x811c_9dc5;
    for b in shard.bytes() {
        h ^= b as u32;
        h = h.wrapping_mul(0x0100_0193);
    }
    format!("w_{h:08x}")
}

/// Attributes of an `All` counter: puts ingest made of the records it counts, and those the
/// counters took in (`Tally::written`, `Tally::applied`).
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

pub fn row_of(item: &Item) -> Option<CounterRow> {
    let month = month_of_partition(items::string_attr(item, PK)?)?;
    let (start, value) = parse_sort_key(month, items::string_attr(item, SK)?)?;
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

/// The update of one counter with its changes past `seen`; `None` when nothing is left to add.
pub fn update(
    c: &Counter,
    changes: &[(Sequence, Tally)],
    seen: Option<&Sequence>,
    shard: &str,
    retention_days: i64,
) -> Option<CounterUpdate> {
    let (sum, first, last) = BatchChanges::past(changes, seen)?;
    let (pk, sk) = key(c);
    Some(CounterUpdate {
        pk,
        sk,
        adds: additions(c.family, &sum),
        mark: mark_attribute(shard),
        first: first.0,
        last: last.0,
        expires_at: expires_at(c, retention_days),
    })
}

/// The mark a counter item holds for a shard.
pub fn seen(item: &Item, mark: &str) -> Option<Sequence> {
    items::string_attr(item, mark).map(|s| Sequence(s.to_string()))
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

/// The Queries that read a selection's counters for a range: (partition, from, to) sort keys, both
/// inclusive. `None` when the counters are better read by key (one value's hours).
pub fn ranges(
    selection: &CounterSelection,
    interval: Interval,
    starts: &[DateTime<Utc>],
) -> Option<Vec<(String, String, String)>> {
    let months = by_month(&selection.project, selection.family, selection.dimension, starts);
    let mut out = Vec::new();
    for (pk, a, b) in months {
        match (interval, &selection.values) {
            (Interval::Day, Some(values)) => {
                for v in values {
                    out.push((pk.clone(), sort_key(interval, a, v), sort_key(interval, b, v)));
                }
            }
            // Every value's days of the month ('$' sorts right after '#').
            (Interval::Day, None) => out.push((pk, "D#".into(), "D$".into())),
            (Interval::Hour, None) => {
                let mut to = sort_key(interval, b, "");
                to.pop();
                to.push('$');
                out.push((pk, sort_key(interval, a, ""), to));
            }
            (Interval::Hour, Some(_)) => return None,
        }
    }
    Some(out)
}

/// A new counter item, before its first addition (the in-memory backend creates them this way).
pub fn new_item(u: &CounterUpdate) -> Item {
    let mut item = Item::new();
    item.insert(PK.into(), s(&u.pk));
    item.insert(SK.into(), s(&u.sk));
    item.insert(EXPIRES_AT.into(), n(u.expires_at));
    item
}

/// The counters that give an exact total of an executions listing: a project, a date range, any
/// statuses and at most one other dimension (with up to `MAX_INTEGRATIONS` values). `None` for
/// other combinations, which keep the read-budget rule.
pub fn execution_selection(q: &ListQuery) -> Option<CounterSelection> {
    if q.window.search.is_some() || q.dimensions.len() > 1 {
        return None;
    }
    let (dimension, values) = match q.dimensions.first() {
        None => (Dimension::All, vec![String::new()]),
        Some((field, values)) => (Dimension::of_field(*field)?, values.clone()),
    };
    (values.len() <= MAX_INTEGRATIONS).then(|| CounterSelection {
        project: q.window.project.clone(),
        family: Family::Executions,
        dimension,
        values: Some(values),
    })
}

/// The counters that give an exact total of an event-log listing: a project, a date range and
/// levels or types (not both); no other filter.
pub fn log_selection(q: &LogQuery) -> Option<CounterSelection> {
    if q.window.search.is_some() || !q.dimensions.is_empty() {
        return None;
    }
    let (dimension, values) = match (q.levels.is_empty(), q.types.is_empty()) {
        (true, true) => (Dimension::All, vec![String::new()]),
        (false, true) => (Dimension::Level, crate::stats::level_values(&q.levels)),
        (true, false) => (Dimension::Type, q.types.clone()),
        (false, false) => return None,
    };
    (values.len() <= MAX_INTEGRATIONS).then(|| CounterSelection {
        project: q.window.project.clone(),
        family: Family::Logs,
        dimension,
        values: Some(values),
    })
}

/// The counters trail the table by the stream's delay (batching window and processing, seconds):
/// a total reads the last minutes instead.
pub const SETTLE_MINUTES: i64 = 5;

/// The range a total covers, `[after, before)` within the retention window.
pub struct TotalRange {
    pub after: Option<DateTime<Utc>>,
    pub before: Option<DateTime<Utc>>,
    pub now: DateTime<Utc>,
    pub retention_days: i64,
}

/// An exact total from counters for whole hours and days, and by reading (`read_edge`, within what
/// is left of `budget`) for the parts of the range at either end and the last minutes.
pub async fn total<S, F, Fut>(
    store: &S,
    selection: &CounterSelection,
    family: Family,
    statuses: &[Status],
    range: TotalRange,
    budget: ReadBudget,
    read_edge: F,
) -> Result<Count, StoreError>
where
    S: ReadStats,
    F: Fn(DateTime<Utc>, DateTime<Utc>, ReadBudget) -> Fut,
    Fut: std::future::Future<Output = Result<Count, StoreError>>,
{
    let oldest = range.now - Duration::days(range.retention_days);
    let newest = range.now + Duration::hours(MAX_CLOCK_SKEW_HOURS);
    let from = range.after.map_or(oldest, |a| a.max(oldest));
    let to = range.before.map_or(newest, |b| b.min(newest));
    if from >= to {
        return Ok(Count { total: 0, exact: true });
    }
    let parts = crate::stats::split(from, to, range.now - Duration::minutes(SETTLE_MINUTES));
    let mut total = 0;
    // Exact only if the counters have taken in every put ingest made in their intervals: read the
    // `All` counters first (the stats function writes them last), strongly consistent, then the
    // selection's, so every change stored before the read began is in what is summed.
    let all = CounterSelection {
        project: selection.project.clone(),
        family: selection.family,
        dimension: Dimension::All,
        values: Some(vec![String::new()]),
    };
    let mut settled = true;
    for (interval, starts) in [(Interval::Day, &parts.days), (Interval::Hour, &parts.hours)] {
        if starts.is_empty() {
            continue;
        }
        let all_rows = store.counters(&all, interval, starts, true).await?;
        // More taken in than noted: records put before ingest noted its puts.
        settled &= all_rows.iter().all(|r| r.tally.applied >= r.tally.written);
        let rows = if *selection == all {
            all_rows
        } else {
            store.counters(selection, interval, starts, true).await?
        };
        total += rows.iter().map(|r| r.tally.total(family, statuses)).sum::<u64>();
    }
    let (mut exact, mut left) = (settled, budget.items.max(1));
    for (a, b) in parts.edges {
        let c = read_edge(a, b, ReadBudget { items: left }).await?;
        total += c.total;
        exact &= c.exact;
        left = left.saturating_sub(c.total).max(1);
    }
    Ok(Count { total, exact })
}

/// Concurrent counter writes of one batch: each is its own item, so they do not contend.
const WRITES_IN_FLIGHT: usize = 16;
/// Query pages beyond the first of each range read at most per request (each up to 1,000 items).
const READ_PAGES_MAX: usize = 32;

impl<B: Backend> Ledger<B> {
    /// One counter's changes past what it has seen from `shard`; `false` when it had seen them all.
    async fn add_one(
        &self,
        counter: &Counter,
        list: &[(Sequence, Tally)],
        shard: &str,
        retention: i64,
    ) -> Result<bool, StoreError> {
        let mut seen: Option<Sequence> = None;
        for _ in 0..retry::MAX_ATTEMPTS {
            let Some(u) = update(counter, list, seen.as_ref(), shard, retention) else {
                return Ok(false);
            };
            let transient = |e: &StoreError| e.is_retryable() && !matches!(e, StoreError::Conflict);
            match retrying(transient, || self.backend.add_to_counter(&u)).await {
                Ok(_) => return Ok(true),
                // Part of these changes was taken in by an earlier delivery: read how far.
                Err(StoreError::Conflict) => {
                    let item = retrying(StoreError::is_retryable, || self.backend.get_item(&u.pk, &u.sk, true)).await?;
                    seen = item.as_ref().and_then(|it| self::seen(it, &u.mark));
                }
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Transient("counter kept changing under its update".into()))
    }
}

impl<B: Backend> KeepStats for Ledger<B> {
    async fn add_counts(&self, shard: &str, changes: &BatchChanges) -> Result<CountsWritten, StoreError> {
        let retention = self.config.retention_days;
        // Checked before anything is written, so a batch that cannot be taken in leaves no part
        // of itself behind (its consumer then isolates the record and sets it aside whole).
        if let Some(c) = changes.counters.keys().find(|c| !fits(c)) {
            return Err(StoreError::Permanent(format!(
                "a {} value of {} bytes does not fit a counter's key",
                c.dimension.name(),
                c.value.len()
            )));
        }
        // `All` counters go last: a reader that finds an `All` counter's writes all taken in knows
        // every other counter of that interval has taken them in too.
        let (others, alls): (Vec<_>, Vec<_>) = changes
            .counters
            .iter()
            .partition(|(c, _)| c.dimension != Dimension::All);
        let mut outcomes: Vec<bool> = Vec::new();
        for all in [others, alls] {
            let all = &all;
            let group: Vec<bool> = stream::iter(0..all.len())
                .map(|i| async move {
                    let (counter, list) = all[i];
                    self.add_one(counter, list, shard, retention).await
                })
                .buffer_unordered(WRITES_IN_FLIGHT)
                .try_collect()
                .await?;
            outcomes.extend(group);
        }
        let written = outcomes.iter().filter(|w| **w).count();
        Ok(CountsWritten {
            written,
            skipped: outcomes.len() - written,
        })
    }
}

impl<B: Backend> NoteWrites for Ledger<B> {
    async fn note_writes(
        &self,
        project: &str,
        family: Family,
        started: DateTime<Utc>,
        n: i64,
    ) -> Result<(), StoreError> {
        for interval in [Interval::Hour, Interval::Day] {
            let c = Counter {
                project: project.to_string(),
                family,
                dimension: Dimension::All,
                value: String::new(),
                interval,
                start: interval.floor(started),
            };
            let (pk, sk) = key(&c);
            // No watermark: ingest has no stream position, and each call is its own addition.
            let u = CounterUpdate {
                pk,
                sk,
                adds: vec![(WRITTEN.to_string(), n)],
                mark: String::new(),
                first: String::new(),
                last: String::new(),
                expires_at: expires_at(&c, self.config.retention_days),
            };
            retrying(StoreError::is_retryable, || self.backend.add_to_counter(&u)).await?;
        }
        Ok(())
    }
}

impl<B: Backend> ReadStats for Ledger<B> {
    async fn counters(
        &self,
        selection: &CounterSelection,
        interval: Interval,
        starts: &[DateTime<Utc>],
        consistent: bool,
    ) -> Result<Vec<CounterRow>, StoreError> {
        let wanted: std::collections::BTreeSet<DateTime<Utc>> = starts.iter().copied().collect();
        let mut rows = Vec::new();
        match ranges(selection, interval, starts) {
            // One value's hours: by key, 100 to a call.
            None => {
                let values = selection.values.clone().unwrap_or_default();
                let keys: Vec<(String, String)> = starts
                    .iter()
                    .flat_map(|t| {
                        values.iter().map(move |v| {
                            key(&Counter {
                                project: selection.project.clone(),
                                family: selection.family,
                                dimension: selection.dimension,
                                value: v.clone(),
                                interval,
                                start: *t,
                            })
                        })
                    })
                    .collect();
                for chunk in keys.chunks(100) {
                    rows.extend(
                        self.backend
                            .batch_get(chunk, consistent)
                            .await?
                            .iter()
                            .filter_map(row_of),
                    );
                }
            }
            Some(ranges) => {
                let mut pages = 0;
                for (pk, from, to) in ranges {
                    let mut from = from;
                    loop {
                        if pages > READ_PAGES_MAX {
                            return Err(StoreError::TooLarge(
                                "too many counters for one request: narrow the range or filter on a value".into(),
                            ));
                        }
                        let q = CollectionQuery {
                            pk: pk.clone(),
                            from: from.clone(),
                            to: to.clone(),
                            limit: 1000,
                            consistent,
                        };
                        let (page, more) = self.backend.query_collection(&q).await?;
                        let last = page
                            .last()
                            .and_then(|it| items::string_attr(it, SK))
                            .map(str::to_string);
                        rows.extend(page.iter().filter_map(row_of));
                        match (more, last) {
                            (true, Some(last)) => {
                                pages += 1;
                                from = format!("{last}\u{0}");
                            }
                            _ => break,
                        }
                    }
                }
            }
        }
        if let Some(values) = &selection.values {
            rows.retain(|r| values.contains(&r.value));
        }
        rows.retain(|r| wanted.contains(&r.start));
        rows.sort_by(|a, b| (a.start, &a.value).cmp(&(b.start, &b.value)));
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        crate::dates::parse(s).unwrap()
    }

    #[test]
    fn keys_read_back_with_values_that_hold_separators() {
        let c = Counter {
            project: "p".into(),
            family: Family::Executions,
            dimension: Dimension::UserId,
            value: "a#b$c".into(),
            interval: Interval::Hour,
            start: at("2026-11-05T07:00:00Z"),
        };
        let (pk, sk) = key(&c);
        assert_eq!(pk, "ST#p#E#userId#2026-11");
        assert_eq!(sk, "H#0507#a#b$c");
        let day = Counter {
            interval: Interval::Day,
            ..c.clone()
        };
        let mut item = Item::new();
        item.insert(PK.into(), s(key(&day).0));
        item.insert(SK.into(), s(key(&day).1.clone()));
        assert_eq!(key(&day).1, "D#a#b$c#05");
        let row = row_of(&item).unwrap();
        assert_eq!((row.start, row.value.as_str()), (at("2026-11-05T00:00:00Z"), "a#b$c"));
        let mut item = Item::new();
        item.insert(PK.into(), s(pk));
        item.insert(SK.into(), s(sk));
        let row = row_of(&item).unwrap();
        assert_eq!((row.start, row.value.as_str()), (c.start, "a#b$c"));
    }

    #[test]
    fn ranges_read_one_values_days_or_every_values_hours() {
        let starts = [
            at("2026-10-30T00:00:00Z"),
            at("2026-10-31T00:00:00Z"),
            at("2026-11-01T00:00:00Z"),
        ];
        let one = CounterSelection {
            project: "p".into(),
            family: Family::Executions,
            dimension: Dimension::Integration,
            values: Some(vec!["crm".into()]),
        };
        assert_eq!(
            ranges(&one, Interval::Day, &starts).unwrap(),
            vec![
                (
                    "ST#p#E#integration#2026-10".into(),
                    "D#crm#30".into(),
                    "D#crm#31".into()
                ),
                (
                    "ST#p#E#integration#2026-11".into(),
                    "D#crm#01".into(),
                    "D#crm#01".into()
                )
            ]
        );
        assert!(
            ranges(&one, Interval::Hour, &starts).is_none(),
            "one value's hours are read by key"
        );
        let every = CounterSelection { values: None, ..one };
        let hours = [at("2026-11-02T05:00:00Z"), at("2026-11-02T06:00:00Z")];
        assert_eq!(
            ranges(&every, Interval::Hour, &hours).unwrap(),
            vec![("ST#p#E#integration#2026-11".into(), "H#0205#".into(), "H#0206$".into())]
        );
        assert!("H#0206#zzz" < "H#0206$" && "D#crm#31" < "D$");
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
        item.insert("w_0000abcd".into(), s("0".repeat(40)));
        assert_eq!(tally_of(&item), t);
    }
}
