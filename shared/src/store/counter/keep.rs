//! The counters' capabilities: taking in stream batches exactly once per shard (`KeepStats`),
//! noting puts before they are made (`NoteWrites`) and reading counters (`ReadStats`).

use super::super::backend::{Backend, CollectionQuery};
use super::super::table;
use super::super::table::{Item, SK};
use super::super::{CountsWritten, KeepStats, Ledger, NoteWrites, ReadStats, StoreError};
use super::*;
use crate::model::counts::CounterSelection;
use crate::model::counts::{BatchChanges, Counter, CounterRow, Dimension, Family, Interval, Sequence, Tally};
use crate::retry::{self, retrying};
use chrono::{DateTime, Utc};
use futures::stream::{self, StreamExt, TryStreamExt};

/// Concurrent counter writes of one batch: each is its own item, so they do not contend.
const WRITES_IN_FLIGHT: usize = 16;
/// Query pages beyond the first of each range read at most per request (each up to 1,000 items).
const READ_PAGES_MAX: usize = 32;

impl<B: Backend> Ledger<B> {
    /// One counter's changes past what its slot has seen from `shard`; `false` when it had seen
    /// them all.
    async fn add_one(
        &self,
        counter: &Counter,
        list: &[(Sequence, Tally)],
        shard: &str,
        now: i64,
        retention: i64,
    ) -> Result<bool, StoreError> {
        let mut item: Option<Item> = None;
        for _ in 0..retry::MAX_ATTEMPTS {
            let Some(u) = update(counter, list, shard, item.as_ref(), now, retention) else {
                return Ok(false);
            };
            let transient = |e: &StoreError| e.is_retryable() && !matches!(e, StoreError::Conflict);
            match retrying(transient, || self.backend.add_to_counter(&u)).await {
                Ok(after) => {
                    if u.prune.is_empty() {
                        self.prune(&after, &u, now).await;
                    }
                    return Ok(true);
                }
                // Part of these changes was taken in by an earlier delivery (or a mark to prune
                // was written since it was read): read how far, and what to prune now.
                Err(StoreError::Conflict) => {
                    item = retrying(StoreError::is_retryable, || self.backend.get_item(&u.pk, &u.sk, true)).await?;
                }
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Transient("counter kept changing under its update".into()))
    }

    /// Removes the expired marks an update found on its item. Best effort: the changes are in, and
    /// marks a failed attempt left are pruned by a later update of the item.
    async fn prune(&self, after: &Item, u: &CounterUpdate, now: i64) {
        let Some(p) = prune_update(after, &u.mark, now, u.expires_at) else {
            return;
        };
        match self.backend.add_to_counter(&p).await {
            // Conflict: one of them was written again since; its shard is back, the mark stays.
            Ok(_) | Err(StoreError::Conflict) => {}
            Err(e) => tracing::warn!(error = %e, pk = %p.pk, sk = %p.sk, "expired counter marks not pruned"),
        }
    }
}

impl<B: Backend> KeepStats for Ledger<B> {
    async fn add_counts(&self, shard: &str, changes: &BatchChanges) -> Result<CountsWritten, StoreError> {
        let retention = self.config.retention_days;
        let now = self.backend.now().timestamp();
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
                    self.add_one(counter, list, shard, now, retention).await
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
        // One slot per function instance, picked at random: a hot project's ingest runs in many
        // instances at once, so its notes spread over every slot instead of all updating one
        // item, while a quiet project's stay in one or two items a total reads.
        static SLOT: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
        let slot = *SLOT.get_or_init(|| rand::random::<u32>() % SLOTS);
        for interval in [Interval::Hour, Interval::Day] {
            let u = note_update(project, family, interval, started, n, slot, self.config.retention_days);
            retrying(StoreError::is_retryable, || self.backend.add_to_counter(&u)).await?;
        }
        Ok(())
    }
}

impl<B: Backend> Ledger<B> {
    /// Every item the requests return, in order.
    async fn read_all(
        &self,
        requests: Vec<Read>,
        consistent: bool,
        pages: &mut usize,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        for r in requests {
            match r {
                Read::Keys(keys) => items.extend(self.backend.batch_get(&keys, consistent).await?),
                Read::Range { pk, from, to } => {
                    let mut from = from;
                    loop {
                        if *pages > READ_PAGES_MAX {
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
                            .and_then(|it| table::string_attr(it, SK))
                            .map(str::to_string);
                        items.extend(page);
                        match (more, last) {
                            (true, Some(last)) => {
                                *pages += 1;
                                from = format!("{last}\u{0}");
                            }
                            _ => break,
                        }
                    }
                }
            }
        }
        Ok(items)
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
        let mut pages = 0;
        let items = self
            .read_all(reads(selection, interval, starts), consistent, &mut pages)
            .await?;
        // Ingest's notes after the counters: every stream record the counters had taken in when
        // they were read was noted before it was put, so a note read later holds at least as
        // many puts, and `applied >= written` still means every noted put was taken in.
        let notes = if selection.dimension == Dimension::All {
            let r = note_reads(&selection.project, selection.family, interval, starts);
            self.read_all(r, consistent, &mut pages).await?
        } else {
            Vec::new()
        };
        let mut rows = sum_rows(&items, &notes, interval, &wanted);
        if let Some(values) = &selection.values {
            rows.retain(|r| values.contains(&r.value));
        }
        rows.sort_by(|a, b| (a.start, &a.value).cmp(&(b.start, &b.value)));
        Ok(rows)
    }
}
