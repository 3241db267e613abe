//! The scheduled export as queued units: every pending project day becomes one unit, a unit
//! delivered again writes the same objects byte for byte (or, once written, nothing more), and a
//! unit that fails is delivered again while a message that holds no unit is dropped.

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use runledger::config::Settings;
use runledger::export::queue::{enqueue, slot_of, work, QueueUnits};
use runledger::export::{export_unit, ExportUnit, Format};
use runledger::ingest::ingest;
use runledger::store::{ExportRecords, MemoryStore, StoreConfig};
use serde_json::json;
use serde_json::value::RawValue;
use std::collections::BTreeMap;
use std::sync::Mutex;

fn new_store() -> MemoryStore {
    MemoryStore::memory(StoreConfig { retention_days: 90 })
}

fn at(s: &str) -> chrono::DateTime<chrono::Utc> {
    runledger::dates::parse(s).unwrap()
}

async fn load(store: &MemoryStore, now: &str, p: &str, ids: std::ops::Range<u32>, started: &str) {
    let raw: Vec<Box<RawValue>> = ids
        .map(|i| {
            let e = json!({"kind": "execution", "projectId": p, "id": format!("e{i}"), "workflowId": "wf",
                "status": "SUCCEEDED", "dateStarted": started, "output": {"n": i}});
            RawValue::from_string(e.to_string()).unwrap()
        })
        .collect();
    let outcomes = ingest(store, &Settings::defaults(), &raw, at(now)).await;
    assert!(outcomes.iter().all(|o| *o == runledger::ingest::Outcome::Accepted));
}

/// Every object of a day's export folder with its bytes.
fn folder(store: &MemoryStore, p: &str, date: &str) -> BTreeMap<String, Vec<u8>> {
    store
        .backend
        .object_keys(&format!("exports/projectId={p}/date={date}/"))
        .into_iter()
        .map(|k| {
            let bytes = store.backend.object(&k).unwrap();
            (k, bytes)
        })
        .collect()
}

/// A queue in memory; the first `refuse` entries sent are not taken (as SQS reports a failed entry).
#[derive(Default)]
struct Queue {
    sent: Mutex<Vec<String>>,
    refuse: Mutex<usize>,
}

impl QueueUnits for Queue {
    async fn send_batch(&self, units: &[ExportUnit]) -> Result<Vec<(String, String)>, String> {
        assert!(units.len() <= 10, "SendMessageBatch takes ten");
        let mut failed = Vec::new();
        for u in units {
            let mut refuse = self.refuse.lock().unwrap();
            if *refuse > 0 {
                *refuse -= 1;
                failed.push((u.id(), "InternalError".to_string()));
            } else {
                self.sent.lock().unwrap().push(serde_json::to_string(u).unwrap());
            }
        }
        Ok(failed)
    }
}

fn sqs(bodies: &[String]) -> SqsEvent {
    let mut event = SqsEvent::default();
    for (i, b) in bodies.iter().enumerate() {
        let mut m = SqsMessage::default();
        m.message_id = Some(format!("m{i}"));
        m.body = Some(b.clone());
        event.records.push(m);
    }
    event
}

#[tokio::test]
async fn every_pending_day_is_queued_once_and_the_worker_writes_it() {
    let store = new_store();
    for n in 0..23 {
        load(
            &store,
            "2026-11-24T10:00:01Z",
            &format!("q{n:02}"),
            0..2,
            "2026-11-24T10:00:00.000Z",
        )
        .await;
    }
    load(&store, "2026-11-24T10:00:01Z", "q00", 2..3, "2026-11-23T10:00:00.000Z").await;
    let queue = Queue::default();
    *queue.refuse.lock().unwrap() = 3;
    let now = at("2026-11-25T01:15:00Z");
    let run = enqueue(&store, &queue, now).await;
    assert_eq!((run.pending, run.queued, run.failures.len()), (24, 24, 0), "{run:?}");
    let sent = queue.sent.lock().unwrap().clone();
    let units: Vec<ExportUnit> = sent.iter().map(|b| serde_json::from_str(b).unwrap()).collect();
    assert_eq!(units.last().unwrap().date, "2026-11-23", "newest day first");
    assert!(units.iter().all(|u| u.slot == "2026-11-25T01:00:00.000Z"), "{units:?}");
    let distinct: std::collections::BTreeSet<String> = units.iter().map(ExportUnit::id).collect();
    assert_eq!(distinct.len(), 24);

    // Queued again within the hour (the scheduler's retry): the same units, which SQS drops as
    // duplicates by their ids.
    let again = Queue::default();
    enqueue(&store, &again, now + chrono::Duration::minutes(20)).await;
    let (mut first, mut second) = (sent.clone(), again.sent.lock().unwrap().clone());
    first.sort();
    second.sort();
    assert_eq!(second, first);

    let mut bodies = sent.clone();
    bodies.push("not a unit".into());
    bodies.push(json!({"projectId": "q00", "date": "someday", "slot": "2026-11-25T01:00:00Z"}).to_string());
    let response = work(&store, &sqs(&bodies)).await;
    assert!(
        response.batch_item_failures.is_empty(),
        "a message with no unit is dropped, not redelivered"
    );
    for n in 0..23 {
        let names = folder(&store, &format!("q{n:02}"), "2026-11-24");
        assert_eq!(names.len(), 2, "a manifest and a part: {names:?}");
    }
    let next = Queue::default();
    let idle = enqueue(&store, &next, at("2026-11-25T02:15:00Z")).await;
    assert_eq!((idle.pending, idle.queued), (0, 0), "{idle:?}");
}

#[tokio::test]
async fn a_unit_delivered_again_writes_the_same_objects_byte_for_byte() {
    let store = new_store();
    let (p, date) = ("again", "2026-11-24");
    load(&store, "2026-11-24T10:00:01Z", p, 0..50, "2026-11-24T10:00:00.000Z").await;
    let slot = slot_of(at("2026-11-25T01:15:00Z"));
    let days = store.project_days(date).await.unwrap();
    let unit = ExportUnit::new(&days[0], slot);

    // The first delivery stops after its parts, before the manifest (a timeout, a crash).
    store
        .backend
        .fail_puts_under(&format!("exports/projectId={p}/date={date}/manifest"));
    let failed = work(&store, &sqs(&[serde_json::to_string(&unit).unwrap()])).await;
    assert_eq!(failed.batch_item_failures.len(), 1, "delivered again");
    let parts_first = folder(&store, p, date);
    assert_eq!(parts_first.len(), 1, "{parts_first:?}");
    assert!(store.project_days(date).await.unwrap()[0].pending(), "not marked");

    // The next delivery writes the same part again, then the manifest.
    store.backend.heal_puts();
    let done = export_unit(&store, &unit).await.unwrap();
    assert_eq!(done.exported.manifests.len(), 1);
    assert_eq!(done.exported.manifests[0].rows, 50);
    let whole = folder(&store, p, date);
    for (k, bytes) in &parts_first {
        assert_eq!(whole.get(k), Some(bytes), "{k}: the same key, the same bytes");
    }
    assert!(!store.project_days(date).await.unwrap()[0].pending());

    // Once more (its deletion acknowledged late, say): nothing is written again.
    let third = export_unit(&store, &unit).await.unwrap();
    assert_eq!(
        (third.exported.manifests.len(), third.already.clone()),
        (0, vec![Format::Jsonl])
    );
    assert_eq!(folder(&store, p, date), whole);

    // A fresh store holding the same records exports the unit to the same bytes.
    let other = new_store();
    load(&other, "2026-11-24T10:00:01Z", p, 0..50, "2026-11-24T10:00:00.000Z").await;
    export_unit(&other, &unit).await.unwrap();
    assert_eq!(folder(&other, p, date), whole);
}

#[tokio::test]
async fn a_later_unit_replaces_the_days_set() {
    let store = new_store();
    let (p, date) = ("later", "2026-11-24");
    load(&store, "2026-11-24T10:00:01Z", p, 0..3, "2026-11-24T10:00:00.000Z").await;
    let days = store.project_days(date).await.unwrap();
    export_unit(&store, &ExportUnit::new(&days[0], at("2026-11-25T01:00:00Z")))
        .await
        .unwrap();
    load(&store, "2026-11-25T05:00:01Z", p, 3..4, "2026-11-24T10:00:00.000Z").await;
    let days = store.project_days(date).await.unwrap();
    assert!(days[0].pending());
    let done = export_unit(&store, &ExportUnit::new(&days[0], at("2026-11-25T06:00:00Z")))
        .await
        .unwrap();
    assert_eq!(done.exported.manifests[0].rows, 4);
    let names: Vec<String> = folder(&store, p, date).into_keys().collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(
        names.iter().any(|n| n.contains("part-20261125T060000000Z-00000")),
        "{names:?}"
    );
}
