//! Capacity units computed from item sizes, by DynamoDB's published rules, because the emulator's
//! ConsumedCapacity figures are not real.

use super::backend::{
    Backend, CollectionQuery, CounterUpdate, GuardedPut, IndexPage, IndexQuery, LaterUpdate, ObjectRead,
};
use super::index::{index_entry, ListIndex};
use super::table;
use super::table::{Item, PK, SK};
use super::StoreError;
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;

/// Size DynamoDB bills for an item: attribute names plus values.
pub fn item_size(item: &Item) -> usize {
    item.iter().map(|(name, value)| name.len() + value_size(value)).sum()
}

fn value_size(v: &AttributeValue) -> usize {
    match v {
        AttributeValue::S(s) => s.len(),
        // Numbers: about one byte per two significant digits, plus one.
        AttributeValue::N(n) => n.trim_start_matches('-').len().div_ceil(2) + 1,
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::M(m) => 3 + m.iter().map(|(k, v)| k.len() + value_size(v) + 1).sum::<usize>(),
        AttributeValue::L(l) => 3 + l.iter().map(|v| value_size(v) + 1).sum::<usize>(),
        AttributeValue::Ss(s) => s.iter().map(String::len).sum(),
        AttributeValue::Ns(s) => s.iter().map(|n| n.len().div_ceil(2) + 1).sum(),
        AttributeValue::Bs(s) => s.iter().map(|b| b.as_ref().len()).sum(),
        _ => 0,
    }
}

/// Write units for one 1 KB-rounded write of `size` bytes.
pub(super) fn units(size: usize) -> u64 {
    size.div_ceil(1024).max(1) as u64
}

/// Read units of items read together (a Query or a BatchGet page): their sizes summed, then
/// rounded up to 4 KB; half a unit per 4 KB when eventually consistent.
pub fn read_units(sizes: impl IntoIterator<Item = usize>, consistent: bool) -> f64 {
    let total: usize = sizes.into_iter().sum();
    let units = total.div_ceil(4096).max(1) as f64;
    if consistent {
        units
    } else {
        units / 2.0
    }
}

/// The least an item could weigh: its values alone, without attribute names and without the
/// store's bookkeeping (merge ranks, version, expiry). The floor `make bench` prints next to the
/// real figures.
pub fn data_size(item: &Item) -> usize {
    item.iter()
        .filter(|(name, _)| !table::BOOKKEEPING.contains(&name.as_str()))
        .map(|(_, value)| value_size(value))
        .sum()
}

/// Write units a put of `new` over `old` costs, split into (table, indexes): the table write, and
/// each listing index entry that is new or whose content changed, plus a delete where the entry's
/// key changed. An entry whose keys and projected fields are unchanged costs nothing.
pub fn put_write_units(old: Option<&Item>, new: &Item) -> (u64, u64) {
    write_units_sized(old, new, item_size)
}

/// The same writes at their floor: items holding nothing but their values.
pub fn floor_write_units(old: Option<&Item>, new: &Item) -> (u64, u64) {
    write_units_sized(old, new, data_size)
}

fn write_units_sized(old: Option<&Item>, new: &Item, item_size: fn(&Item) -> usize) -> (u64, u64) {
    let table = units(item_size(new));
    let mut indexes = 0;
    for index in ListIndex::ALL {
        let before = old.and_then(|o| index_entry(o, index));
        let after = index_entry(new, index);
        match (&before, &after) {
            (Some(b), Some(a)) if b == a => {}
            (Some(b), Some(a)) => {
                if b.get(index.key_attribute()) != a.get(index.key_attribute()) {
                    indexes += units(item_size(b));
                }
                indexes += units(item_size(a));
            }
            (Some(b), None) => indexes += units(item_size(b)),
            (None, Some(a)) => indexes += units(item_size(a)),
            (None, None) => {}
        }
    }
    (table, indexes)
}

/// The counters as a capacity model needs them, from the store's own code: how many slot items a
/// counter spreads over, the updates a stream batch makes (`counter_updates`, keys included),
/// what an update does to an item (`apply`) and the prune that follows it (`prune_update`),
/// ingest's notes (`note_update`), and the requests a read makes (`reads`, `note_reads`). Item
/// sizes and units are `item_size` and the write rules above.
pub mod counters {
    pub use super::super::backend::CounterUpdate;
    pub use super::super::counter::{
        apply, counter_updates, expired_marks, key, mark_attribute, marks_of, note_reads, note_update, partition,
        prune_update, reads, slot_of, sort_key, Read, MARK_LIFETIME_SECONDS, PRUNE_AT, SLOTS,
    };

    /// Slot items per counter (and per note of ingest's puts).
    pub fn counter_slots() -> u32 {
        SLOTS
    }
}

/// What a metered backend has consumed, by DynamoDB's billing rules.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Usage {
    pub calls: u64,
    /// Write units of table items.
    pub table_wcu: u64,
    /// Write units of listing index entries (puts and deletes).
    pub index_wcu: u64,
    /// Read units (eventually consistent reads at half a unit per 4 KB).
    pub rcu: f64,
    /// Bytes of items read.
    pub bytes_read: u64,
    /// Listing index entries examined by Queries (those a filter dropped included).
    pub examined: u64,
    pub s3_puts: u64,
    pub s3_gets: u64,
    /// The same work at its floor (`data_size`): table and index write units, read units.
    pub floor_table_wcu: u64,
    pub floor_index_wcu: u64,
    pub floor_rcu: f64,
}

/// A backend that bills every call it passes on (for `make bench`: the emulator's own
/// ConsumedCapacity figures are not real).
#[derive(Debug, Default)]
pub struct Metered<B> {
    pub inner: B,
    usage: std::sync::Mutex<Usage>,
    /// The last item written under each key, to bill index changes as DynamoDB does.
    last: std::sync::Mutex<HashMap<(String, String), Item>>,
}

impl<B> Metered<B> {
    pub fn new(inner: B) -> Self {
        Metered {
            inner,
            usage: Default::default(),
            last: Default::default(),
        }
    }

    /// The usage since the last call.
    pub fn take(&self) -> Usage {
        std::mem::take(&mut *self.usage.lock().unwrap())
    }

    fn add(&self, f: impl FnOnce(&mut Usage)) {
        let mut u = self.usage.lock().unwrap();
        u.calls += 1;
        f(&mut u);
    }
}

fn key_of(item: &Item) -> (String, String) {
    let get = |n: &str| table::string_attr(item, n).unwrap_or("").to_string();
    (get(PK), get(SK))
}

/// A listing entry a filter dropped is billed like the ones returned: assume the same size.
fn examined_bytes(page: &IndexPage) -> u64 {
    let returned: usize = page.items.iter().map(item_size).sum();
    let average = if page.items.is_empty() {
        400
    } else {
        returned / page.items.len()
    };
    (returned + average * (page.scanned as usize).saturating_sub(page.items.len())) as u64
}

impl<B: Backend> Backend for Metered<B> {
    async fn query_index(&self, q: &IndexQuery) -> Result<IndexPage, StoreError> {
        let page = self.inner.query_index(q).await?;
        let bytes = examined_bytes(&page);
        let floor: usize = page.items.iter().map(data_size).sum();
        self.add(|u| {
            u.rcu += read_units([bytes as usize], false);
            u.floor_rcu += read_units([floor], false);
            u.bytes_read += bytes;
            u.examined += page.scanned;
        });
        Ok(page)
    }

    async fn count_index(&self, q: &IndexQuery) -> Result<(u64, IndexPage), StoreError> {
        let (n, page) = self.inner.count_index(q).await?;
        let bytes = page.scanned * 400;
        self.add(|u| {
            u.rcu += read_units([bytes as usize], false);
            u.bytes_read += bytes;
            u.examined += page.scanned;
        });
        Ok((n, page))
    }

    async fn query_collection(&self, q: &CollectionQuery) -> Result<(Vec<Item>, bool), StoreError> {
        let (items, more) = self.inner.query_collection(q).await?;
        let bytes: usize = items.iter().map(item_size).sum();
        let floor: usize = items.iter().map(data_size).sum();
        self.add(|u| {
            u.rcu += read_units([bytes], q.consistent);
            u.floor_rcu += read_units([floor], q.consistent);
            u.bytes_read += bytes as u64;
        });
        Ok((items, more))
    }

    async fn get_item(&self, pk: &str, sk: &str, consistent: bool) -> Result<Option<Item>, StoreError> {
        let item = self.inner.get_item(pk, sk, consistent).await?;
        let bytes = item.as_ref().map_or(0, item_size);
        let floor = item.as_ref().map_or(0, data_size);
        self.add(|u| {
            u.rcu += read_units([bytes], consistent);
            u.floor_rcu += read_units([floor], consistent);
            u.bytes_read += bytes as u64;
        });
        Ok(item)
    }

    async fn batch_get(&self, keys: &[(String, String)], consistent: bool) -> Result<Vec<Item>, StoreError> {
        let items = self.inner.batch_get(keys, consistent).await?;
        // Each key is billed on its own; a miss still costs the minimum.
        let misses = keys.len().saturating_sub(items.len());
        let units: f64 = items
            .iter()
            .map(|i| read_units([item_size(i)], consistent))
            .sum::<f64>()
            + misses as f64 * read_units([0], consistent);
        let floor: f64 = items
            .iter()
            .map(|i| read_units([data_size(i)], consistent))
            .sum::<f64>()
            + misses as f64 * read_units([0], consistent);
        let bytes: usize = items.iter().map(item_size).sum();
        self.add(|u| {
            u.rcu += units;
            u.floor_rcu += floor;
            u.bytes_read += bytes as u64;
        });
        Ok(items)
    }

    async fn guarded_put(&self, put: &GuardedPut) -> Result<(), StoreError> {
        self.inner.guarded_put(put).await?;
        let key = key_of(&put.item);
        let mut last = self.last.lock().unwrap();
        let (table, indexes) = put_write_units(last.get(&key), &put.item);
        let (floor_table, floor_indexes) = floor_write_units(last.get(&key), &put.item);
        last.insert(key, put.item.clone());
        self.add(|u| {
            u.table_wcu += table;
            u.index_wcu += indexes;
            u.floor_table_wcu += floor_table;
            u.floor_index_wcu += floor_indexes;
        });
        Ok(())
    }

    async fn put_plain(&self, item: &Item) -> Result<(), StoreError> {
        self.inner.put_plain(item).await?;
        let units = units(item_size(item));
        self.add(|u| u.table_wcu += units);
        Ok(())
    }

    async fn put_all_new(&self, items: &[Item]) -> Result<(), StoreError> {
        self.inner.put_all_new(items).await?;
        // Transactional writes cost twice.
        let units: u64 = items.iter().map(|i| 2 * units(item_size(i))).sum();
        self.add(|u| u.table_wcu += units);
        Ok(())
    }

    async fn set_once(&self, keys: &[(String, String)], attribute: &'static str, value: i64) -> Result<(), StoreError> {
        self.inner.set_once(keys, attribute, value).await?;
        self.add(|u| u.table_wcu += 2 * keys.len() as u64);
        Ok(())
    }

    async fn query_prefix(&self, pk: &str, prefix: &str) -> Result<Vec<Item>, StoreError> {
        let items = self.inner.query_prefix(pk, prefix).await?;
        let bytes: usize = items.iter().map(item_size).sum();
        self.add(|u| {
            u.rcu += read_units([bytes], false);
            u.bytes_read += bytes as u64;
        });
        Ok(items)
    }

    async fn add_to_counter(&self, update: &CounterUpdate) -> Result<Item, StoreError> {
        let after = self.inner.add_to_counter(update).await?;
        // An update is billed on the larger of the item before and after (a prune shrinks it).
        let key = (update.pk.clone(), update.sk.clone());
        let before = self.last.lock().unwrap().insert(key, after.clone());
        let units = units(item_size(&after).max(before.as_ref().map_or(0, item_size)));
        self.add(|u| {
            u.table_wcu += units;
            u.floor_table_wcu += units;
        });
        Ok(after)
    }

    async fn set_later(&self, update: &LaterUpdate) -> Result<bool, StoreError> {
        let changed = self.inner.set_later(update).await?;
        // An update is billed on the item's size whether its condition held or not; these items
        // are a key, a few numbers and at most 1 KB.
        self.add(|u| {
            u.table_wcu += 1;
            u.floor_table_wcu += 1;
        });
        Ok(changed)
    }

    async fn put_object(&self, key: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        self.inner.put_object(key, bytes).await?;
        self.add(|u| u.s3_puts += 1);
        Ok(())
    }

    async fn read_object(&self, key: &str) -> Result<ObjectRead, StoreError> {
        let read = self.inner.read_object(key).await?;
        self.add(|u| u.s3_gets += 1);
        Ok(read)
    }

    async fn list_objects(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        self.inner.list_objects(prefix).await
    }

    async fn delete_object(&self, key: &str) -> Result<(), StoreError> {
        self.inner.delete_object(key).await
    }

    async fn get_object(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let bytes = self.inner.get_object(key).await?;
        self.add(|u| u.s3_gets += 1);
        Ok(bytes)
    }

    async fn presign(&self, key: &str) -> Result<String, StoreError> {
        self.inner.presign(key).await
    }

    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.inner.now()
    }
}

impl super::Ledger<Metered<super::dynamo::Dynamo>> {
    /// The DynamoDB store, billed.
    pub fn metered(clients: &crate::aws::Clients, settings: &crate::config::Settings) -> Self {
        super::Ledger::new(
            Metered::new(super::dynamo::Dynamo::new(clients, settings)),
            super::StoreConfig::from_settings(settings),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn item(pairs: &[(&str, &str)]) -> Item {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), AttributeValue::S(v.to_string())))
            .collect::<HashMap<_, _>>()
    }

    #[test]
    fn size_counts_names_and_values() {
        assert_eq!(item_size(&item(&[("pk", "abc"), ("sk", "A")])), 2 + 3 + 2 + 1);
    }

    #[test]
    fn index_writes_happen_only_when_an_entry_changes_and_key_moves_cost_a_delete() {
        let old = item(&[
            ("pk", "x"),
            ("gP", "p"),
            ("gS", "X#p#RUNNING"),
            ("s", "RUNNING"),
            ("zz", "1"),
        ]);
        let new = item(&[
            ("pk", "x"),
            ("gP", "p"),
            ("gS", "X#p#FAILED"),
            ("s", "FAILED"),
            ("zz", "1"),
        ]);
        // table 1 + gP rewrite 1 (status changed) + gS delete 1 + gS put 1
        assert_eq!(put_write_units(Some(&old), &new), (1, 3));
        let unlisted_change = item(&[
            ("pk", "x"),
            ("gP", "p"),
            ("gS", "X#p#RUNNING"),
            ("s", "RUNNING"),
            ("zz", "2"),
        ]);
        assert_eq!(
            put_write_units(Some(&old), &unlisted_change),
            (1, 0),
            "zz is not projected"
        );
        assert_eq!(put_write_units(None, &item(&[("pk", "x")])), (1, 0));
    }

    #[test]
    fn reads_are_summed_then_rounded() {
        assert_eq!(read_units([100; 100], false), 1.5);
        assert_eq!(read_units([5000], true), 2.0);
    }
}
