//! Which index serves a query, with which values and filters, over which months and partitions:
//! the plan a listing reads by.

use super::super::event_log;
use super::super::execution;
use super::super::index;
use super::super::index::{ListIndex, Source};
use super::super::shard_layout::ShardLayout;
use crate::model::limits::MAX_CLOCK_SKEW_HOURS;
use crate::query::{ListQuery, LogQuery, Window};
use chrono::{DateTime, Duration, Utc};

/// Which index serves a query, with which values, and what is left to filter.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub source: Source,
    pub index: ListIndex,
    /// One partition per value; `[None]` for the project index and the log table.
    pub values: Vec<Option<String>>,
    pub filters: Vec<(&'static str, Vec<String>)>,
}

fn values_for(q: &ListQuery, index: ListIndex) -> Vec<String> {
    match index {
        ListIndex::Status => q.statuses.iter().map(|s| s.as_str().to_string()).collect(),
        ListIndex::Project | ListIndex::Table => Vec::new(),
        _ => {
            let field = index.field();
            q.dimensions
                .iter()
                .filter(|(f, _)| Some(*f) == field)
                .flat_map(|(_, v)| v.clone())
                .collect()
        }
    }
}

fn filter_attribute(index: ListIndex) -> &'static str {
    match index.field() {
        Some(f) => execution::filter_attribute(f),
        None => execution::status_attribute(),
    }
}

/// The first candidate (index, its filter attribute, values) with values drives the Query; the
/// other candidates with values become filters, ahead of `extra` ones.
fn plan_from(
    source: Source,
    fallback: ListIndex,
    candidates: Vec<(ListIndex, &'static str, Vec<String>)>,
    extra: Vec<(&'static str, Vec<String>)>,
) -> Plan {
    let mut chosen: Option<(ListIndex, Vec<String>)> = None;
    let mut filters = Vec::new();
    for (index, attribute, values) in candidates.into_iter().filter(|c| !c.2.is_empty()) {
        match chosen {
            None => chosen = Some((index, values)),
            Some(_) => filters.push((attribute, values)),
        }
    }
    filters.extend(extra.into_iter().filter(|(_, v)| !v.is_empty()));
    let (index, values) = match chosen {
        Some((index, values)) => (index, values.into_iter().map(Some).collect()),
        None => (fallback, vec![None]),
    };
    Plan {
        source,
        index,
        values,
        filters,
    }
}

/// The most selective dimension present drives the Query; the others become a filter, as does any
/// dimension without an index of its own (`triggerType`).
pub fn plan(q: &ListQuery) -> Plan {
    let candidates = ListIndex::DIMENSIONS
        .into_iter()
        .map(|index| (index, filter_attribute(index), values_for(q, index)))
        .collect();
    let unindexed = q
        .dimensions
        .iter()
        .filter(|(field, _)| !ListIndex::DIMENSIONS.iter().any(|i| i.field() == Some(*field)))
        .map(|(field, values)| (execution::filter_attribute(*field), values.clone()))
        .collect();
    plan_from(Source::Executions, ListIndex::Project, candidates, unindexed)
}

/// Event logs: a trace, user, workflow or integration filter reads that index; otherwise the
/// project's log partitions of the table. Level and type are always filters (a handful of values
/// per project: an index of their own would cost every write more than it saves reads).
pub fn plan_logs(q: &LogQuery) -> Plan {
    let candidates = [
        ListIndex::Trace,
        ListIndex::User,
        ListIndex::Workflow,
        ListIndex::Integration,
    ]
    .into_iter()
    .filter_map(|index| {
        let field = index.log_field()?;
        let values = q
            .dimensions
            .iter()
            .filter(|(f, _)| *f == field)
            .flat_map(|(_, v)| v.clone())
            .collect();
        Some((index, event_log::filter_attribute(field), values))
    })
    .collect();
    let levels = q.levels.iter().map(|l| l.as_str().to_string()).collect();
    let extra = vec![
        (event_log::level_attribute(), levels),
        (event_log::type_attribute(), q.types.clone()),
    ];
    plan_from(Source::Logs, ListIndex::Table, candidates, extra)
}

/// A stretch of a range within one month (or all time, for a timeless index) and one shard epoch:
/// inclusive listing-key bounds and the shard count of every record between them.
pub(super) struct Segment {
    pub(super) bucket: String,
    pub(super) from: String,
    pub(super) to: String,
    pub(super) shards: u32,
}

/// The inclusive listing-key range of a query, after a resume position.
pub(super) struct Range {
    pub(super) from: String,
    pub(super) to: String,
    /// Segments in reading order, each with its own bounds.
    pub(super) segments: Vec<Segment>,
}

pub(super) fn time_of(k: &str) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(millis_of(k)?)
}

fn millis_of(k: &str) -> Option<i64> {
    k.get(..13)?.parse().ok()
}

/// The latest record time a read of `w` can reach: what its layout must answer for.
pub(super) fn newest_millis(w: &Window) -> i64 {
    w.before
        .unwrap_or(w.now + Duration::hours(MAX_CLOCK_SKEW_HOURS) + Duration::milliseconds(1))
        .timestamp_millis()
}

/// `[from, to]` of one bucket cut at the layout's epochs: each piece keeps the bound it was given
/// where no epoch cuts it.
fn split(bucket: &str, from: &str, to: &str, layout: &ShardLayout, out: &mut Vec<Segment>) {
    let (Some(lo), Some(hi)) = (millis_of(from), millis_of(to)) else {
        return;
    };
    for span in layout.spans(lo, hi) {
        out.push(Segment {
            bucket: bucket.to_string(),
            from: if span.from_ms == lo {
                from.to_string()
            } else {
                index::listing_sk_from_millis(span.from_ms)
            },
            to: if span.to_ms == hi {
                to.to_string()
            } else {
                index::listing_sk_through_millis(span.to_ms)
            },
            shards: span.shards,
        });
    }
}

pub(super) fn range(
    w: &Window,
    retention_days: i64,
    resume: Option<&str>,
    timeless: bool,
    layout: &ShardLayout,
) -> Range {
    // Expired records are hidden even before DynamoDB deletes them.
    let oldest = w.now - Duration::days(retention_days);
    let lo = w.after.map_or(oldest, |a| a.max(oldest));
    // Events may be dated ahead of the clock by up to the clock-skew allowance ingest grants.
    let hi = DateTime::from_timestamp_millis(newest_millis(w)).unwrap_or(w.now);
    let mut from = index::listing_sk_from(lo);
    let mut to = index::listing_sk_before(hi);
    if let Some(last) = resume {
        if w.ascending {
            from = from.max(last.to_string());
        } else {
            to = to.min(last.to_string());
        }
    }
    let mut segments = Vec::new();
    if from <= to {
        if timeless {
            split("", &from, &to, layout, &mut segments);
        } else {
            let (first, last) = (time_of(&from).unwrap_or(lo), time_of(&to).unwrap_or(hi));
            let all = index::months(first, last);
            for (i, (bucket, start)) in all.iter().enumerate() {
                let m_from = index::listing_sk_from(*start).max(from.clone());
                let m_to = match all.get(i + 1) {
                    Some((_, next)) => index::listing_sk_before(*next).min(to.clone()),
                    None => to.clone(),
                };
                if m_from <= m_to {
                    split(bucket, &m_from, &m_to, layout, &mut segments);
                }
            }
        }
    }
    if !w.ascending {
        segments.reverse();
    }
    Range { from, to, segments }
}

/// The partitions a segment's records are in: one per value and shard.
pub(super) fn partitions(project: &str, segment: &Segment, plan: &Plan) -> Vec<String> {
    let mut out = Vec::new();
    for value in &plan.values {
        for shard in 0..segment.shards {
            out.push(index::partition_key(
                plan.source,
                plan.index,
                project,
                &segment.bucket,
                shard,
                segment.shards,
                value.as_deref(),
            ));
        }
    }
    out
}
