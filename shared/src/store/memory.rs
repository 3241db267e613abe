//! Tables and a bucket in memory, with DynamoDB's semantics where the store relies on them: sort
//! order, inclusive ranges, `Limit` counting examined items, `LastEvaluatedKey`, filters applied
//! after the limit, listing indexes that project only the list fields, conditional puts. Handler
//! tests run the real store logic on it without an emulator.

use super::backend::*;
use super::index;
use super::table;
use super::table::{Item, PK, SK};
use super::StoreError;
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

#[derive(Debug, Default)]
pub struct Memory {
    items: Mutex<BTreeMap<(String, String), Item>>,
    objects: Mutex<HashMap<String, Vec<u8>>>,
    calls: Mutex<u64>,
    /// Every put of a record (old and new item), in order: the table's stream, for tests.
    changes: Mutex<Vec<(Option<Item>, Item)>>,
    /// Answer a read of a missing object as S3 does for a caller without `s3:ListBucket`.
    no_list_bucket: std::sync::atomic::AtomicBool,
    /// Object writes under these prefixes fail, for tests of what a failure leaves.
    failing_puts: Mutex<Vec<String>>,
    /// `set_later` requests made, by item key.
    later_updates: Mutex<HashMap<(String, String), u64>>,
    /// Items whose `set_later` fails (unavailable), for tests of what a failure leaves.
    failing_updates: Mutex<Vec<(String, String)>>,
    /// How far `now` is ahead of the host's clock.
    clock_ahead: Mutex<chrono::Duration>,
}

impl super::MemoryStore {
    pub fn memory(config: super::StoreConfig) -> Self {
        super::Ledger::new(Memory::default(), config)
    }
}

fn keys_of(item: &Item) -> (String, String) {
    let get = |n: &str| table::string_attr(item, n).unwrap_or("").to_string();
    (get(PK), get(SK))
}

impl Memory {
    /// Backend calls made so far (each stands for one DynamoDB or S3 request).
    pub fn calls(&self) -> u64 {
        *self.calls.lock().unwrap()
    }

    /// An object's bytes, as a presigned URL would return them.
    pub fn object(&self, key: &str) -> Option<Vec<u8>> {
        self.objects.lock().unwrap().get(key).cloned()
    }

    /// Every object key under `prefix`, in order.
    pub fn object_keys(&self, prefix: &str) -> Vec<String> {
        let mut keys: Vec<String> = self
            .objects
            .lock()
            .unwrap()
            .keys()
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect();
        keys.sort();
        keys
    }

    /// Removes every object under `prefix` (a bucket lifecycle rule, for tests).
    pub fn remove_objects(&self, prefix: &str) {
        self.objects.lock().unwrap().retain(|k, _| !k.starts_with(prefix));
    }

    /// From now on a read of a missing object answers 403 AccessDenied, as S3 does when the
    /// caller has no `s3:ListBucket` on the bucket.
    pub fn deny_missing_objects(&self) {
        self.no_list_bucket.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// From now on every object write under `prefix` fails (permanently).
    pub fn fail_puts_under(&self, prefix: &str) {
        self.failing_puts.lock().unwrap().push(prefix.to_string());
    }

    /// The `set_later` requests made of one item so far (each one UpdateItem).
    pub fn later_updates(&self, pk: &str, sk: &str) -> u64 {
        let updates = self.later_updates.lock().unwrap();
        updates.get(&(pk.to_string(), sk.to_string())).copied().unwrap_or(0)
    }

    /// From now on `set_later` of this item fails (for good, so no retry waits), until
    /// `heal_updates`.
    pub fn fail_updates_of(&self, pk: &str, sk: &str) {
        self.failing_updates
            .lock()
            .unwrap()
            .push((pk.to_string(), sk.to_string()));
    }

    pub fn heal_updates(&self) {
        self.failing_updates.lock().unwrap().clear();
    }

    /// Object writes fail no more.
    pub fn heal_puts(&self) {
        self.failing_puts.lock().unwrap().clear();
    }

    /// Moves this backend's clock (`Backend::now`) forward, for tests of marks that expire.
    pub fn advance_clock(&self, by: chrono::Duration) {
        *self.clock_ahead.lock().unwrap() += by;
    }

    /// Every stored item whose partition key begins with `prefix`, in key order.
    pub fn items_under(&self, prefix: &str) -> Vec<Item> {
        self.items
            .lock()
            .unwrap()
            .iter()
            .filter(|((pk, _), _)| pk.starts_with(prefix))
            .map(|(_, it)| it.clone())
            .collect()
    }

    /// Number of stored items, for tests that check nothing was written.
    pub fn item_count(&self) -> usize {
        self.items.lock().unwrap().len()
    }

    /// The stream records of the puts from the `from`th on, as Lambda delivers them (DynamoDB JSON
    /// images, sequence numbers counting from 1).
    pub fn stream_records(&self, from: usize) -> Vec<serde_json::Value> {
        let changes = self.changes.lock().unwrap();
        changes
            .iter()
            .enumerate()
            .skip(from)
            .map(|(i, (old, new))| {
                let mut dynamodb = serde_json::json!({
                    "SequenceNumber": (i + 1).to_string(),
                    "NewImage": super::stream::to_image(new),
                });
                if let Some(old) = old {
                    dynamodb["OldImage"] = super::stream::to_image(old);
                }
                serde_json::json!({
                    "eventName": if old.is_some() { "MODIFY" } else { "INSERT" },
                    "dynamodb": dynamodb,
                })
            })
            .collect()
    }

    fn record_put(&self, old: Option<&Item>, new: &Item) {
        self.changes.lock().unwrap().push((old.cloned(), new.clone()));
    }

    fn call(&self) {
        *self.calls.lock().unwrap() += 1;
    }

    /// The index entries of one partition in range, in order, projected as the index projects.
    fn index_entries(&self, q: &IndexQuery) -> Vec<Item> {
        let attr = q.index.key_attribute();
        let sort = |it: &Item| {
            table::string_attr(it, q.index.sort_attribute())
                .unwrap_or("")
                .to_string()
        };
        let mut entries: Vec<Item> = self
            .items
            .lock()
            .unwrap()
            .values()
            .filter(|it| table::string_attr(it, attr) == Some(q.partition.as_str()))
            .filter(|it| {
                let k = sort(it);
                q.from <= k && k <= q.to
            })
            .filter_map(|it| index::index_entry(it, q.index))
            .collect();
        // Table key order, as DynamoDB keeps index entries with equal keys.
        entries.sort_by_key(|it| (sort(it), table::string_attr(it, PK).unwrap_or("").to_string()));
        if !q.ascending {
            entries.reverse();
        }
        if let Some(start) = &q.start {
            let after = sort(start);
            entries.retain(|it| {
                let k = sort(it);
                if q.ascending {
                    k > after
                } else {
                    k < after
                }
            });
        }
        entries
    }

    fn page(&self, q: &IndexQuery) -> (Vec<Item>, IndexPage) {
        let entries = self.index_entries(q);
        let limit = q.limit.max(1) as usize;
        let examined: Vec<Item> = entries.iter().take(limit).cloned().collect();
        // Like LastEvaluatedKey: the key attributes of the last entry examined, nothing else.
        let last = (entries.len() >= limit && limit > 0)
            .then(|| examined.last().map(|it| key_attributes(it, q.index)))
            .flatten();
        let matching: Vec<Item> = examined
            .iter()
            .filter(|it| {
                q.filters
                    .iter()
                    .all(|(a, values)| table::string_attr(it, a).is_some_and(|v| values.iter().any(|x| x == v)))
            })
            .cloned()
            .collect();
        let scanned = examined.len() as u64;
        (
            matching,
            IndexPage {
                items: Vec::new(),
                last,
                scanned,
            },
        )
    }
}

fn key_attributes(item: &Item, index: index::ListIndex) -> Item {
    let keep = [PK, SK, index.key_attribute(), index.sort_attribute()];
    item.iter()
        .filter(|(k, _)| keep.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

impl Backend for Memory {
    async fn query_index(&self, q: &IndexQuery) -> Result<IndexPage, StoreError> {
        self.call();
        let (items, mut page) = self.page(q);
        page.items = items;
        Ok(page)
    }

    async fn count_index(&self, q: &IndexQuery) -> Result<(u64, IndexPage), StoreError> {
        self.call();
        let (items, page) = self.page(q);
        Ok((items.len() as u64, page))
    }

    async fn query_collection(&self, q: &CollectionQuery) -> Result<(Vec<Item>, bool), StoreError> {
        self.call();
        let all: Vec<Item> = self
            .items
            .lock()
            .unwrap()
            .range((q.pk.clone(), q.from.clone())..=(q.pk.clone(), q.to.clone()))
            .map(|(_, it)| it.clone())
            .collect();
        let limit = q.limit.max(1) as usize;
        let more = all.len() >= limit;
        Ok((all.into_iter().take(limit).collect(), more))
    }

    async fn get_item(&self, pk: &str, sk: &str, _consistent: bool) -> Result<Option<Item>, StoreError> {
        self.call();
        Ok(self
            .items
            .lock()
            .unwrap()
            .get(&(pk.to_string(), sk.to_string()))
            .cloned())
    }

    async fn batch_get(&self, keys: &[(String, String)], _consistent: bool) -> Result<Vec<Item>, StoreError> {
        self.call();
        let items = self.items.lock().unwrap();
        Ok(keys.iter().filter_map(|k| items.get(k).cloned()).collect())
    }

    async fn guarded_put(&self, put: &GuardedPut) -> Result<(), StoreError> {
        self.call();
        let mut items = self.items.lock().unwrap();
        let k = keys_of(&put.item);
        let current = items.get(&k).and_then(table::version);
        let ok = match put.expected_version {
            None => !items.contains_key(&k),
            Some(v) => current == Some(v),
        };
        if !ok {
            // As the DynamoDB backend: a retried put that finds its own result has succeeded.
            return match items.get(&k) {
                Some(found) if put.landed(found) => Ok(()),
                _ => Err(StoreError::Conflict),
            };
        }
        self.record_put(items.get(&k), &put.item);
        items.insert(k, put.item.clone());
        Ok(())
    }

    async fn put_plain(&self, item: &Item) -> Result<(), StoreError> {
        self.call();
        let mut items = self.items.lock().unwrap();
        self.record_put(items.get(&keys_of(item)), item);
        items.insert(keys_of(item), item.clone());
        Ok(())
    }

    async fn put_all_new(&self, new: &[Item]) -> Result<(), StoreError> {
        self.call();
        let mut items = self.items.lock().unwrap();
        if new.iter().any(|it| items.contains_key(&keys_of(it))) {
            return Err(StoreError::Permanent("ConditionalCheckFailed".into()));
        }
        for it in new {
            self.record_put(None, it);
            items.insert(keys_of(it), it.clone());
        }
        Ok(())
    }

    async fn set_once(&self, keys: &[(String, String)], attribute: &'static str, value: i64) -> Result<(), StoreError> {
        self.call();
        let mut items = self.items.lock().unwrap();
        if keys.iter().any(|k| !items.contains_key(k)) {
            return Err(StoreError::Permanent("ConditionalCheckFailed".into()));
        }
        for k in keys {
            if let Some(it) = items.get_mut(k) {
                it.entry(attribute.to_string())
                    .or_insert_with(|| AttributeValue::N(value.to_string()));
            }
        }
        Ok(())
    }

    async fn query_prefix(&self, pk: &str, prefix: &str) -> Result<Vec<Item>, StoreError> {
        self.call();
        Ok(self
            .items
            .lock()
            .unwrap()
            .range((pk.to_string(), prefix.to_string())..)
            .take_while(|((p, s), _)| p == pk && s.starts_with(prefix))
            .map(|(_, it)| it.clone())
            .collect())
    }

    async fn add_to_counter(&self, u: &CounterUpdate) -> Result<Item, StoreError> {
        self.call();
        let mut items = self.items.lock().unwrap();
        let k = (u.pk.clone(), u.sk.clone());
        let after = super::counter::apply(items.get(&k), u)?;
        items.insert(k, after.clone());
        Ok(after)
    }

    async fn set_later(&self, u: &LaterUpdate) -> Result<bool, StoreError> {
        self.call();
        let k = (u.pk.clone(), u.sk.clone());
        *self.later_updates.lock().unwrap().entry(k.clone()).or_default() += 1;
        if self.failing_updates.lock().unwrap().contains(&k) {
            return Err(StoreError::Permanent(format!(
                "dynamodb: injected failure updating {}",
                k.0
            )));
        }
        let mut items = self.items.lock().unwrap();
        let later = match items.get(&k) {
            None => u.create,
            Some(it) => table::number_attr(it, u.attribute).is_none_or(|have| have < u.value),
        };
        if !later {
            return Ok(false);
        }
        let old = items.get(&k).cloned();
        let item = items.entry(k).or_insert_with(|| {
            Item::from([
                (PK.to_string(), AttributeValue::S(u.pk.clone())),
                (SK.to_string(), AttributeValue::S(u.sk.clone())),
            ])
        });
        item.insert(u.attribute.to_string(), AttributeValue::N(u.value.to_string()));
        for (name, value) in &u.also {
            item.insert(name.to_string(), value.clone());
        }
        let new = item.clone();
        self.record_put(old.as_ref(), &new);
        Ok(true)
    }

    async fn put_object(&self, key: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        self.call();
        if self
            .failing_puts
            .lock()
            .unwrap()
            .iter()
            .any(|p| key.starts_with(p.as_str()))
        {
            return Err(StoreError::Permanent(format!("s3: injected failure writing {key}")));
        }
        self.objects.lock().unwrap().insert(key.to_string(), bytes);
        Ok(())
    }

    async fn read_object(&self, key: &str) -> Result<ObjectRead, StoreError> {
        self.call();
        Ok(match self.objects.lock().unwrap().get(key) {
            Some(bytes) => ObjectRead::Found(bytes.clone()),
            None if self.no_list_bucket.load(std::sync::atomic::Ordering::SeqCst) => ObjectRead::AccessDenied,
            None => ObjectRead::NoSuchKey,
        })
    }

    async fn list_objects(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        self.call();
        Ok(self.object_keys(prefix))
    }

    async fn delete_object(&self, key: &str) -> Result<(), StoreError> {
        self.call();
        self.objects.lock().unwrap().remove(key);
        Ok(())
    }

    async fn presign(&self, key: &str) -> Result<String, StoreError> {
        Ok(format!("memory://{key}"))
    }

    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now() + *self.clock_ahead.lock().unwrap()
    }
}
