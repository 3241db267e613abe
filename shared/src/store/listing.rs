//! Listings: which index serves a query, which partitions it reads, and the paging over them within
//! a read budget. A page resumes exactly where reading stopped: a position is a listing key such
//! that every match on its side of the order has been returned. Executions and event logs share the
//! engine; a `Refine` step may drop entries (keyword search) or replace them with whole items
//! before they count as found, and its reads count against the budget too.

use super::backend::{Backend, IndexQuery};
use super::event_log;
use super::execution;
use super::index;
use super::index::{ListIndex, Source};
use super::table;
use super::table::Item;
use super::StoreError;
use crate::model::limits::MAX_CLOCK_SKEW_HOURS;
use crate::query::{Count, ListQuery, LogQuery, Position, ReadBudget};
use chrono::{DateTime, Duration, Utc};
use futures::future::try_join_all;
use std::future::Future;

/// Which index serves a query, with which values, and what is left to filter.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub source: Source,
    pub index: ListIndex,
    /// One partition per value; `[None]` for the project index and the log table.
    pub values: Vec<Option<String>>,
    pub filters: Vec<(&'static str, Vec<String>)>,
}

/// The part of a query every listing has: project, range, order, page size and clock.
#[derive(Clone, Debug)]
pub struct Window<'a> {
    pub project: &'a str,
    pub after: Option<DateTime<Utc>>,
    pub before: Option<DateTime<Utc>>,
    pub ascending: bool,
    pub limit: usize,
    pub now: DateTime<Utc>,
}

impl<'a> Window<'a> {
    pub fn of_executions(q: &'a ListQuery) -> Self {
        Window {
            project: &q.window.project,
            after: q.window.after,
            before: q.window.before,
            ascending: q.window.ascending,
            limit: q.window.limit,
            now: q.window.now,
        }
    }

    pub fn of_logs(q: &'a LogQuery) -> Self {
        Window {
            project: &q.window.project,
            after: q.window.after,
            before: q.window.before,
            ascending: q.window.ascending,
            limit: q.window.limit,
            now: q.window.now,
        }
    }
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

/// The inclusive listing-key range of a query, after a resume position.
struct Range {
    from: String,
    to: String,
    /// Months in reading order, each with its own bounds; one span for a timeless index.
    months: Vec<(String, String, String)>,
}

fn time_of(k: &str) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(k.get(..13)?.parse().ok()?)
}

fn range(w: &Window, retention_days: i64, resume: Option<&str>, timeless: bool) -> Range {
    // Expired records are hidden even before DynamoDB deletes them.
    let oldest = w.now - Duration::days(retention_days);
    let lo = w.after.map_or(oldest, |a| a.max(oldest));
    // Events may be dated ahead of the clock by up to the clock-skew allowance ingest grants.
    let hi = w
        .before
        .unwrap_or(w.now + Duration::hours(MAX_CLOCK_SKEW_HOURS) + Duration::milliseconds(1));
    let mut from = index::listing_sk_from(lo);
    let mut to = index::listing_sk_before(hi);
    if let Some(last) = resume {
        if w.ascending {
            from = from.max(last.to_string());
        } else {
            to = to.min(last.to_string());
        }
    }
    if timeless {
        let months = vec![(String::new(), from.clone(), to.clone())];
        return Range { from, to, months };
    }
    let (first, last) = (time_of(&from).unwrap_or(lo), time_of(&to).unwrap_or(hi));
    let mut months: Vec<(String, String, String)> = Vec::new();
    let all = index::months(first, last);
    for (i, (bucket, start)) in all.iter().enumerate() {
        let m_from = index::listing_sk_from(*start).max(from.clone());
        let m_to = match all.get(i + 1) {
            Some((_, next)) => index::listing_sk_before(*next).min(to.clone()),
            None => to.clone(),
        };
        months.push((bucket.clone(), m_from, m_to));
    }
    if !w.ascending {
        months.reverse();
    }
    Range { from, to, months }
}

fn partitions(project: &str, bucket: &str, plan: &Plan, shards: u32) -> Vec<String> {
    let mut out = Vec::new();
    for value in &plan.values {
        let shard_count = if plan.index.timeless() { 1 } else { shards };
        for shard in 0..shard_count {
            out.push(index::partition_key(
                plan.source,
                plan.index,
                project,
                bucket,
                shard,
                shards,
                value.as_deref(),
            ));
        }
    }
    out
}

/// One partition's progress within a month.
struct Cursor {
    query: IndexQuery,
    /// Listing key of the last item examined.
    frontier: Option<String>,
    done: bool,
}

/// `a` comes before `b` in the reading order.
fn before(a: &str, b: &str, ascending: bool) -> bool {
    if ascending {
        a < b
    } else {
        a > b
    }
}

/// A step between reading entries and counting them as found: drops those that do not match
/// (keyword search) or replaces them with whole items. Returns what it keeps, in order, and the
/// items it read (charged to the budget).
/// What refining a chunk of entries gave.
pub struct Refined {
    /// The entries kept, among the first `decided`.
    pub kept: Vec<(String, Item)>,
    /// Items read, counted against the read budget.
    pub cost: u64,
    /// Bytes of items and bodies read.
    pub bytes: u64,
    /// How many leading entries were decided; the rest were left when the bytes ran out.
    pub decided: usize,
}

pub trait Refine: Sync {
    /// Refines `entries` reading at most about `bytes_left` bytes; with `progress`, the first
    /// entry is decided whatever it costs, so every page moves on.
    fn refine(
        &self,
        entries: Vec<(String, Item)>,
        bytes_left: u64,
        progress: bool,
    ) -> impl Future<Output = Result<Refined, StoreError>> + Send;
}

/// Keeps every entry as read.
pub struct Keep;

impl Refine for Keep {
    async fn refine(&self, entries: Vec<(String, Item)>, _: u64, _: bool) -> Result<Refined, StoreError> {
        let decided = entries.len();
        Ok(Refined {
            kept: entries,
            cost: 0,
            bytes: 0,
            decided,
        })
    }
}

/// Entries refined at once: one BatchGetItem.
const REFINE_CHUNK: usize = 100;
/// Bytes one page may read to check search candidates: a candidate's steps and bodies (up to 5 MB
/// each) count by size, not as one item.
pub const READ_BUDGET_BYTES: u64 = 16 * 1024 * 1024;

/// Entries a filtered Query reads per match it still needs, before any has been seen: a guess of
/// one match in ten, soon replaced by what the reads find.
const PRIOR_EXAMINED_PER_MATCH: u64 = 10;
/// Most items one Query may examine (it also stops at 1 MB).
const QUERY_MAX: u64 = 1000;

/// The `Limit` of a Query that should find `need` more matches. Without a residual filter every
/// entry matches, so it is `need`; with one, it is `need` times the entries examined per match so
/// far (with the prior above, and a quarter more, so one Query usually suffices): a selective
/// filter then costs about one Query per 1,000 entries, not one per page's worth of them.
pub fn query_limit(need: u64, share: u64, filtered: bool, examined: u64, matched: u64) -> u32 {
    let want = if filtered {
        let per_match = (examined + PRIOR_EXAMINED_PER_MATCH) as f64 / (matched + 1) as f64;
        (need as f64 * per_match * 1.25).ceil() as u64
    } else {
        need
    };
    want.min(share).clamp(1, QUERY_MAX) as u32
}

/// Bytes of records one page may carry: Lambda answers at most 6 MB, and JSON adds to the stored
/// size (`table::response_size` estimates it).
pub const RESPONSE_MAX_BYTES: usize = 5_000_000;

/// What a listing read: entries (as refined) in order, where to resume, and how far it got.
#[derive(Debug, Default)]
pub struct Found {
    pub entries: Vec<Item>,
    pub next: Option<Position>,
    pub partial: bool,
    pub reached: Option<DateTime<Utc>>,
    /// Budget spent: entries examined and items a refine step read.
    pub used: u64,
}

#[allow(clippy::too_many_arguments)]
pub async fn scan<B: Backend, R: Refine>(
    backend: &B,
    retention_days: i64,
    shards: u32,
    plan: &Plan,
    w: &Window<'_>,
    resume: Option<&Position>,
    budget: ReadBudget,
    refine: &R,
) -> Result<Found, StoreError> {
    let resume = resume.map(|p| p.0.as_str());
    let range = range(w, retention_days, resume, plan.index.timeless());
    let now_epoch = w.now.timestamp();
    let want = w.limit + 1; // one more than the page, to know whether another page exists
    let mut left = budget.items.max(1);
    let mut found: Vec<(String, Item)> = Vec::new();
    let mut stop: Option<String> = None;
    let mut refined_to: Option<String> = None;
    let (mut bytes, mut full) = (0usize, false);
    // Bytes a search may read checking candidates (their steps and bodies), besides the items.
    let mut bytes_left = READ_BUDGET_BYTES;
    let mut out_of_bytes = false;
    // What the filtered Queries of this page examined and kept, to size the next ones.
    let (mut examined, mut matched) = (0u64, 0u64);

    if range.from <= range.to {
        'months: for (bucket, m_from, m_to) in &range.months {
            if m_from > m_to {
                continue;
            }
            if left == 0 {
                // Everything before this month has been read: resume at its boundary, which is
                // either a bound no item has or the key already returned last.
                stop = Some(if w.ascending { m_from.clone() } else { m_to.clone() });
                break 'months;
            }
            let mut cursors: Vec<Cursor> = partitions(w.project, bucket, plan, shards)
                .into_iter()
                .map(|partition| Cursor {
                    query: IndexQuery {
                        index: plan.index,
                        // Resume strictly after the position, so every read makes progress.
                        start: resume
                            .filter(|r| m_from.as_str() <= *r && *r <= m_to.as_str())
                            .and_then(|r| {
                                index::index_start(plan.source, w.project, plan.index, &partition, r, shards)
                            }),
                        partition,
                        from: m_from.clone(),
                        to: m_to.clone(),
                        ascending: w.ascending,
                        limit: 0,
                        filters: plan.filters.clone(),
                    },
                    frontier: None,
                    done: false,
                })
                .collect();
            let mut pool: Vec<(String, Item)> = Vec::new();
            let filtered = !plan.filters.is_empty();
            loop {
                let active: Vec<usize> = (0..cursors.len()).filter(|&c| !cursors[c].done).collect();
                if active.is_empty() {
                    break;
                }
                let need = (want - found.len()) as u64;
                let share = (left / active.len() as u64).max(1);
                let limit = query_limit(need, share, filtered, examined, matched);
                let reads = active.iter().map(|&c| {
                    let mut query = cursors[c].query.clone();
                    query.limit = limit;
                    async move { backend.query_index(&query).await }
                });
                let pages = try_join_all(reads).await?;
                for (&c, page) in active.iter().zip(pages) {
                    left = left.saturating_sub(page.scanned.max(1));
                    examined += page.scanned;
                    matched += page.items.len() as u64;
                    let cursor = &mut cursors[c];
                    let partition = &cursor.query.partition;
                    pool.extend(
                        page.items
                            .into_iter()
                            .filter(|it| {
                                Some(table::listing_key(it)) != resume
                                    && !table::is_expired(it, now_epoch)
                                    && index::in_partition(plan.source, w.project, plan.index, partition, it, shards)
                            })
                            .map(|it| (table::listing_key(&it).to_string(), it)),
                    );
                    match page.last {
                        Some(last) if !last.is_empty() => {
                            // LastEvaluatedKey holds only key attributes: the table's sort key is the
                            // listing key of an event log, `lsk` that of an index entry.
                            cursor.frontier = Some(index::entry_key(&last, plan.index).to_string());
                            cursor.query.start = Some(last);
                        }
                        _ => cursor.done = true,
                    }
                }
                // Every match on the near side of the slowest open partition has been seen.
                let frontier: Option<String> = cursors
                    .iter()
                    .filter(|c| !c.done)
                    .filter_map(|c| c.frontier.clone())
                    .reduce(|a, b| if before(&a, &b, w.ascending) { a } else { b });
                pool.sort_by(|a, b| if w.ascending { a.0.cmp(&b.0) } else { b.0.cmp(&a.0) });
                let settled = match &frontier {
                    None => pool.len(),
                    Some(f) => pool.iter().take_while(|(k, _)| !before(f, k, w.ascending)).count(),
                };
                let mut ready: Vec<(String, Item)> = Vec::new();
                for (k, it) in pool.drain(..settled) {
                    // While a status change propagates to the index, an execution can sit in two
                    // status partitions at once: one listing key, returned once.
                    let last = ready.last().or(found.last());
                    if last.is_some_and(|(l, _)| *l == k) {
                        continue;
                    }
                    ready.push((k, it));
                }
                let mut ready = ready.into_iter().peekable();
                while ready.peek().is_some() && found.len() < want {
                    if left == 0 {
                        // Everything up to the last refined entry is settled: resume after it.
                        if let Some(k) = refined_to.take() {
                            stop = Some(k);
                            break 'months;
                        }
                    }
                    let chunk: Vec<(String, Item)> = ready.by_ref().take(REFINE_CHUNK).collect();
                    let keys: Vec<String> = chunk.iter().map(|(k, _)| k.clone()).collect();
                    let progress = refined_to.is_none() && found.is_empty();
                    let r = refine.refine(chunk, bytes_left, progress).await?;
                    left = left.saturating_sub(r.cost);
                    bytes_left = bytes_left.saturating_sub(r.bytes);
                    if r.decided < keys.len() {
                        // The bytes ran out inside the chunk: resume after its last decided entry.
                        if r.decided > 0 {
                            refined_to = Some(keys[r.decided - 1].clone());
                        }
                        stop = refined_to.take().or_else(|| found.last().map(|(k, _)| k.clone()));
                        out_of_bytes = true;
                    } else {
                        refined_to = keys.last().cloned();
                    }
                    for (k, it) in r.kept {
                        bytes += table::response_size(&it);
                        found.push((k, it));
                        if bytes > RESPONSE_MAX_BYTES && found.len() > 1 {
                            // A page ends before its response could pass Lambda's 6 MB limit; the
                            // next page starts with the entry that did not fit.
                            found.pop();
                            full = true;
                            break 'months;
                        }
                    }
                    if out_of_bytes {
                        break 'months;
                    }
                }
                if found.len() >= want {
                    break 'months;
                }
                if left == 0 {
                    if let Some(f) = frontier {
                        stop = Some(f);
                        break 'months;
                    }
                }
            }
        }
    }

    let mut next = None;
    let mut partial = false;
    if found.len() > w.limit || full {
        found.truncate(w.limit);
        next = found.last().map(|(k, _)| Position(k.clone()));
    } else if let Some(stop) = stop {
        partial = found.len() < w.limit;
        next = Some(Position(stop));
    }
    let reached = match &next {
        Some(p) => time_of(&p.0),
        // Everything in range was read: the search got to the far end of it.
        None if w.ascending => time_of(&range.to),
        None => time_of(&range.from),
    };
    Ok(Found {
        entries: found.into_iter().map(|(_, it)| it).collect(),
        next,
        partial,
        reached,
        used: budget.items.max(1) - left,
    })
}

/// The number of all matches within the budget, counted with `Select COUNT`; a trace partition,
/// which holds both families, is read and its entries checked instead.
pub async fn count<B: Backend>(
    backend: &B,
    retention_days: i64,
    shards: u32,
    plan: &Plan,
    w: &Window<'_>,
    budget: ReadBudget,
) -> Result<Count, StoreError> {
    let range = range(w, retention_days, None, plan.index.timeless());
    let mut left = budget.items.max(1);
    let mut total = 0;
    if range.from > range.to {
        return Ok(Count { total, exact: true });
    }
    let now_epoch = w.now.timestamp();
    for (bucket, m_from, m_to) in &range.months {
        for partition in partitions(w.project, bucket, plan, shards) {
            let mut query = IndexQuery {
                index: plan.index,
                partition,
                from: m_from.clone(),
                to: m_to.clone(),
                ascending: true,
                limit: 0,
                filters: plan.filters.clone(),
                start: None,
            };
            loop {
                if left == 0 {
                    return Ok(Count { total, exact: false });
                }
                query.limit = left.min(100_000) as u32;
                let page = if plan.index.timeless() {
                    query.limit = query.limit.min(1000);
                    let page = backend.query_index(&query).await?;
                    total += page
                        .items
                        .iter()
                        .filter(|it| {
                            !table::is_expired(it, now_epoch)
                                && index::in_partition(plan.source, w.project, plan.index, &query.partition, it, shards)
                        })
                        .count() as u64;
                    page
                } else {
                    let (n, page) = backend.count_index(&query).await?;
                    total += n;
                    page
                };
                left = left.saturating_sub(page.scanned.max(1));
                match page.last {
                    Some(last) if !last.is_empty() => query.start = Some(last),
                    _ => break,
                }
            }
        }
    }
    // Records past retention but not yet deleted by TTL sit inside the clamped range only on its
    // first day; the count clamps the range like the listing, so both agree.
    Ok(Count { total, exact: true })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Field, Status};

    fn q() -> ListQuery {
        ListQuery {
            window: crate::query::Window {
                project: "p".into(),
                limit: 100,
                now: crate::dates::parse("2026-11-25T00:00:00Z").unwrap(),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn one_dimension_uses_its_own_index_without_a_filter() {
        let mut query = q();
        query.dimensions = vec![(Field::Integration, vec!["a".into(), "b".into()])];
        let plan = plan(&query);
        assert_eq!(plan.index, ListIndex::Integration);
        assert_eq!(plan.values, [Some("a".to_string()), Some("b".to_string())]);
        assert!(plan.filters.is_empty());
    }

    #[test]
    fn user_drives_failed_executions_of_one_user() {
        let mut query = q();
        query.dimensions = vec![(Field::UserId, vec!["u".into()])];
        query.statuses = vec![Status::Failed];
        let plan = plan(&query);
        assert_eq!(plan.index, ListIndex::User);
        assert_eq!(plan.filters, [("s", vec!["FAILED".to_string()])]);
    }

    #[test]
    fn trigger_type_filters_the_project_index() {
        let mut query = q();
        query.dimensions = vec![(Field::TriggerType, vec!["cron".into()])];
        let plan = plan(&query);
        assert_eq!(plan.index, ListIndex::Project);
        assert_eq!(plan.filters, [("tt", vec!["cron".to_string()])]);
    }

    #[test]
    fn no_filter_uses_the_project_index() {
        let plan = plan(&q());
        assert_eq!(plan.index, ListIndex::Project);
        assert_eq!(plan.values, [None]);
    }

    #[test]
    fn the_range_is_clamped_to_retention_and_walks_months_newest_first() {
        let mut query = q();
        query.window.after = crate::dates::parse("2020-01-01");
        let r = range(&Window::of_executions(&query), 90, None, false);
        let months: Vec<&str> = r.months.iter().map(|m| m.0.as_str()).collect();
        assert_eq!(months, ["2026-11", "2026-10", "2026-09", "2026-08"]);
        let aug27 = crate::dates::parse("2026-08-27T00:00:00Z").unwrap().timestamp_millis();
        assert_eq!(r.from, format!("{aug27:013}"));
        assert_eq!(r.months[3].1, r.from, "the oldest month starts at the clamp");
        let oct3 = crate::dates::parse("2026-10-03T00:00:00Z").unwrap().timestamp_millis();
        let resumed = range(
            &Window::of_executions(&query),
            90,
            Some(&format!("{oct3:013}#e")),
            false,
        );
        let months: Vec<&str> = resumed.months.iter().map(|m| m.0.as_str()).collect();
        assert_eq!(months, ["2026-10", "2026-09", "2026-08"]);
    }

    #[test]
    fn a_filtered_query_reads_by_the_matches_it_expects_to_need() {
        // Unfiltered: exactly the page's need.
        assert_eq!(query_limit(11, 2000, false, 0, 0), 11);
        // Filtered, nothing seen yet: the one-in-ten prior and a quarter more.
        assert_eq!(query_limit(11, 2000, true, 0, 0), 138);
        // After 138 entries gave 7 matches (5 %), the 5 still needed take ~116 more.
        assert_eq!(query_limit(5, 2000, true, 138, 7), 116);
        // Never beyond the budget's share or DynamoDB's sensible maximum, never zero.
        assert_eq!(query_limit(11, 40, true, 0, 0), 40);
        assert_eq!(query_limit(500, 5000, true, 2000, 1), 1000);
        assert_eq!(query_limit(0, 0, true, 0, 0), 1);
    }
}
