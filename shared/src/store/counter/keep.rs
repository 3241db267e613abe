//! The counters' capabilities: taking in stream batches exactly once per shard (`KeepStats`),
//! noting puts before they are made (`NoteWrites`) and reading counters (`ReadStats`).

use super::super::backend::{Backend, CollectionQuery, CounterUpdate};
use super::super::table;
use super::super::table::SK;
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
                            .and_then(|it| table::string_attr(it, SK))
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
