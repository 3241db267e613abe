//! The register of project days under the lease: each process notes a project's day at most once
//! per lease, the scheduled export still writes again every day that changed after it wrote it,
//! and an event whose day could not be noted is not stored (nor are the events of other days held
//! back by it).

use runledger::config::Settings;
use runledger::export::{export_changed, ScheduledRun};
use runledger::ingest::lambda::{handle_invocation, InvocationResult};
use runledger::ingest::{ingest_noting, NotedDays, Outcome, Report, DAY_LEASE};
use runledger::store::{day_register_key, ExportRecords, MemoryStore, ReadExecution, StoreConfig};
use serde_json::value::RawValue;
use serde_json::{json, Value};
use std::io::Read;

fn new_store() -> MemoryStore {
    MemoryStore::memory(StoreConfig { retention_days: 90 })
}

fn at(s: &str) -> chrono::DateTime<chrono::Utc> {
    runledger::dates::parse(s).unwrap()
}

fn execution(p: &str, id: &str, status: &str, started: &str) -> Box<RawValue> {
    let e = json!({"kind": "execution", "projectId": p, "id": id, "workflowId": "wf", "status": status, "dateStarted": started});
    RawValue::from_string(e.to_string()).unwrap()
}

async fn send(
    store: &MemoryStore,
    noted: &NotedDays,
    now: chrono::DateTime<chrono::Utc>,
    events: &[Box<RawValue>],
) -> Vec<Outcome> {
    ingest_noting(store, &Settings::defaults(), noted, events, now).await
}

/// A running execution that has run `tasks` tasks (each count replaces a smaller one).
fn tasks(p: &str, id: &str, started: &str, tasks: u32) -> Box<RawValue> {
    let e = json!({"kind": "execution", "projectId": p, "id": id, "workflowId": "wf", "status": "RUNNING", "dateStarted": started, "taskCount": tasks});
    RawValue::from_string(e.to_string()).unwrap()
}

/// The status of execution `id` in the run's JSON Lines export of `p`, if the run wrote it.
fn exported_status(store: &MemoryStore, run: &ScheduledRun, p: &str, id: &str) -> Option<String> {
    exported(store, run, p, id).map(|r| r["status"].as_str().unwrap().to_string())
}

/// Execution `id` in the run's JSON Lines export of `p`, if the run wrote it.
fn exported(store: &MemoryStore, run: &ScheduledRun, p: &str, id: &str) -> Option<Value> {
    let m = run.manifests.iter().find(|m| m.project_id == p)?;
    m.parts.iter().find_map(|part| {
        let mut text = String::new();
        flate2::read::GzDecoder::new(&store.backend.object(&part.key).unwrap()[..])
            .read_to_string(&mut text)
            .unwrap();
        text.lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .find(|r| r["id"] == id && r["kind"] == "execution")
    })
}

fn register_writes(store: &MemoryStore, p: &str, date: &str) -> u64 {
    let (pk, sk) = day_register_key(p, date);
    store.backend.later_updates(&pk, &sk)
}

#[tokio::test]
async fn a_process_notes_a_project_day_at_most_once_a_lease() {
    let store = new_store();
    let (p, date) = ("hot", "2026-11-24");
    let processes: Vec<NotedDays> = (0..3).map(|_| NotedDays::default()).collect();
    let start = at("2026-11-24T10:00:00Z");
    let minutes = 5;
    // Each process takes an invocation of the project's day every second for five minutes.
    for tick in 0..(minutes * 60) {
        let now = start + chrono::Duration::seconds(tick);
        for (n, noted) in processes.iter().enumerate() {
            let id = format!("e{n}-{tick}");
            let outcome = send(
                &store,
                noted,
                now,
                &[execution(p, &id, "SUCCEEDED", "2026-11-24T09:00:00.000Z")],
            )
            .await;
            assert_eq!(outcome, vec![Outcome::Accepted]);
        }
    }
    let bound = processes.len() as u64 * (1 + minutes as u64 * 60 / DAY_LEASE.num_seconds() as u64);
    let writes = register_writes(&store, p, date);
    assert!(
        writes <= bound,
        "{writes} register writes for 900 invocations, bound {bound}"
    );
    assert!(
        writes >= processes.len() as u64 * minutes as u64,
        "a lease is renewed once it ends: {writes}"
    );

    // Without the leases of before, every invocation notes its day.
    let fresh = new_store();
    for tick in 0..10 {
        let now = start + chrono::Duration::milliseconds(500 * tick);
        send(
            &fresh,
            &NotedDays::default(),
            now,
            &[execution(p, &format!("e{tick}"), "RUNNING", "2026-11-24T09:00:00.000Z")],
        )
        .await;
    }
    assert_eq!(register_writes(&fresh, p, date), 10);
}

#[tokio::test]
async fn a_change_within_a_lease_right_after_an_export_is_exported_by_the_next_run() {
    let store = new_store();
    let noted = NotedDays::default();
    let (p, started) = ("lease", "2026-11-24T23:50:00.000Z");
    // A late event of the 24th, just after midnight: noted, with a lease.
    send(
        &store,
        &noted,
        at("2026-11-25T01:00:00Z"),
        &[execution(p, "e1", "RUNNING", started)],
    )
    .await;
    let run = export_changed(&store, at("2026-11-25T01:00:20Z"), None).await;
    assert_eq!(exported_status(&store, &run, p, "e1").as_deref(), Some("RUNNING"));
    // Within the same lease, after the run read the day: the process notes nothing...
    let writes = register_writes(&store, p, "2026-11-24");
    let changed = send(
        &store,
        &noted,
        at("2026-11-25T01:00:40Z"),
        &[execution(p, "e1", "SUCCEEDED", started)],
    )
    .await;
    assert_eq!(changed, vec![Outcome::Accepted]);
    assert_eq!(register_writes(&store, p, "2026-11-24"), writes, "covered by the lease");
    // ...and the day is still pending, so the next run writes the change.
    let days = store.project_days("2026-11-24").await.unwrap();
    assert!(days.iter().all(|d| d.pending()), "{days:?}");
    let next = export_changed(&store, at("2026-11-25T02:15:00Z"), None).await;
    assert_eq!(exported_status(&store, &next, p, "e1").as_deref(), Some("SUCCEEDED"));
    let idle = export_changed(&store, at("2026-11-25T03:15:00Z"), None).await;
    assert_eq!((idle.pending, idle.manifests.len()), (0, 0), "{idle:?}");
}

/// Several processes, changes and scheduled runs at pseudo-random times: whenever a run leaves a
/// day not pending, what it wrote holds every change made before it began, and changes after it
/// are exported by a later run.
#[tokio::test]
async fn the_scheduled_run_never_misses_a_change_whatever_the_timing() {
    let store = new_store();
    let processes: Vec<NotedDays> = (0..3).map(|_| NotedDays::default()).collect();
    let (p, started) = ("mixed", "2026-11-24T12:00:00.000Z");
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let mut now = at("2026-11-25T00:00:00Z");
    let mut version = 0;
    let mut exported_version: Option<u32> = None;
    let mut runs_that_wrote = 0;
    for _ in 0..160 {
        now += chrono::Duration::seconds(1 + next(120) as i64);
        if next(4) == 0 {
            let run = export_changed(&store, now, None).await;
            assert!(run.failures.is_empty(), "{run:?}");
            if let Some(row) = exported(&store, &run, p, "e1") {
                exported_version = row["taskCount"].as_u64().map(|v| v as u32);
                assert_eq!(
                    exported_version,
                    Some(version),
                    "a run writes every change made before it"
                );
                runs_that_wrote += 1;
            }
            let days = store.project_days("2026-11-24").await.unwrap();
            if !days[0].pending() {
                assert_eq!(
                    exported_version,
                    Some(version),
                    "a day no longer pending is exported as it is"
                );
            }
        } else {
            version += 1;
            let noted = &processes[next(3) as usize];
            let outcome = send(&store, noted, now, &[tasks(p, "e1", started, version)]).await;
            assert_eq!(outcome, vec![Outcome::Accepted]);
            // What the export relies on: the register says the day changes at least until now.
            let days = store.project_days("2026-11-24").await.unwrap();
            assert!(days[0].changed_at > Some(now.timestamp_millis()), "{days:?} at {now}");
        }
    }
    let last = export_changed(&store, now + chrono::Duration::hours(1), None).await;
    let row = exported(&store, &last, p, "e1");
    let seen = row.map_or(exported_version, |r| r["taskCount"].as_u64().map(|v| v as u32));
    assert_eq!(seen, Some(version));
    assert!(runs_that_wrote > 5, "{runs_that_wrote} runs wrote the day");
}

#[tokio::test]
async fn an_event_whose_day_cannot_be_noted_is_not_stored_and_the_rest_are() {
    let store = new_store();
    let noted = NotedDays::default();
    let now = at("2026-11-25T01:00:00Z");
    let (pk, sk) = day_register_key("down", "2026-11-24");
    store.backend.fail_updates_of(&pk, &sk);
    let events = [
        execution("down", "e1", "SUCCEEDED", "2026-11-24T10:00:00.000Z"),
        execution("up", "e1", "SUCCEEDED", "2026-11-24T10:00:00.000Z"),
        execution("down", "e2", "SUCCEEDED", "2026-11-25T00:30:00.000Z"),
    ];
    let report = Report::from_outcomes(&send(&store, &noted, now, &events).await);
    assert_eq!(report.accepted, 2, "{report:?}");
    assert_eq!(report.rejected.len(), 1, "{report:?}");
    assert_eq!(report.rejected[0].index, 0);
    assert_eq!(report.rejected[0].code, "unavailable");
    let epoch = now.timestamp();
    assert!(
        store.execution("down", "e1", 0, epoch).await.unwrap().is_none(),
        "not stored"
    );
    assert!(store.execution("up", "e1", 0, epoch).await.unwrap().is_some());
    assert!(
        store.execution("down", "e2", 0, epoch).await.unwrap().is_some(),
        "another day of the project"
    );

    // Sent again once the register answers (same process: the failure left no lease), the day is
    // noted and the scheduled run writes it.
    store.backend.heal_updates();
    let again = send(&store, &noted, now + chrono::Duration::seconds(5), &events[..1]).await;
    assert_eq!(again, vec![Outcome::Accepted]);
    let run = export_changed(&store, at("2026-11-25T02:15:00Z"), None).await;
    assert_eq!(
        exported_status(&store, &run, "down", "e1").as_deref(),
        Some("SUCCEEDED")
    );
    assert_eq!(exported_status(&store, &run, "up", "e1").as_deref(), Some("SUCCEEDED"));
}

#[tokio::test]
async fn an_sqs_message_whose_day_cannot_be_noted_is_delivered_again_alone() {
    let store = new_store();
    let noted = NotedDays::default();
    let now = at("2026-11-25T01:00:00Z");
    let (pk, sk) = day_register_key("down", "2026-11-24");
    store.backend.fail_updates_of(&pk, &sk);
    let body = |p: &str| {
        json!({"events": [json!({"kind": "execution", "projectId": p, "id": "e1", "workflowId": "wf", "status": "SUCCEEDED", "dateStarted": "2026-11-24T10:00:00.000Z"})]}).to_string()
    };
    let records: Vec<Value> = [("m-down", body("down")), ("m-up", body("up"))]
        .iter()
        .map(|(id, b)| json!({"messageId": id, "body": b, "attributes": {"SentTimestamp": "1795568400000"}}))
        .collect();
    let batch = RawValue::from_string(json!({ "Records": records }).to_string()).unwrap();
    let InvocationResult::Sqs(r) = handle_invocation(&store, &Settings::defaults(), &noted, &batch, now)
        .await
        .unwrap()
    else {
        panic!("an SQS batch")
    };
    let failed: Vec<&str> = r
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, vec!["m-down"]);
    let epoch = now.timestamp();
    assert!(store.execution("down", "e1", 0, epoch).await.unwrap().is_none());
    assert!(store.execution("up", "e1", 0, epoch).await.unwrap().is_some());
}
