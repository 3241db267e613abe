//! Exact totals from the counters: which listings they can count, and the split of a range into
//! whole days, whole hours and edges read from the table.

use super::super::{ReadStats, StoreError};
use crate::model::counts::CounterSelection;
use crate::model::counts::{Dimension, Family, Interval};
use crate::model::limits::{MAX_CLOCK_SKEW_HOURS, MAX_INTEGRATIONS};
use crate::model::Status;
use crate::query::{Count, ListQuery, LogQuery, ReadBudget};
use chrono::{DateTime, Duration, Utc};

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
        (false, true) => (Dimension::Level, crate::model::counts::level_values(&q.levels)),
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
    let parts = crate::model::counts::split(from, to, range.now - Duration::minutes(SETTLE_MINUTES));
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
