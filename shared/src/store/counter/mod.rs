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

use super::backend::CounterUpdate;
use super::table;
use super::table::{n, s, Item, EXPIRES_AT, PK, SK};
use crate::model::counts::CounterSelection;
use crate::model::counts::{BatchChanges, Counter, CounterRow, Dimension, Family, Interval, Sequence, Tally};
use chrono::{DateTime, Datelike, Duration, TimeZone, Timelike, Utc};
use std::collections::BTreeMap;

pub(super) const PREFIX: &str = "ST#";

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

/// The project of a counter partition key.
pub(super) fn project_of_partition(pk: &str) -> Option<&str> {
    pk.strip_prefix(PREFIX)?.split('#').next()
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
    table::string_attr(item, mark).map(|s| Sequence(s.to_string()))
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
