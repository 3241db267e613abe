//! A project's listing shards over time (docs/data-model.md, "Scale"): how many partitions each of
//! its listing partitions (per index, month and value; a trace's too) is spread over, as epochs.
//!
//! `pk = CFG#{projectId}`, `sk = SHARDS`; `ep` the epochs, `{fromMillis}:{shards}` joined by `,`,
//! oldest first; `mf` the latest record time a writer registered (below); `v`, `wt`. No item: one
//! shard for all time.
//!
//! A record's shard count is the one of the epoch its own time (an execution's `dateStarted`, a
//! log's `timestamp`) falls in, so a backfill, a late end event or a record replayed months later
//! lands where readers of that time look. Readers cover every epoch of their range, each with its
//! own count. Nothing moves when a count changes; the epochs only say where each record was put.
//!
//! A new epoch starts `LEAD_MS` after it is set, never before a registered record time. A copy of
//! the layout read at `F` therefore answers for every record dated before `F + TRUSTED_MS` (any
//! epoch it lacks was set after `F` and starts later), and for every record dated before its `mf`
//! (any epoch set later starts after that). A writer with a record dated beyond both reads the
//! item again and, if the record is still beyond, raises `mf` to its time, guarded by the version
//! it read: from then on no epoch can begin at or before that record. `LEAD_MS - TRUSTED_MS` is
//! the clock difference between machines this tolerates.

use super::backend::{Backend, GuardedPut};
use super::table::{self, n, s, Item, PK, SK, VERSION};
use super::{AdminShards, Ledger, StoreError};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Mutex;

pub(super) const PARTITION_PREFIX: &str = "CFG#";
const SORT_KEY: &str = "SHARDS";
const EPOCHS: &str = "ep";
const FUTURE: &str = "mf";

/// How long after it is set an epoch starts.
pub const LEAD_MS: i64 = 5 * 60_000;
/// How far past its reading a layout copy answers for record times.
pub const TRUSTED_MS: i64 = 3 * 60_000;
/// Most shards a project may have: a page of a listing reads every shard of its range, in parallel.
pub const MAX_SHARDS: u32 = 64;
/// Most epochs an item keeps (epochs that ended before retention are dropped first): about 20
/// bytes each, so the item stays a single read unit.
pub const MAX_EPOCHS: usize = 48;

/// One epoch: from `from_ms` (epoch milliseconds) on, records are spread over `shards` partitions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Epoch {
    pub from_ms: i64,
    pub shards: u32,
}

/// A project's epochs as read, with what guards their changes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ShardLayout {
    pub epochs: Vec<Epoch>,
    /// The latest record time a writer registered (epoch milliseconds; 0: none).
    pub registered_ms: i64,
    #[serde(skip)]
    version: Option<u64>,
}

/// A time span of a range with the shard count of its records: `[from_ms, to_ms]`, inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    pub from_ms: i64,
    pub to_ms: i64,
    pub shards: u32,
}

/// Why a shard change was refused.
#[derive(Debug, thiserror::Error)]
pub enum ShardChangeError {
    #[error("shards must be between 1 and {MAX_SHARDS}")]
    OutOfRange,
    #[error("the project has {MAX_EPOCHS} epochs within retention; no more can be added")]
    TooManyEpochs,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ShardLayout {
    /// One shard for all time: a project never configured.
    pub fn single() -> Self {
        ShardLayout::default()
    }

    /// A layout of these epochs (oldest first), for tests and the capacity model.
    pub fn of(epochs: Vec<Epoch>) -> Self {
        ShardLayout {
            epochs,
            ..ShardLayout::default()
        }
    }

    /// The shard count of a record dated `t_ms`.
    pub fn shards_at(&self, t_ms: i64) -> u32 {
        self.epochs
            .iter()
            .rev()
            .find(|e| e.from_ms <= t_ms)
            .map_or(1, |e| e.shards)
    }

    /// `[from_ms, to_ms]` cut where the shard count changes, oldest first.
    pub fn spans(&self, from_ms: i64, to_ms: i64) -> Vec<Span> {
        if from_ms > to_ms {
            return Vec::new();
        }
        let mut out = vec![Span {
            from_ms,
            to_ms,
            shards: self.shards_at(from_ms),
        }];
        for e in self.epochs.iter().filter(|e| e.from_ms > from_ms && e.from_ms <= to_ms) {
            let last = out.last_mut().expect("one span at least");
            if last.shards == e.shards {
                continue;
            }
            last.to_ms = e.from_ms - 1;
            out.push(Span {
                from_ms: e.from_ms,
                to_ms,
                shards: e.shards,
            });
        }
        out
    }

    /// Every shard count a record in `[from_ms, to_ms]` can have.
    pub fn counts(&self, from_ms: i64, to_ms: i64) -> Vec<u32> {
        let mut counts: Vec<u32> = self.spans(from_ms, to_ms).iter().map(|s| s.shards).collect();
        counts.sort_unstable();
        counts.dedup();
        counts
    }

    /// Whether this copy, read at `read_ms`, gives the shard count of a record dated `t_ms`.
    pub fn answers_for(&self, read_ms: i64, t_ms: i64) -> bool {
        t_ms < read_ms + TRUSTED_MS || t_ms <= self.registered_ms
    }
}

fn key(project: &str) -> (String, String) {
    (format!("{PARTITION_PREFIX}{project}"), SORT_KEY.to_string())
}

fn parse_epochs(text: &str) -> Vec<Epoch> {
    let mut epochs: Vec<Epoch> = text
        .split(',')
        .filter_map(|part| {
            let (from, shards) = part.split_once(':')?;
            Some(Epoch {
                from_ms: from.parse().ok()?,
                shards: shards.parse::<u32>().ok()?.clamp(1, MAX_SHARDS),
            })
        })
        .collect();
    epochs.sort_by_key(|e| e.from_ms);
    epochs
}

fn layout_from_item(item: &Item) -> ShardLayout {
    ShardLayout {
        epochs: parse_epochs(table::string_attr(item, EPOCHS).unwrap_or("")),
        registered_ms: table::number_attr(item, FUTURE).unwrap_or(0),
        version: table::version(item),
    }
}

fn layout_item(project: &str, layout: &ShardLayout) -> Item {
    let (pk, sk) = key(project);
    let epochs: Vec<String> = layout
        .epochs
        .iter()
        .map(|e| format!("{}:{}", e.from_ms, e.shards))
        .collect();
    Item::from([
        (PK.to_string(), s(pk)),
        (SK.to_string(), s(sk)),
        (EPOCHS.to_string(), s(epochs.join(","))),
        (FUTURE.to_string(), n(layout.registered_ms)),
        (VERSION.to_string(), n(layout.version.unwrap_or(0) + 1)),
    ])
}

/// The project's layout, read strongly consistent (an epoch just set is seen).
pub(super) async fn read<B: Backend>(backend: &B, project: &str) -> Result<ShardLayout, StoreError> {
    let (pk, sk) = key(project);
    Ok(backend
        .get_item(&pk, &sk, true)
        .await?
        .map(|it| layout_from_item(&it))
        .unwrap_or_default())
}

/// Attempts at a guarded change before giving up to the caller's retry.
const ATTEMPTS: usize = 8;

async fn change<B: Backend>(
    backend: &B,
    project: &str,
    mut apply: impl FnMut(&ShardLayout) -> Result<Option<ShardLayout>, ShardChangeError>,
) -> Result<ShardLayout, ShardChangeError> {
    for _ in 0..ATTEMPTS {
        let current = read(backend, project).await?;
        let Some(next) = apply(&current)? else {
            return Ok(current);
        };
        let put = GuardedPut::new(layout_item(project, &next), current.version);
        match backend.guarded_put(&put).await {
            Ok(()) => {
                return Ok(ShardLayout {
                    version: Some(current.version.unwrap_or(0) + 1),
                    ..next
                })
            }
            Err(StoreError::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(StoreError::Conflict.into())
}

/// Sets the project's shard count from `LEAD_MS` after `now_ms` on (or just after the latest
/// registered record time, if later). Epochs that ended before `oldest_ms` (retention) are dropped.
pub(super) async fn set_shards<B: Backend>(
    backend: &B,
    project: &str,
    shards: u32,
    now_ms: i64,
    oldest_ms: i64,
) -> Result<ShardLayout, ShardChangeError> {
    if !(1..=MAX_SHARDS).contains(&shards) {
        return Err(ShardChangeError::OutOfRange);
    }
    change(backend, project, |current| {
        let last = current.epochs.last().map_or(1, |e| e.shards);
        if last == shards {
            return Ok(None);
        }
        let from_ms = (now_ms + LEAD_MS)
            .max(current.registered_ms + 1)
            .max(current.epochs.last().map_or(i64::MIN, |e| e.from_ms + 1));
        let mut epochs = current.epochs.clone();
        epochs.push(Epoch { from_ms, shards });
        // An epoch is still needed while a later one starts within retention.
        while epochs.len() > 1 && epochs[1].from_ms <= oldest_ms {
            epochs.remove(0);
        }
        if epochs.len() > MAX_EPOCHS {
            return Err(ShardChangeError::TooManyEpochs);
        }
        Ok(Some(ShardLayout {
            epochs,
            ..current.clone()
        }))
    })
    .await
}

/// Registers a record dated `t_ms`, so that no epoch set later begins at or before it; returns
/// the layout that record follows.
pub(super) async fn register<B: Backend>(backend: &B, project: &str, t_ms: i64) -> Result<ShardLayout, StoreError> {
    let changed = change(backend, project, |current| {
        Ok((current.registered_ms < t_ms).then(|| ShardLayout {
            registered_ms: t_ms,
            ..current.clone()
        }))
    })
    .await;
    changed.map_err(|e| match e {
        ShardChangeError::Store(e) => e,
        other => StoreError::Permanent(other.to_string()),
    })
}

/// The layouts a process has read: each with when it was read (epoch milliseconds), kept for as
/// long as it answers (`ShardLayout::answers_for`); a project's entry is about 100 bytes.
#[derive(Debug, Default)]
pub struct Copies(Mutex<HashMap<String, (i64, ShardLayout)>>);

impl Copies {
    fn answering(&self, project: &str, t_ms: i64) -> Option<ShardLayout> {
        let copies = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let (read_ms, layout) = copies.get(project)?;
        layout.answers_for(*read_ms, t_ms).then(|| layout.clone())
    }

    fn keep(&self, project: &str, read_ms: i64, layout: ShardLayout) {
        let mut copies = self.0.lock().unwrap_or_else(|e| e.into_inner());
        copies.insert(project.to_string(), (read_ms, layout));
    }
}

fn clock_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl<B: Backend> Ledger<B> {
    /// The layout that answers for `project`'s records dated up to `t_ms`: this process's copy
    /// while it answers, else one read now. With `register`, a record dated beyond what the fresh
    /// copy answers for is registered first (a writer's duty; a reader only needs the copy).
    async fn layout_until(&self, project: &str, t_ms: i64, register_record: bool) -> Result<ShardLayout, StoreError> {
        if let Some(layout) = self.layouts.answering(project, t_ms) {
            return Ok(layout);
        }
        // The time before the read: a copy answers from what was set before it was asked for.
        let read_ms = clock_ms();
        let mut layout = read(&self.backend, project).await?;
        if register_record && !layout.answers_for(read_ms, t_ms) {
            layout = register(&self.backend, project, t_ms).await?;
        }
        self.layouts.keep(project, read_ms, layout.clone());
        Ok(layout)
    }

    /// The shard count a record of `project` dated `t_ms` is written with.
    pub(super) async fn write_shards(&self, project: &str, t_ms: i64) -> Result<u32, StoreError> {
        Ok(self.layout_until(project, t_ms, true).await?.shards_at(t_ms))
    }

    /// The layout a read of `project`'s records dated up to `to_ms` follows.
    pub(super) async fn read_layout(&self, project: &str, to_ms: i64) -> Result<ShardLayout, StoreError> {
        self.layout_until(project, to_ms, false).await
    }
}

impl<B: Backend> AdminShards for Ledger<B> {
    async fn shard_layout(&self, project: &str) -> Result<ShardLayout, StoreError> {
        read(&self.backend, project).await
    }

    async fn set_shards(&self, project: &str, shards: u32, now_ms: i64) -> Result<ShardLayout, ShardChangeError> {
        // This process's own copies are left as they are: like every other writer's, they stay
        // right until the epoch begins.
        let oldest_ms = now_ms - self.config.retention_days * 86_400_000;
        set_shards(&self.backend, project, shards, now_ms, oldest_ms).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout() -> ShardLayout {
        ShardLayout::of(vec![
            Epoch {
                from_ms: 1000,
                shards: 4,
            },
            Epoch {
                from_ms: 2000,
                shards: 4,
            },
            Epoch {
                from_ms: 3000,
                shards: 1,
            },
        ])
    }

    #[test]
    fn a_record_follows_the_epoch_of_its_own_time() {
        let l = layout();
        assert_eq!(l.shards_at(0), 1, "before the first epoch: one shard");
        assert_eq!(l.shards_at(999), 1);
        assert_eq!(l.shards_at(1000), 4);
        assert_eq!(l.shards_at(2999), 4);
        assert_eq!(l.shards_at(3000), 1);
        assert_eq!(ShardLayout::single().shards_at(i64::MAX), 1);
    }

    #[test]
    fn spans_cut_a_range_where_the_count_changes_and_cover_it_whole() {
        let spans = layout().spans(500, 5000);
        let cuts: Vec<(i64, i64, u32)> = spans.iter().map(|s| (s.from_ms, s.to_ms, s.shards)).collect();
        assert_eq!(cuts, [(500, 999, 1), (1000, 2999, 4), (3000, 5000, 1)]);
        assert_eq!(layout().spans(1500, 1600).len(), 1);
        assert!(layout().spans(10, 5).is_empty());
        assert_eq!(layout().counts(0, 5000), [1, 4]);
    }

    #[test]
    fn epochs_round_trip_through_the_item_and_bad_text_is_skipped() {
        let mut l = layout();
        l.registered_ms = 77;
        let item = layout_item("p1", &l);
        let back = layout_from_item(&item);
        assert_eq!(back.epochs, l.epochs);
        assert_eq!(back.registered_ms, 77);
        assert_eq!(back.version, Some(1));
        assert_eq!(
            parse_epochs("5:2,x:3,1:9999,junk"),
            [
                Epoch {
                    from_ms: 1,
                    shards: MAX_SHARDS
                },
                Epoch { from_ms: 5, shards: 2 }
            ]
        );
    }

    #[test]
    fn a_copy_answers_for_records_before_its_window_or_registered_time() {
        let mut l = layout();
        assert!(l.answers_for(10_000, 10_000 + TRUSTED_MS - 1));
        assert!(!l.answers_for(10_000, 10_000 + TRUSTED_MS));
        l.registered_ms = 10_000 + 2 * TRUSTED_MS;
        assert!(l.answers_for(10_000, 10_000 + 2 * TRUSTED_MS));
        assert!(!l.answers_for(10_000, 10_000 + 2 * TRUSTED_MS + 1));
    }
}
