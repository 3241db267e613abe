//! Counters of executions and event logs, kept per project, hour and day and per value of each
//! listing dimension, off the request path (the `stats` function reads the table's stream), and
//! what the API reads from them: exact totals and the stats route. This module is their pure part:
//! what a record contributes, the counters' shapes and the ranges a total splits into; the `stats`
//! module feeds them from the stream.
//!
//! A record's contribution to the counters is a pure function of its state (`contributions`). Each
//! stream record adds the contribution of its new image and takes away that of its old one, so an
//! execution that passes through several statuses ends up counted once, under its last status.
//! Exactness under redelivery is the store's part: each shard writes one slot item of a counter,
//! which remembers, per shard that wrote it within the stream's maximum record age, the last
//! sequence number it has taken in, and takes in only records past it (docs/data-model.md,
//! "Counters").

pub mod histogram;

use crate::model::{EventLog, ExecutionSummary, Field, Level, Status};
use chrono::{DateTime, Datelike, Duration, TimeZone, Timelike, Utc};
use histogram::Histogram;
use std::collections::BTreeMap;

/// Which records a counter counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    Executions,
    Logs,
}

/// A listing dimension a counter is kept for; `All` counts every record of the family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dimension {
    All,
    Integration,
    WorkflowId,
    TriggerType,
    UserId,
    Level,
    Type,
}

impl Dimension {
    pub const EXECUTIONS: [Dimension; 5] = [
        Dimension::All,
        Dimension::Integration,
        Dimension::WorkflowId,
        Dimension::TriggerType,
        Dimension::UserId,
    ];
    pub const LOGS: [Dimension; 3] = [Dimension::All, Dimension::Level, Dimension::Type];

    /// The counters' dimension of a listing filter; `None` for fields without counters.
    pub fn of_field(field: crate::model::Field) -> Option<Dimension> {
        use crate::model::Field;
        Some(match field {
            Field::Integration => Dimension::Integration,
            Field::WorkflowId => Dimension::WorkflowId,
            Field::TriggerType => Dimension::TriggerType,
            Field::UserId => Dimension::UserId,
            _ => return None,
        })
    }

    /// The name in `groupBy` and in counter keys.
    pub fn name(self) -> &'static str {
        match self {
            Dimension::All => "all",
            Dimension::Integration => "integration",
            Dimension::WorkflowId => "workflowId",
            Dimension::TriggerType => "triggerType",
            Dimension::UserId => "userId",
            Dimension::Level => "level",
            Dimension::Type => "type",
        }
    }
}

/// The span one counter covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Interval {
    Hour,
    Day,
}

impl Interval {
    pub fn name(self) -> &'static str {
        match self {
            Interval::Hour => "hour",
            Interval::Day => "day",
        }
    }

    pub fn length(self) -> Duration {
        match self {
            Interval::Hour => Duration::hours(1),
            Interval::Day => Duration::days(1),
        }
    }

    /// The start of the interval holding `t`.
    pub fn floor(self, t: DateTime<Utc>) -> DateTime<Utc> {
        let hour = Utc
            .with_ymd_and_hms(t.year(), t.month(), t.day(), t.hour(), 0, 0)
            .single()
            .unwrap_or(t);
        match self {
            Interval::Hour => hour,
            Interval::Day => hour - Duration::hours(t.hour() as i64),
        }
    }

    /// The first interval start at or after `t`.
    pub fn ceil(self, t: DateTime<Utc>) -> DateTime<Utc> {
        let f = self.floor(t);
        if f == t {
            f
        } else {
            f + self.length()
        }
    }

    /// The starts of every interval from `from` (a start) up to, not including, `to`.
    pub fn starts(self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
        let mut out = Vec::new();
        let mut t = from;
        while t < to {
            out.push(t);
            t += self.length();
        }
        out
    }
}

/// One counter: a family's records of one dimension value that started in one interval.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Counter {
    pub project: String,
    pub family: Family,
    pub dimension: Dimension,
    /// The dimension's value; empty when the record has none (and for `All`).
    pub value: String,
    pub interval: Interval,
    pub start: DateTime<Utc>,
}

/// The statuses a duration histogram is kept for.
pub const FINISHED: [Status; 3] = [Status::Succeeded, Status::Failed, Status::Cancelled];

fn status_index(s: Status) -> usize {
    Status::ALL.iter().position(|x| *x == s).unwrap_or(0)
}

/// What a counter holds, or a change to it: counts by status (executions) or of records (event
/// logs), and the durations of finished executions by their status. Signed, so a change can take
/// away what an earlier state added.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub by_status: [i64; 5],
    pub records: i64,
    /// Bucket counts by index of the status in `FINISHED`.
    pub durations: [BTreeMap<u32, i64>; 3],
    /// `All` counters only: puts of records started in the interval that ingest made (counted
    /// before each put, taken back when it did not land), and the stream records of them the
    /// counters took in. Equal, the counters hold every change stored so far.
    pub written: i64,
    pub applied: i64,
}

impl Tally {
    pub fn add(&mut self, other: &Tally, sign: i64) {
        for i in 0..5 {
            self.by_status[i] += sign * other.by_status[i];
        }
        self.records += sign * other.records;
        self.written += sign * other.written;
        self.applied += sign * other.applied;
        for (mine, theirs) in self.durations.iter_mut().zip(&other.durations) {
            for (b, n) in theirs {
                let e = mine.entry(*b).or_default();
                *e += sign * n;
                if *e == 0 {
                    mine.remove(b);
                }
            }
        }
    }

    pub fn is_zero(&self) -> bool {
        self.by_status.iter().all(|n| *n == 0)
            && self.records == 0
            && self.written == 0
            && self.applied == 0
            && self.durations.iter().all(|d| d.is_empty())
    }

    pub fn count(&self, status: Status) -> u64 {
        self.by_status[status_index(status)].max(0) as u64
    }

    /// Executions of any of `statuses` (every status when empty), or event logs.
    pub fn total(&self, family: Family, statuses: &[Status]) -> u64 {
        match family {
            Family::Logs => self.records.max(0) as u64,
            Family::Executions if statuses.is_empty() => self.by_status.iter().map(|n| (*n).max(0) as u64).sum(),
            Family::Executions => statuses.iter().map(|s| self.count(*s)).sum(),
        }
    }

    /// Durations of finished executions of any of `statuses` (every finished one when empty).
    pub fn histogram(&self, statuses: &[Status]) -> Histogram {
        let mut h = Histogram::default();
        for (i, s) in FINISHED.iter().enumerate() {
            if statuses.is_empty() || statuses.contains(s) {
                for (b, n) in &self.durations[i] {
                    if *n > 0 {
                        *h.0.entry(*b).or_default() += *n as u64;
                    }
                }
            }
        }
        h
    }
}

/// A record as the counters see it.
#[derive(Clone, Copy, Debug)]
pub enum Counted<'a> {
    Execution(&'a ExecutionSummary),
    Log(&'a EventLog),
}

/// What one record in its current state adds to the counters: one tally for each dimension, hourly
/// and daily. `None` when it has no readable start time.
pub fn contributions(project: &str, record: Counted<'_>) -> Vec<(Counter, Tally)> {
    let family = match record {
        Counted::Execution(_) => Family::Executions,
        Counted::Log(_) => Family::Logs,
    };
    let (started, values, tally): (_, Vec<(Dimension, String)>, Tally) = match record {
        Counted::Execution(e) => {
            let mut tally = Tally::default();
            tally.by_status[status_index(e.status)] = 1;
            if let (Some(i), Some(d)) = (FINISHED.iter().position(|s| *s == e.status), e.run_duration) {
                tally.durations[i].insert(histogram::bucket_of(d), 1);
            }
            let v = |f: Field| e.text(f).unwrap_or_default().to_string();
            let values = vec![
                (Dimension::All, String::new()),
                (Dimension::Integration, v(Field::Integration)),
                (Dimension::WorkflowId, e.workflow_id.clone()),
                (Dimension::TriggerType, v(Field::TriggerType)),
                (Dimension::UserId, v(Field::UserId)),
            ];
            (crate::dates::parse(&e.date_started), values, tally)
        }
        Counted::Log(l) => {
            let tally = Tally {
                records: 1,
                ..Tally::default()
            };
            let values = vec![
                (Dimension::All, String::new()),
                (Dimension::Level, l.level.as_str().to_string()),
                (Dimension::Type, l.log_type.clone()),
            ];
            (crate::dates::parse(&l.timestamp), values, tally)
        }
    };
    let Some(started) = started else {
        return Vec::new();
    };
    let mut out = Vec::with_capacity(values.len() * 2);
    for (dimension, value) in values {
        for interval in [Interval::Hour, Interval::Day] {
            out.push((
                Counter {
                    project: project.to_string(),
                    family,
                    dimension,
                    value: value.clone(),
                    interval,
                    start: interval.floor(started),
                },
                tally.clone(),
            ));
        }
    }
    out
}

/// A stream sequence number, comparable as text: left-padded with zeros to the 40 digits DynamoDB
/// Streams may use.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sequence(pub String);

impl Sequence {
    pub fn of(raw: &str) -> Sequence {
        Sequence(format!("{raw:0>40}"))
    }
}

/// The changes one stream batch makes to each counter, record by record in stream order, so the
/// store can take in only those past what a counter has already seen.
#[derive(Debug, Default)]
pub struct BatchChanges {
    pub counters: BTreeMap<Counter, Vec<(Sequence, Tally)>>,
}

impl BatchChanges {
    /// Adds one stream record: its new image's contribution less its old image's.
    pub fn add(&mut self, seq: &Sequence, old: Option<(&str, Counted<'_>)>, new: Option<(&str, Counted<'_>)>) {
        let mut delta: BTreeMap<Counter, Tally> = BTreeMap::new();
        for (sign, side) in [(-1, old), (1, new)] {
            if let Some((project, record)) = side {
                for (counter, tally) in contributions(project, record) {
                    delta.entry(counter).or_default().add(&tally, sign);
                }
            }
        }
        // The record itself is taken in: its `All` counters say so, even when its state changed
        // nothing they count.
        if let Some((project, record)) = new {
            for (counter, _) in contributions(project, record) {
                if counter.dimension == Dimension::All {
                    delta.entry(counter).or_default().applied += 1;
                }
            }
        }
        for (counter, tally) in delta {
            if !tally.is_zero() {
                self.counters.entry(counter).or_default().push((seq.clone(), tally));
            }
        }
    }

    /// The sum of a counter's changes past `seen` (every change when `None`), and the range of
    /// sequence numbers they span.
    pub fn past(changes: &[(Sequence, Tally)], seen: Option<&Sequence>) -> Option<(Tally, Sequence, Sequence)> {
        let mut sum = Tally::default();
        let mut range: Option<(Sequence, Sequence)> = None;
        for (seq, t) in changes {
            if seen.is_some_and(|s| seq <= s) {
                continue;
            }
            sum.add(t, 1);
            range = Some(match range {
                None => (seq.clone(), seq.clone()),
                Some((first, _)) => (first, seq.clone()),
            });
        }
        range.map(|(first, last)| (sum, first, last))
    }
}

/// Which counters answer a read: one dimension (or `All`) and, when known, its values.
#[derive(Clone, Debug, PartialEq)]
pub struct CounterSelection {
    pub project: String,
    pub family: Family,
    pub dimension: Dimension,
    /// `None`: every value the counters hold.
    pub values: Option<Vec<String>>,
}

/// A counter as read: its value, interval start and what it holds.
#[derive(Clone, Debug, PartialEq)]
pub struct CounterRow {
    pub value: String,
    pub start: DateTime<Utc>,
    pub tally: Tally,
}

/// Level names as counter values, for a level filter.
pub fn level_values(levels: &[Level]) -> Vec<String> {
    levels.iter().map(|l| l.as_str().to_string()).collect()
}

/// How a range `[from, to)` splits for an exact total: whole days and whole hours come from
/// counters, the parts at either end (less than an hour each) are counted by reading.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Split {
    /// Counted by reading: `[from, to)` each.
    pub edges: Vec<(DateTime<Utc>, DateTime<Utc>)>,
    /// Whole days, by start.
    pub days: Vec<DateTime<Utc>>,
    /// Whole hours outside those days, by start.
    pub hours: Vec<DateTime<Utc>>,
}

/// Splits `[from, to)`; everything from `settled` on is counted by reading, because the counters
/// trail the table by the stream's delay.
pub fn split(from: DateTime<Utc>, to: DateTime<Utc>, settled: DateTime<Utc>) -> Split {
    let whole_from = Interval::Hour.ceil(from);
    let whole_to = Interval::Hour.floor(to.min(settled));
    if whole_from >= whole_to {
        return Split {
            edges: if from < to { vec![(from, to)] } else { Vec::new() },
            days: Vec::new(),
            hours: Vec::new(),
        };
    }
    let mut edges = Vec::new();
    if from < whole_from {
        edges.push((from, whole_from));
    }
    if whole_to < to {
        edges.push((whole_to, to));
    }
    let day_from = Interval::Day.ceil(whole_from);
    let day_to = Interval::Day.floor(whole_to);
    let (days, hours) = if day_from < day_to {
        let mut hours = Interval::Hour.starts(whole_from, day_from);
        hours.extend(Interval::Hour.starts(day_to, whole_to));
        (Interval::Day.starts(day_from, day_to), hours)
    } else {
        (Vec::new(), Interval::Hour.starts(whole_from, whole_to))
    };
    Split { edges, days, hours }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        crate::dates::parse(s).unwrap()
    }

    fn execution(status: Status, duration: Option<u64>) -> ExecutionSummary {
        ExecutionSummary {
            id: "e1".into(),
            project_id: "p".into(),
            workflow_id: "wf".into(),
            texts: BTreeMap::from([(Field::UserId, "u1".into()), (Field::Integration, "salesforce".into())]),
            status,
            task_count: None,
            run_duration: duration,
            date_started: "2026-11-20T10:15:00.000Z".into(),
            date_ended: None,
            error: None,
        }
    }

    #[test]
    fn a_status_change_moves_the_count_and_adds_a_duration_once() {
        let queued = execution(Status::Running, None);
        let done = execution(Status::Succeeded, Some(1200));
        let mut batch = BatchChanges::default();
        batch.add(&Sequence::of("1"), None, Some(("p", Counted::Execution(&queued))));
        batch.add(
            &Sequence::of("2"),
            Some(("p", Counted::Execution(&queued))),
            Some(("p", Counted::Execution(&done))),
        );
        assert_eq!(batch.counters.len(), 10, "5 dimensions, hourly and daily");
        for changes in batch.counters.values() {
            let (sum, first, last) = BatchChanges::past(changes, None).unwrap();
            assert_eq!(sum.count(Status::Succeeded), 1);
            assert_eq!(sum.total(Family::Executions, &[]), 1);
            assert_eq!(sum.histogram(&[]).count(), 1);
            assert_eq!((first, last), (Sequence::of("1"), Sequence::of("2")));
            let (later, ..) = BatchChanges::past(changes, Some(&Sequence::of("1"))).unwrap();
            assert_eq!(
                later.count(Status::Running),
                0,
                "the change of record 2 alone takes one away"
            );
            assert_eq!(later.by_status[status_index(Status::Running)], -1);
        }
    }

    #[test]
    fn sequences_compare_as_numbers() {
        assert!(Sequence::of("999") < Sequence::of("1000"));
        assert!(Sequence::of("111000000000000000000000001") > Sequence::of("99000000000000000000000001"));
    }

    #[test]
    fn a_range_splits_into_edges_hours_and_days() {
        let s = split(
            at("2026-11-01T10:30:00Z"),
            at("2026-11-04T02:10:00Z"),
            at("2026-11-26T00:00:00Z"),
        );
        assert_eq!(
            s.edges,
            vec![
                (at("2026-11-01T10:30:00Z"), at("2026-11-01T11:00:00Z")),
                (at("2026-11-04T02:00:00Z"), at("2026-11-04T02:10:00Z"))
            ]
        );
        assert_eq!(s.days, vec![at("2026-11-02T00:00:00Z"), at("2026-11-03T00:00:00Z")]);
        assert_eq!(s.hours.len(), 13 + 2);
        let inside = split(
            at("2026-11-01T10:30:00Z"),
            at("2026-11-01T10:50:00Z"),
            at("2026-11-26T00:00:00Z"),
        );
        assert_eq!(inside.edges.len(), 1);
        assert!(inside.days.is_empty() && inside.hours.is_empty());
        let recent = split(
            at("2026-11-25T00:00:00Z"),
            at("2026-11-26T00:00:00Z"),
            at("2026-11-25T20:05:00Z"),
        );
        assert_eq!(
            recent.edges,
            vec![(at("2026-11-25T20:00:00Z"), at("2026-11-26T00:00:00Z"))]
        );
        assert_eq!(recent.hours.len(), 20);
    }
}
