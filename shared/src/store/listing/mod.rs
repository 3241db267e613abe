//! Listings: which index serves a query, which partitions it reads, and the paging over them within
//! a read budget. A page resumes exactly where reading stopped: a position is a listing key such
//! that every match on its side of the order has been returned. Executions and event logs share the
//! engine; a `Refine` step may drop entries (keyword search) or replace them with whole items
//! before they count as found, and its reads count against the budget too.

use super::backend::{Backend, IndexQuery};
use super::index;
use super::table;
use super::table::Item;
use super::{Ledger, StoreError};
use crate::query::{Count, Position, ReadBudget, Window};
use chrono::{DateTime, Utc};
use futures::future::try_join_all;
use std::future::Future;

mod plan;

use plan::{newest_millis, partitions, range, time_of};
pub use plan::{plan, plan_logs, Plan};

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

/// Entries a listing read, to refine: each with its listing key.
pub struct Batch {
    pub entries: Vec<(String, Item)>,
    /// Read at most about this many bytes.
    pub bytes_left: u64,
    /// Decide the first entry whatever it costs, so every page moves on.
    pub progress: bool,
}

pub trait Refine: Sync {
    /// Refines a batch of entries within its byte allowance.
    fn refine(&self, batch: Batch) -> impl Future<Output = Result<Refined, StoreError>> + Send;
}

/// Keeps every entry as read.
pub struct Keep;

impl Refine for Keep {
    async fn refine(&self, batch: Batch) -> Result<Refined, StoreError> {
        let decided = batch.entries.len();
        Ok(Refined {
            kept: batch.entries,
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

impl<B: Backend> Ledger<B> {
    /// One page of `plan`'s matches within `budget`, resuming after `resume`.
    pub(super) async fn scan<R: Refine>(
        &self,
        plan: &Plan,
        w: &Window,
        resume: Option<&Position>,
        budget: ReadBudget,
        refine: &R,
    ) -> Result<Found, StoreError> {
        let (backend, retention_days) = (&self.backend, self.config.retention_days);
        let layout = self.read_layout(&w.project, newest_millis(w)).await?;
        let resume = resume.map(|p| p.0.as_str());
        let range = range(w, retention_days, resume, plan.index.timeless(), &layout);
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
            'months: for segment in &range.segments {
                let (m_from, m_to) = (&segment.from, &segment.to);
                if m_from > m_to {
                    continue;
                }
                if left == 0 {
                    // Everything before this month has been read: resume at its boundary, which is
                    // either a bound no item has or the key already returned last.
                    stop = Some(if w.ascending { m_from.clone() } else { m_to.clone() });
                    break 'months;
                }
                let mut cursors: Vec<Cursor> = partitions(&w.project, segment, plan)
                    .into_iter()
                    .map(|partition| Cursor {
                        query: IndexQuery {
                            index: plan.index,
                            // Resume strictly after the position, so every read makes progress.
                            start: resume
                                .filter(|r| m_from.as_str() <= *r && *r <= m_to.as_str())
                                .and_then(|r| {
                                    index::index_start(
                                        plan.source,
                                        &w.project,
                                        plan.index,
                                        &partition,
                                        r,
                                        segment.shards,
                                    )
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
                                        && index::in_partition(
                                            plan.source,
                                            &w.project,
                                            plan.index,
                                            partition,
                                            it,
                                            &layout,
                                        )
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
                        let r = refine
                            .refine(Batch {
                                entries: chunk,
                                bytes_left,
                                progress,
                            })
                            .await?;
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
    pub(super) async fn count(&self, plan: &Plan, w: &Window, budget: ReadBudget) -> Result<Count, StoreError> {
        let (backend, retention_days) = (&self.backend, self.config.retention_days);
        let layout = self.read_layout(&w.project, newest_millis(w)).await?;
        let range = range(w, retention_days, None, plan.index.timeless(), &layout);
        let mut left = budget.items.max(1);
        let mut total = 0;
        if range.from > range.to {
            return Ok(Count { total, exact: true });
        }
        let now_epoch = w.now.timestamp();
        for segment in &range.segments {
            for partition in partitions(&w.project, segment, plan) {
                let mut query = IndexQuery {
                    index: plan.index,
                    partition,
                    from: segment.from.clone(),
                    to: segment.to.clone(),
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
                                    && index::in_partition(
                                        plan.source,
                                        &w.project,
                                        plan.index,
                                        &query.partition,
                                        it,
                                        &layout,
                                    )
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
}

#[cfg(test)]
mod tests {
    use super::super::index::ListIndex;
    use super::super::shard_layout::ShardLayout;
    use super::*;
    use crate::model::{Field, Status};
    use crate::query::ListQuery;

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
        let single = ShardLayout::single();
        let r = range(&query.window, 90, None, false, &single);
        let months: Vec<&str> = r.segments.iter().map(|m| m.bucket.as_str()).collect();
        assert_eq!(months, ["2026-11", "2026-10", "2026-09", "2026-08"]);
        let aug27 = crate::dates::parse("2026-08-27T00:00:00Z").unwrap().timestamp_millis();
        assert_eq!(r.from, format!("{aug27:013}"));
        assert_eq!(r.segments[3].from, r.from, "the oldest month starts at the clamp");
        let oct3 = crate::dates::parse("2026-10-03T00:00:00Z").unwrap().timestamp_millis();
        let resumed = range(&query.window, 90, Some(&format!("{oct3:013}#e")), false, &single);
        let months: Vec<&str> = resumed.segments.iter().map(|m| m.bucket.as_str()).collect();
        assert_eq!(months, ["2026-10", "2026-09", "2026-08"]);
    }

    #[test]
    fn an_epoch_cuts_its_month_and_each_piece_reads_its_own_shards() {
        let mut query = q();
        query.window.after = crate::dates::parse("2026-10-20T00:00:00Z");
        query.window.before = crate::dates::parse("2026-11-10T00:00:00Z");
        query.window.ascending = true;
        let nov5 = crate::dates::parse("2026-11-05T00:00:00Z").unwrap().timestamp_millis();
        let layout = ShardLayout::of(vec![crate::store::Epoch {
            from_ms: nov5,
            shards: 4,
        }]);
        let r = range(&query.window, 90, None, false, &layout);
        let cuts: Vec<(&str, u32)> = r.segments.iter().map(|s| (s.bucket.as_str(), s.shards)).collect();
        assert_eq!(cuts, [("2026-10", 1), ("2026-11", 1), ("2026-11", 4)]);
        assert_eq!(r.segments[1].to, format!("{:013}$", nov5 - 1));
        assert_eq!(r.segments[2].from, format!("{nov5:013}"));
        let plan = plan(&query);
        assert_eq!(partitions("p", &r.segments[1], &plan).len(), 1);
        assert_eq!(partitions("p", &r.segments[2], &plan).len(), 4);
        // A trace reads every epoch's shards too.
        let traced = range(&query.window, 90, None, true, &layout);
        let counts: Vec<u32> = traced.segments.iter().map(|s| s.shards).collect();
        assert_eq!(counts, [1, 4]);
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
