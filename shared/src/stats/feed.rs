//! The `stats` function's work: one batch of the table's stream into counter changes, taken in by
//! the store. Inserts and modifications of executions and event logs count; a removal is TTL's
//! (nothing else deletes records) and counts nothing, as counters expire with what they count.

use crate::model::counts::{BatchChanges, Counted, Sequence};
use crate::store::set_aside::STATS as CONSUMER;
use crate::store::{counted_record, ArchivedRecord, KeepStats, SetAside, StoreError};
use crate::streams::{ItemFailure, StreamEvent, StreamRecord};
use serde::Serialize;
use std::collections::BTreeMap;

/// Shard name when the event has none (an event source mapping without a tumbling window): exact
/// only while the stream has one shard at a time.
pub const UNKNOWN_SHARD: &str = "unknown";

/// The answer to a tumbling-window invocation: Lambda needs `state` (unused: counters are written
/// every batch) and takes the records to deliver again.
#[derive(Debug, Default, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StatsResponse {
    pub state: BTreeMap<String, String>,
    pub batch_item_failures: Vec<ItemFailure>,
}

/// What one batch did, for the log line.
#[derive(Debug, Default, PartialEq)]
pub struct Summary {
    pub records: usize,
    pub counted: usize,
    pub counters_written: usize,
    pub counters_skipped: usize,
    /// Records that cannot be counted, kept whole in S3 (`set-aside/stats/`, these object keys),
    /// so the rest go on.
    pub set_aside: Vec<String>,
    pub error: Option<String>,
}

fn record(image: Option<&serde_json::Value>) -> Option<ArchivedRecord> {
    counted_record(image?)
}

fn counted(r: &Option<ArchivedRecord>) -> Option<(&str, Counted<'_>)> {
    match r.as_ref()? {
        ArchivedRecord::Execution(e) => Some((e.project_id.as_str(), Counted::Execution(e))),
        ArchivedRecord::Log(l) => Some((l.project_id.as_str(), Counted::Log(l))),
        ArchivedRecord::Step { .. } => None,
    }
}

/// The changes a batch makes, record by record.
pub fn changes(batch: &StreamEvent) -> (BatchChanges, usize) {
    changes_of(&batch.records)
}

/// The changes some records make, in order.
fn changes_of(records: &[StreamRecord]) -> (BatchChanges, usize) {
    let mut out = BatchChanges::default();
    let mut counted_records = 0;
    for r in records {
        if !matches!(r.event_name.as_deref(), Some("INSERT") | Some("MODIFY")) {
            continue;
        }
        let old = record(r.dynamodb.old_image.as_ref());
        let new = record(r.dynamodb.new_image.as_ref());
        let (o, n) = (counted(&old), counted(&new));
        if o.is_some() || n.is_some() {
            counted_records += 1;
            out.add(&Sequence::of(&r.dynamodb.sequence_number), o, n);
        }
    }
    (out, counted_records)
}

/// Counts one batch. A transient failure asks for the batch again: what was taken in already is
/// skipped on the next delivery, so nothing counts twice. A permanent one (a record no counter
/// item can hold) is found by counting record by record, in stream order, so each counter still
/// takes in sequence numbers in order; the record that fails for good is set aside whole and the
/// rest are counted.
pub async fn count_batch(store: &(impl KeepStats + SetAside), batch: &StreamEvent) -> (StatsResponse, Summary) {
    let (changes, counted) = changes(batch);
    let shard = batch.shard_id.as_deref().unwrap_or(UNKNOWN_SHARD);
    let mut summary = Summary {
        records: batch.records.len(),
        counted,
        ..Summary::default()
    };
    let mut response = StatsResponse::default();
    let retry_from = |seq: &str| ItemFailure {
        item_identifier: seq.to_string(),
    };
    let first = batch.records.first().map(|r| r.dynamodb.sequence_number.as_str());
    for raw in &batch.unreadable {
        match keep(store, shard, None, raw.clone(), "not a stream record").await {
            Ok(key) => summary.set_aside.push(key),
            Err(e) => {
                summary.error = Some(e.to_string());
                response.batch_item_failures.extend(first.map(retry_from));
                return (response, summary);
            }
        }
    }
    let failure = match store.add_counts(shard, &changes).await {
        Ok(w) => {
            summary.counters_written = w.written;
            summary.counters_skipped = w.skipped;
            return (response, summary);
        }
        Err(e) => e,
    };
    if failure.is_retryable() {
        summary.error = Some(failure.to_string());
        response.batch_item_failures.extend(first.map(retry_from));
        return (response, summary);
    }
    for (i, record) in batch.records.iter().enumerate() {
        let (one, _) = changes_of(std::slice::from_ref(record));
        let seq = record.dynamodb.sequence_number.as_str();
        match store.add_counts(shard, &one).await {
            Ok(w) => {
                summary.counters_written += w.written;
                summary.counters_skipped += w.skipped;
            }
            Err(e) if e.is_retryable() => {
                summary.error = Some(e.to_string());
                response.batch_item_failures.push(retry_from(seq));
                return (response, summary);
            }
            Err(e) => match keep(store, shard, Some(seq), batch.raw_record(i), &e.to_string()).await {
                Ok(key) => summary.set_aside.push(key),
                Err(kept) => {
                    summary.error = Some(kept.to_string());
                    response.batch_item_failures.push(retry_from(seq));
                    return (response, summary);
                }
            },
        }
    }
    (response, summary)
}

/// Sets one record aside with why; named by shard and sequence number, so a batch delivered again
/// rewrites the same object.
async fn keep(
    store: &impl SetAside,
    shard: &str,
    sequence: Option<&str>,
    record: serde_json::Value,
    error: &str,
) -> Result<String, StoreError> {
    let now = chrono::Utc::now();
    let body = serde_json::json!({
        "consumer": CONSUMER,
        "shardId": shard,
        "error": error,
        "setAsideAt": crate::dates::format(now),
        "record": record,
    });
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    let id = match sequence {
        Some(seq) => format!("{}-{seq}", shard.replace(['/', ':'], "_")),
        None => {
            use sha2::Digest;
            hex::encode(&sha2::Sha256::digest(&bytes)[..16])
        }
    };
    let date = now.date_naive().to_string();
    let key = crate::retry::retrying(StoreError::is_retryable, || {
        store.set_aside(CONSUMER, &date, &id, bytes.clone())
    })
    .await?;
    tracing::error!(key = %key, sequence = sequence.unwrap_or(""), error, "stream record set aside");
    Ok(key)
}

/// The shard a replayed record is counted under: its own watermarks, so a replay counts once
/// however often it runs, and never collides with the live stream's.
fn replay_shard(shard: &str) -> String {
    format!("replay:{shard}")
}

/// Counts set-aside records again (after the cause was fixed), as read from their objects, in
/// stream order within each shard. Answers what was counted; a record that still fails is an error.
pub async fn replay(store: &impl KeepStats, objects: &[Vec<u8>]) -> Result<Summary, String> {
    let mut kept: Vec<(String, StreamRecord)> = Vec::new();
    for bytes in objects {
        let v: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| format!("not a set-aside record: {e}"))?;
        if v.get("consumer").and_then(|c| c.as_str()) != Some(CONSUMER) {
            return Err("not a record set aside by stats".into());
        }
        let shard = v
            .get("shardId")
            .and_then(|s| s.as_str())
            .unwrap_or(UNKNOWN_SHARD)
            .to_string();
        let record = serde_json::from_value(v.get("record").cloned().unwrap_or_default())
            .map_err(|e| format!("the kept record is not a stream record: {e}"))?;
        kept.push((shard, record));
    }
    kept.sort_by(|(a, r), (b, q)| {
        (a, Sequence::of(&r.dynamodb.sequence_number)).cmp(&(b, Sequence::of(&q.dynamodb.sequence_number)))
    });
    let mut summary = Summary::default();
    for (shard, record) in &kept {
        let (one, counted) = changes_of(std::slice::from_ref(record));
        let w = store
            .add_counts(&replay_shard(shard), &one)
            .await
            .map_err(|e| format!("record {} of {shard}: {e}", record.dynamodb.sequence_number))?;
        summary.records += 1;
        summary.counted += counted;
        summary.counters_written += w.written;
        summary.counters_skipped += w.skipped;
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;
    use crate::ingest::ingest;
    use crate::params::StatsParams;
    use crate::store::{MemoryStore, StoreConfig};
    use serde_json::{json, Value};

    fn execution(
        id: &str,
        integration: &str,
        started: chrono::DateTime<chrono::Utc>,
    ) -> Box<serde_json::value::RawValue> {
        let v = json!({"kind": "execution", "projectId": "iso", "id": id, "workflowId": "wf",
            "status": "SUCCEEDED", "dateStarted": crate::dates::format(started), "integration": integration});
        serde_json::value::RawValue::from_string(v.to_string()).unwrap()
    }

    /// Replaces a string value anywhere in a JSON document.
    fn replace(v: &mut Value, from: &str, to: &str) {
        match v {
            Value::String(s) if s == from => *s = to.to_string(),
            Value::Array(a) => a.iter_mut().for_each(|x| replace(x, from, to)),
            Value::Object(o) => o.values_mut().for_each(|x| replace(x, from, to)),
            _ => {}
        }
    }

    async fn succeeded(store: &MemoryStore, now: chrono::DateTime<chrono::Utc>) -> String {
        let pairs = [("interval".to_string(), "day".to_string())];
        let params = StatsParams::parse(&pairs).unwrap();
        let s = crate::api::stats::stats(store, "iso", &params, now, 90).await.unwrap();
        serde_json::to_string(&s).unwrap()
    }

    #[tokio::test]
    async fn a_record_no_counter_can_hold_is_set_aside_and_the_rest_are_counted() {
        let settings = Settings::defaults();
        let store = MemoryStore::memory(StoreConfig::from_settings(&settings));
        let now = chrono::Utc::now();
        let started = now - chrono::Duration::hours(3);
        for (id, integration) in [("e1", "crm"), ("e2", "OVERSIZED"), ("e3", "crm")] {
            ingest(&store, &settings, &[execution(id, integration, started)], now).await;
        }
        // An item as stored before ingest checked bytes: 1,024 bytes of value in a counter's key.
        let mut records = store.backend.stream_records(0);
        let bad = records
            .iter()
            .position(|r| r.to_string().contains("OVERSIZED"))
            .unwrap();
        replace(&mut records[bad], "OVERSIZED", &"\u{1F600}".repeat(256));
        let event = StreamEvent::parse(json!({"Records": records, "shardId": "shardId-1"})).unwrap();

        let (response, summary) = count_batch(&store, &event).await;
        assert!(
            response.batch_item_failures.is_empty(),
            "the shard goes on: {summary:?}"
        );
        assert_eq!(summary.set_aside.len(), 1, "{summary:?}");
        let kept: Value = serde_json::from_slice(&store.backend.object(&summary.set_aside[0]).unwrap()).unwrap();
        assert_eq!(kept["record"], records[bad], "the record is kept whole, as delivered");
        assert!(kept["error"].as_str().unwrap().contains("1024 bytes"), "{kept}");
        assert!(succeeded(&store, now).await.contains("\"SUCCEEDED\":2"));

        // A later, valid execution is counted in the next batch.
        let from = store.backend.stream_records(0).len();
        ingest(&store, &settings, &[execution("e4", "crm", started)], now).await;
        let later = StreamEvent::parse(json!({"Records": store.backend.stream_records(from), "shardId": "shardId-1"}));
        let (response, _) = count_batch(&store, &later.unwrap()).await;
        assert!(response.batch_item_failures.is_empty());
        assert!(succeeded(&store, now).await.contains("\"SUCCEEDED\":3"));

        // Delivered again, nothing counts twice and the same object is rewritten.
        let (_, again) = count_batch(&store, &event).await;
        assert_eq!(again.set_aside, summary.set_aside);
        assert!(succeeded(&store, now).await.contains("\"SUCCEEDED\":3"));
        // A replay of a record that still cannot be counted says so.
        let bytes = store.backend.object(&summary.set_aside[0]).unwrap();
        assert!(replay(&store, &[bytes]).await.is_err());
    }

    #[tokio::test]
    async fn a_set_aside_record_counts_once_when_replayed() {
        let settings = Settings::defaults();
        let store = MemoryStore::memory(StoreConfig::from_settings(&settings));
        let now = chrono::Utc::now();
        ingest(
            &store,
            &settings,
            &[execution("r1", "crm", now - chrono::Duration::hours(3))],
            now,
        )
        .await;
        let record = store
            .backend
            .stream_records(0)
            .into_iter()
            .find(|r| changes_of(&[serde_json::from_value(r.clone()).unwrap()]).1 == 1)
            .unwrap();
        let kept = json!({"consumer": CONSUMER, "shardId": "shardId-9", "error": "x", "record": record});
        let bytes = serde_json::to_vec(&kept).unwrap();
        let first = replay(&store, std::slice::from_ref(&bytes)).await.unwrap();
        assert_eq!(first.counted, 1);
        replay(&store, &[bytes]).await.unwrap();
        assert!(succeeded(&store, now).await.contains("\"SUCCEEDED\":1"));
    }

    #[tokio::test]
    async fn many_shards_of_one_slot_count_once_when_redelivered_and_their_expired_marks_go() {
        use crate::store::capacity::counters::{marks_of, slot_of, MARK_LIFETIME_SECONDS, PRUNE_AT};
        let settings = Settings::defaults();
        let store = MemoryStore::memory(StoreConfig::from_settings(&settings));
        let now = chrono::Utc::now();
        let started = now - chrono::Duration::hours(3);
        let events: Vec<_> = (0..120).map(|n| execution(&format!("m{n}"), "crm", started)).collect();
        ingest(&store, &settings, &events, now).await;
        let records = store.backend.stream_records(0);
        // Shard ids that all write the same slot of every counter: one item takes every mark.
        let mut ids = (0..).map(|i| format!("shardId-00000001765000000-{i:08x}"));
        let slot = slot_of("shardId-first");
        let shards: Vec<String> = (&mut ids).filter(|id| slot_of(id) == slot).take(3 * PRUNE_AT).collect();
        let deliver = |shard: &str, part: &[Value]| {
            let event = StreamEvent::parse(json!({"Records": part, "shardId": shard})).unwrap();
            let store = &store;
            async move {
                let (response, summary) = count_batch(store, &event).await;
                assert!(response.batch_item_failures.is_empty(), "{summary:?}");
            }
        };
        let chunks: Vec<&[Value]> = records.chunks(records.len().div_ceil(shards.len())).collect();
        for (shard, part) in shards.iter().zip(&chunks) {
            deliver(shard, part).await;
        }
        let marks = || store.backend.items_under("ST#").iter().map(marks_of).max().unwrap();
        assert!(marks() > PRUNE_AT, "every shard's mark is live: none is pruned");
        // Each shard's batch again, after all the others wrote the same items: nothing twice.
        for (shard, part) in shards.iter().zip(&chunks) {
            deliver(shard, part).await;
        }
        assert!(succeeded(&store, now).await.contains("\"SUCCEEDED\":120"));

        // Past the marks' lifetime, a child shard's first batch removes them.
        store
            .backend
            .advance_clock(chrono::Duration::seconds(MARK_LIFETIME_SECONDS + 1));
        let child = ids.find(|id| slot_of(id) == slot).unwrap();
        let from = records.len();
        ingest(&store, &settings, &[execution("m120", "crm", started)], now).await;
        deliver(&child, &store.backend.stream_records(from)).await;
        assert!(succeeded(&store, now).await.contains("\"SUCCEEDED\":121"));
        let all_day = store
            .backend
            .items_under("ST#iso#E#all#")
            .into_iter()
            .filter(|it| crate::store::capacity::counters::marks_of(it) > 0)
            .map(|it| marks_of(&it))
            .collect::<Vec<_>>();
        assert!(all_day.iter().all(|m| *m == 1), "{all_day:?}");
    }

    #[tokio::test]
    async fn an_entry_that_is_no_stream_record_is_set_aside_not_fatal() {
        let store = MemoryStore::memory(StoreConfig::from_settings(&Settings::defaults()));
        let event = StreamEvent::parse(json!({"Records": [{"eventName": "INSERT"}], "shardId": "s"})).unwrap();
        assert_eq!(event.unreadable.len(), 1);
        let (response, summary) = count_batch(&store, &event).await;
        assert!(response.batch_item_failures.is_empty());
        assert_eq!(summary.set_aside.len(), 1);
    }

    #[tokio::test]
    async fn a_total_is_exact_only_when_the_counters_hold_every_stored_change() {
        use crate::query::{ListQuery, ReadBudget};
        use crate::store::ListExecutions;
        let settings = Settings::defaults();
        let store = MemoryStore::memory(StoreConfig::from_settings(&settings));
        let now = chrono::Utc::now();
        // 300 executions dated over the last 14 days, sent now (a backfill): their hours are past
        // the minutes a total reads directly, so only the counters can answer for them.
        let events: Vec<_> = (0..300)
            .map(|n| {
                let started = now - chrono::Duration::minutes(30 + n * 67);
                execution(&format!("b{n}"), if n % 3 == 0 { "crm" } else { "erp" }, started)
            })
            .collect();
        for chunk in events.chunks(100) {
            ingest(&store, &settings, chunk, now).await;
        }
        let records = store.backend.stream_records(0);
        let query = |integration: Option<&str>| ListQuery {
            window: crate::query::Window {
                project: "iso".into(),
                limit: 100,
                now,
                ..Default::default()
            },
            dimensions: integration
                .map(|v| vec![(crate::model::Field::Integration, vec![v.to_string()])])
                .unwrap_or_default(),
            ..Default::default()
        };
        let budget = ReadBudget { items: 100_000 };
        // Held back, then caught up by thirds: whenever a total says exact, it is.
        let mut applied = 0;
        for upto in [0, records.len() / 3, 2 * records.len() / 3, records.len()] {
            if upto > applied {
                let batch = json!({"Records": records[applied..upto], "shardId": "shardId-1"});
                let (response, _) = count_batch(&store, &StreamEvent::parse(batch).unwrap()).await;
                assert!(response.batch_item_failures.is_empty());
                applied = upto;
            }
            for (integration, truth) in [(None, 300), (Some("crm"), 100)] {
                let c = store.count_executions(&query(integration), budget).await.unwrap();
                if upto == records.len() {
                    assert!(c.exact, "caught up, the total is exact");
                } else if upto == 0 {
                    assert!(!c.exact, "nothing taken in yet: total {} is not exact", c.total);
                }
                if c.exact {
                    assert_eq!(c.total, truth, "{integration:?} after {upto} records");
                }
            }
        }
        // And equal to paging.
        let mut paged = 0;
        let mut resume = None;
        loop {
            let page = store
                .list_executions(&query(None), resume.as_ref(), budget)
                .await
                .unwrap();
            paged += page.items.len();
            resume = page.next;
            if resume.is_none() {
                break;
            }
        }
        assert_eq!(paged, 300);
    }
}
