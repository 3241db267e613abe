//! A backend that records every write and read it passes on, by key: the table partition, and the
//! partition of each listing index the written item has an entry in, with the units DynamoDB bills
//! for it. Each call is weighted by the real traffic the current sample stands for, so per-key
//! counts of a sample become rates at the target (`super::model`).

use super::super::backend::{
    Backend, CollectionQuery, CounterUpdate, GuardedPut, IndexPage, IndexQuery, LaterUpdate, ObjectRead,
};
use super::super::capacity::{item_size, read_units, units as write_units};
use super::super::index::{index_entry, ListIndex};
use super::super::table::{self, Item, PK, SK};
use super::super::StoreError;
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

/// Where a write lands: the table (`None`) or a listing index, and the partition key there.
pub(super) type Place = (Option<ListIndex>, String);

/// One sample's part of a key's load, per second at the target.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Share {
    pub wcu: f64,
    pub rcu: f64,
    pub writes: f64,
}

#[derive(Debug, Default)]
pub(super) struct Tally {
    /// By sample (`Recorder::begin`).
    pub by_sample: HashMap<usize, Share>,
    /// The records (their table partition) whose writes landed here: one alone means the key is
    /// that record's own (its collection, its trace), not a shared partition.
    pub writers: HashSet<String>,
    /// Unweighted writes and units, for keys that belong to one record.
    pub sample_writes: u64,
    pub sample_wcu: u64,
    pub max_bytes: usize,
}

/// A counter item: touches by stream records (guarded by a shard's mark) and direct additions.
#[derive(Debug, Default)]
pub(super) struct CounterTally {
    /// Stream records that changed it, per second, by sample.
    pub touches: HashMap<usize, f64>,
    /// Additions without a mark (ingest's puts noted), per second, by sample.
    pub notes: HashMap<usize, f64>,
    /// The item as last written, and the bytes one shard's mark takes on it.
    pub bytes: usize,
    pub mark_bytes: usize,
}

/// A sample: a name, and how many real projects, alike, each of its projects stands for.
#[derive(Clone, Debug)]
pub(super) struct Sample {
    pub copies: f64,
}

#[derive(Debug, Default)]
pub(super) struct State {
    pub samples: Vec<Sample>,
    current: usize,
    weight: f64,
    pub keys: HashMap<Place, Tally>,
    pub counters: HashMap<(String, String), CounterTally>,
    /// The last item written under each key (index entries are billed on what changed).
    last: HashMap<(String, String), Item>,
    /// Record items: size as last written, and (sample, weight) of the write.
    pub stored: HashMap<(String, String), (usize, usize, f64)>,
    /// Summary and event-log puts per second (the stream records the stats function reads), by
    /// sample.
    pub counted_records: HashMap<usize, f64>,
    /// Unweighted call counts since the last `take_calls`.
    pub calls: u64,
    pub puts: u64,
    pub queries: u64,
}

/// Records what a store does to the backend it wraps.
#[derive(Debug, Default)]
pub struct Recorder<B> {
    pub inner: B,
    pub(super) state: Mutex<State>,
}

/// Unweighted calls made since the last reading: all calls, record puts, index Queries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Calls {
    pub calls: u64,
    pub puts: u64,
    pub queries: u64,
}

impl<B> Recorder<B> {
    pub fn new(inner: B) -> Self {
        Recorder {
            inner,
            state: Mutex::default(),
        }
    }

    /// From now on every call stands for `weight` calls per second at the target, made by each
    /// of `copies` real projects alike (1 for a project of its own).
    pub fn begin(&self, copies: f64, weight: f64) {
        let mut s = self.state.lock().unwrap();
        s.samples.push(Sample { copies });
        s.current = s.samples.len() - 1;
        s.weight = weight;
    }

    /// Calls from now on are not part of the load (reads the model makes to measure a path).
    pub fn pause(&self) {
        self.state.lock().unwrap().weight = 0.0;
    }

    pub fn take_calls(&self) -> Calls {
        let mut s = self.state.lock().unwrap();
        let c = Calls {
            calls: s.calls,
            puts: s.puts,
            queries: s.queries,
        };
        (s.calls, s.puts, s.queries) = (0, 0, 0);
        c
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let mut s = self.state.lock().unwrap();
        s.calls += 1;
        f(&mut s)
    }
}

fn key_of(item: &Item) -> (String, String) {
    let get = |n: &str| table::string_attr(item, n).unwrap_or("").to_string();
    (get(PK), get(SK))
}

impl State {
    fn add(&mut self, place: Place, writer: Option<&str>, wcu: u64, rcu: f64, bytes: usize) {
        let (sample, weight) = (self.current, self.weight);
        if weight == 0.0 {
            return;
        }
        let t = self.keys.entry(place).or_default();
        let share = t.by_sample.entry(sample).or_default();
        share.wcu += wcu as f64 * weight;
        share.rcu += rcu * weight;
        if wcu > 0 {
            share.writes += weight;
            t.sample_writes += 1;
            t.sample_wcu += wcu;
        }
        t.max_bytes = t.max_bytes.max(bytes);
        if let Some(w) = writer {
            t.writers.insert(w.to_string());
        }
    }

    /// A put of a record item: the table write, and each index entry that is new, changed
    /// (a moved key also deletes the old entry) or removed, as DynamoDB bills them.
    fn put(&mut self, new: &Item, record: bool) {
        let key = key_of(new);
        let old = self.last.get(&key).cloned();
        let size = item_size(new);
        self.add((None, key.0.clone()), Some(&key.0), write_units(size), 0.0, size);
        for index in ListIndex::ALL {
            let before = old.as_ref().and_then(|o| index_entry(o, index));
            let after = index_entry(new, index);
            if before == after {
                continue;
            }
            let partition = |e: &Item| table::string_attr(e, index.key_attribute()).unwrap_or("").to_string();
            if let Some(b) = &before {
                if after.as_ref().is_none_or(|a| partition(a) != partition(b)) {
                    let bytes = item_size(b);
                    self.add(
                        (Some(index), partition(b)),
                        Some(&key.0),
                        write_units(bytes),
                        0.0,
                        bytes,
                    );
                }
            }
            if let Some(a) = &after {
                let bytes = item_size(a);
                self.add(
                    (Some(index), partition(a)),
                    Some(&key.0),
                    write_units(bytes),
                    0.0,
                    bytes,
                );
            }
        }
        if record && self.weight > 0.0 {
            self.stored.insert(key.clone(), (size, self.current, self.weight));
            if index_entry(new, ListIndex::Project).is_some() || super::super::event_log::log_from_item(new).is_some() {
                *self.counted_records.entry(self.current).or_default() += self.weight;
            }
        }
        self.last.insert(key, new.clone());
    }

    fn read(&mut self, pk: &str, index: Option<ListIndex>, rcu: f64) {
        self.add((index, pk.to_string()), None, 0, rcu, 0);
    }
}

impl<B: Backend> Backend for Recorder<B> {
    async fn query_index(&self, q: &IndexQuery) -> Result<IndexPage, StoreError> {
        let page = self.inner.query_index(q).await?;
        let bytes: usize = page.items.iter().map(item_size).sum();
        let index = (q.index != ListIndex::Table).then_some(q.index);
        self.with(|s| {
            s.queries += 1;
            s.read(&q.partition, index, read_units([bytes], false));
        });
        Ok(page)
    }

    async fn count_index(&self, q: &IndexQuery) -> Result<(u64, IndexPage), StoreError> {
        let (n, page) = self.inner.count_index(q).await?;
        let index = (q.index != ListIndex::Table).then_some(q.index);
        self.with(|s| {
            s.queries += 1;
            s.read(&q.partition, index, read_units([page.scanned as usize * 400], false));
        });
        Ok((n, page))
    }

    async fn query_collection(&self, q: &CollectionQuery) -> Result<(Vec<Item>, bool), StoreError> {
        let (items, more) = self.inner.query_collection(q).await?;
        let bytes: usize = items.iter().map(item_size).sum();
        self.with(|s| s.read(&q.pk, None, read_units([bytes], q.consistent)));
        Ok((items, more))
    }

    async fn get_item(&self, pk: &str, sk: &str, consistent: bool) -> Result<Option<Item>, StoreError> {
        let item = self.inner.get_item(pk, sk, consistent).await?;
        let bytes = item.as_ref().map_or(0, item_size);
        self.with(|s| s.read(pk, None, read_units([bytes], consistent)));
        Ok(item)
    }

    async fn batch_get(&self, keys: &[(String, String)], consistent: bool) -> Result<Vec<Item>, StoreError> {
        let items = self.inner.batch_get(keys, consistent).await?;
        let sizes: HashMap<(String, String), usize> = items.iter().map(|i| (key_of(i), item_size(i))).collect();
        self.with(|s| {
            // Each key is billed on its own; a miss still costs the minimum.
            for k in keys {
                s.read(&k.0, None, read_units([sizes.get(k).copied().unwrap_or(0)], consistent));
            }
        });
        Ok(items)
    }

    async fn guarded_put(&self, put: &GuardedPut) -> Result<(), StoreError> {
        self.inner.guarded_put(put).await?;
        self.with(|s| {
            s.puts += 1;
            s.put(&put.item, true);
        });
        Ok(())
    }

    async fn put_plain(&self, item: &Item) -> Result<(), StoreError> {
        self.inner.put_plain(item).await?;
        self.with(|s| s.put(item, false));
        Ok(())
    }

    async fn put_all_new(&self, items: &[Item]) -> Result<(), StoreError> {
        self.inner.put_all_new(items).await?;
        self.with(|s| {
            for i in items {
                // Transactional writes cost twice.
                let size = item_size(i);
                s.add((None, key_of(i).0), None, 2 * write_units(size), 0.0, size);
            }
        });
        Ok(())
    }

    async fn set_once(&self, keys: &[(String, String)], attribute: &'static str, value: i64) -> Result<(), StoreError> {
        self.inner.set_once(keys, attribute, value).await?;
        self.with(|s| {
            for k in keys {
                s.add((None, k.0.clone()), None, 2, 0.0, 0);
            }
        });
        Ok(())
    }

    async fn query_prefix(&self, pk: &str, prefix: &str) -> Result<Vec<Item>, StoreError> {
        let items = self.inner.query_prefix(pk, prefix).await?;
        let bytes: usize = items.iter().map(item_size).sum();
        self.with(|s| s.read(pk, None, read_units([bytes], false)));
        Ok(items)
    }

    async fn add_to_counter(&self, update: &CounterUpdate) -> Result<Item, StoreError> {
        let after = self.inner.add_to_counter(update).await?;
        let size = item_size(&after);
        self.with(|s| {
            // Billed on the item's size: counters only grow.
            s.add((None, update.pk.clone()), None, write_units(size), 0.0, size);
            let (sample, weight) = (s.current, s.weight);
            if weight == 0.0 {
                return;
            }
            let c = s.counters.entry((update.pk.clone(), update.sk.clone())).or_default();
            c.bytes = size;
            if update.mark.is_empty() {
                *c.notes.entry(sample).or_default() += weight;
            } else {
                *c.touches.entry(sample).or_default() += weight;
                let value = after
                    .get(&update.mark)
                    .map_or(0, |v| item_size(&Item::from([(String::new(), v.clone())])));
                c.mark_bytes = update.mark.len() + value;
            }
        });
        Ok(after)
    }

    async fn set_later(&self, update: &LaterUpdate) -> Result<bool, StoreError> {
        let changed = self.inner.set_later(update).await?;
        // Billed whether its condition held or not: a key, a few numbers, under 1 KB.
        self.with(|s| s.add((None, update.pk.clone()), None, 1, 0.0, 0));
        Ok(changed)
    }

    async fn put_object(&self, key: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        self.inner.put_object(key, bytes).await?;
        self.with(|_| {});
        Ok(())
    }

    async fn read_object(&self, key: &str) -> Result<ObjectRead, StoreError> {
        let read = self.inner.read_object(key).await?;
        self.with(|_| {});
        Ok(read)
    }

    async fn list_objects(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        self.inner.list_objects(prefix).await
    }

    async fn delete_object(&self, key: &str) -> Result<(), StoreError> {
        self.inner.delete_object(key).await
    }

    async fn presign(&self, key: &str) -> Result<String, StoreError> {
        self.inner.presign(key).await
    }
}
