//! The register of project days: which projects stored records dated on which day, and when they
//! last changed, so the scheduled export finds them with one Query per partition of the day.
//!
//! `pk = DAY#{YYYY-MM-DD}#{shard}`, `sk = P#{projectId}`, with `changedAt` (until when ingest
//! covers the records of that project dated that day it writes: a lease, see `note_project_day`)
//! and `exportedAt` (as of when the scheduled export last wrote the day), both epoch milliseconds
//! that only move forward, and `exp`.
//!
//! A day's entries are spread over `DAY_SHARDS` partitions by a stable hash of the project, so no
//! partition takes more than its share of ingest's writes (docs/data-model.md has the arithmetic).
//! Entries written before the register was sharded sit in `DAY#{YYYY-MM-DD}` and are read too,
//! until they expire with their day.

use super::backend::{Backend, LaterUpdate};
use super::table::{self, Item};
use super::{execution, Ledger, NoteProjectDays, StoreError, UnitKey};
use futures::stream::{self, StreamExt, TryStreamExt};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Partitions of one day's register. At the target (100,000 events/s over 10,000 projects) the
/// projects other than the hottest write at most about 90,000 times a second, one write per
/// invocation without the lease; over 256 partitions that is about 350 writes/s each, and about
/// 530 in the fullest (59 of 10,000 random ids), against DynamoDB's 1,000 WCU/s per partition.
pub const DAY_SHARDS: u32 = 256;
/// Partitions of one day read at once.
const READ_CONCURRENCY: usize = 32;

/// A project's day in the register: until when ingest covers its writes of records dated that day,
/// and as of when the scheduled export last wrote the day (epoch milliseconds).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProjectDay {
    pub project: String,
    pub date: String,
    pub changed_at: Option<i64>,
    pub exported_at: Option<i64>,
    /// The project's day has an entry in the day's partition from before the register was
    /// sharded; marking the day exported marks that one too.
    pub legacy: bool,
}

impl ProjectDay {
    /// Whether the day has changed since the scheduled export last wrote it. An entry without
    /// `changedAt` (written before the register kept it) counts as changed.
    pub fn pending(&self) -> bool {
        match (self.changed_at, self.exported_at) {
            (_, None) => true,
            (None, Some(_)) => false,
            (Some(changed), Some(exported)) => changed > exported,
        }
    }
}

/// What every day's partition key begins with.
pub(super) const PARTITION_PREFIX: &str = "DAY#";
const PREFIX: &str = "P#";
const CHANGED_AT: &str = "changedAt";
const EXPORTED_AT: &str = "exportedAt";

/// The partition a project's entries go to: FNV-1a of its id, which no Rust or library version
/// changes (a partition must be found again by every reader and every later writer).
pub fn day_shard(project: &str) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in project.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (h % u64::from(DAY_SHARDS)) as u32
}

/// One partition of a day's register.
pub fn day_partition(date: &str, shard: u32) -> String {
    format!("{PARTITION_PREFIX}{date}#{shard}")
}

/// Every partition of a day's register, in shard order (the unsharded one of older versions not
/// included): what the scheduled export Queries.
pub fn day_partitions(date: &str) -> Vec<String> {
    (0..DAY_SHARDS).map(|k| day_partition(date, k)).collect()
}

/// The register entry of a project's day: `(pk, sk)`.
pub fn day_register_key(project: &str, date: &str) -> (String, String) {
    (day_partition(date, day_shard(project)), format!("{PREFIX}{project}"))
}

/// The day's partition before the register was sharded.
pub(super) fn legacy_day_pk(date: &str) -> String {
    format!("{PARTITION_PREFIX}{date}")
}

fn entry(date: &str, item: &Item, legacy: bool) -> Option<ProjectDay> {
    let project = table::string_attr(item, table::SK)?.strip_prefix(PREFIX)?;
    Some(ProjectDay {
        project: project.to_string(),
        date: date.to_string(),
        changed_at: table::number_attr(item, CHANGED_AT),
        exported_at: table::number_attr(item, EXPORTED_AT),
        legacy,
    })
}

/// Every project of `date`, in project order: one Query of each of the day's partitions (and of
/// its unsharded one), many at once. A project found in both is one entry, pending when either is.
pub(super) async fn of_day<B: Backend>(backend: &B, date: &str) -> Result<Vec<ProjectDay>, StoreError> {
    let partitions = day_partitions(date)
        .into_iter()
        .map(|pk| (pk, false))
        .chain([(legacy_day_pk(date), true)]);
    let found: Vec<Vec<ProjectDay>> = stream::iter(partitions)
        .map(|(pk, legacy)| async move {
            let items = backend.query_prefix(&pk, PREFIX).await?;
            Ok::<_, StoreError>(items.iter().filter_map(|it| entry(date, it, legacy)).collect())
        })
        .buffer_unordered(READ_CONCURRENCY)
        .try_collect()
        .await?;
    let mut by_project: BTreeMap<String, ProjectDay> = BTreeMap::new();
    for day in found.into_iter().flatten() {
        match by_project.get_mut(&day.project) {
            None => {
                by_project.insert(day.project.clone(), day);
            }
            Some(seen) => {
                let legacy = seen.legacy || day.legacy;
                if day.pending() && !seen.pending() {
                    *seen = day;
                }
                seen.legacy = legacy;
            }
        }
    }
    Ok(by_project.into_values().collect())
}

pub(super) async fn mark_exported<B: Backend>(backend: &B, day: &ProjectDay, at_ms: i64) -> Result<(), StoreError> {
    let mut keys = vec![day_register_key(&day.project, &day.date)];
    if day.legacy {
        keys.push((legacy_day_pk(&day.date), format!("{PREFIX}{}", day.project)));
    }
    for (pk, sk) in keys {
        backend
            .set_later(&LaterUpdate {
                pk,
                sk,
                attribute: EXPORTED_AT,
                value: at_ms,
                also: Vec::new(),
                create: false,
            })
            .await?;
    }
    Ok(())
}

impl<B: Backend> NoteProjectDays for Ledger<B> {
    async fn note_project_day(
        &self,
        project: &str,
        date: &str,
        until_ms: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let (pk, sk) = day_register_key(project, date);
        // `false` (a later time is there already) is as good as written.
        self.backend
            .set_later(&LaterUpdate {
                pk,
                sk,
                attribute: CHANGED_AT,
                value: until_ms,
                also: vec![(table::EXPIRES_AT, table::n(expires_at))],
                create: true,
            })
            .await
            .map(|_| ())
    }

    async fn execution_days(
        &self,
        executions: &[(String, String)],
    ) -> Result<HashMap<(String, String), String>, StoreError> {
        let wanted: BTreeSet<(String, String)> = executions
            .iter()
            .map(|(project, execution)| {
                execution::unit_keys(&UnitKey {
                    project: project.clone(),
                    execution: execution.clone(),
                    step: None,
                })
            })
            .collect();
        if wanted.is_empty() {
            return Ok(HashMap::new());
        }
        let wanted: Vec<(String, String)> = wanted.into_iter().collect();
        let found = self.backend.batch_get(&wanted, false).await?;
        Ok(found
            .iter()
            .filter_map(execution::execution_from_item)
            .filter_map(|(s, _)| {
                let day = s.date_started.get(..10)?.to_string();
                Some(((s.project_id, s.id), day))
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{ExportRecords, MemoryStore, StoreConfig};

    fn store() -> MemoryStore {
        MemoryStore::memory(StoreConfig { retention_days: 90 })
    }

    #[test]
    fn the_fullest_partition_stays_under_the_partition_limit() {
        // The target: 10,000 projects, the 9,999 besides the hottest at 9 events/s each, every
        // event its own invocation and none skipped by the lease (the worst case).
        let mut per_shard = vec![0u32; DAY_SHARDS as usize];
        for i in 0..10_000 {
            per_shard[day_shard(&format!("project-{i:05}")) as usize] += 1;
        }
        let fullest = *per_shard.iter().max().unwrap();
        let writes = f64::from(fullest) * 90_000.0 / 10_000.0;
        assert!(writes < 600.0, "{fullest} projects in one partition: {writes} writes/s");
        assert!(per_shard.iter().all(|&n| n > 0), "every partition is used");
    }

    #[test]
    fn a_project_always_lands_in_the_same_partition() {
        // Fixed by the hash's definition, not by this build: readers and writers of any version
        // agree.
        assert_eq!(day_register_key("demo", "2026-11-01").1, "P#demo");
        assert_eq!(day_shard("demo"), day_shard("demo"));
        let (pk, _) = day_register_key("demo", "2026-11-01");
        assert!(day_partitions("2026-11-01").contains(&pk));
        assert_eq!(day_partitions("2026-11-01").len(), DAY_SHARDS as usize);
        assert_ne!(day_shard("a"), day_shard("b"));
        assert!(day_shard("").lt(&DAY_SHARDS));
    }

    /// An entry as versions before the shards wrote it.
    async fn legacy_entry(store: &MemoryStore, project: &str, date: &str, changed: i64, exported: Option<i64>) {
        let mut item = Item::from([
            (table::PK.to_string(), table::s(legacy_day_pk(date))),
            (table::SK.to_string(), table::s(format!("{PREFIX}{project}"))),
            (CHANGED_AT.to_string(), table::n(changed)),
        ]);
        if let Some(e) = exported {
            item.insert(EXPORTED_AT.to_string(), table::n(e));
        }
        store.backend.put_plain(&item).await.unwrap();
    }

    #[tokio::test]
    async fn entries_from_before_the_shards_are_read_and_marked() {
        let store = store();
        let date = "2026-11-01";
        legacy_entry(&store, "old", date, 100, None).await;
        legacy_entry(&store, "both", date, 100, Some(200)).await;
        store.note_project_day("both", date, 300, 0).await.unwrap();
        store.note_project_day("new", date, 300, 0).await.unwrap();
        let days = store.project_days(date).await.unwrap();
        let seen: Vec<(&str, bool, bool)> = days
            .iter()
            .map(|d| (d.project.as_str(), d.pending(), d.legacy))
            .collect();
        assert_eq!(
            seen,
            vec![("both", true, true), ("new", true, false), ("old", true, true)]
        );
        for d in &days {
            store.mark_exported(d, 400).await.unwrap();
        }
        let after = store.project_days(date).await.unwrap();
        assert!(after.iter().all(|d| !d.pending()), "{after:?}");
        // A change after the mark makes the day pending again, wherever the old entry was.
        store.note_project_day("old", date, 500, 0).await.unwrap();
        let again = store.project_days(date).await.unwrap();
        let pending: Vec<&str> = again
            .iter()
            .filter(|d| d.pending())
            .map(|d| d.project.as_str())
            .collect();
        assert_eq!(pending, vec!["old"]);
    }
}
