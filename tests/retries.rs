//! Requests that time out on the client but succeed on the server: the fault proxy makes every
//! conditional write the code sends (key creation, summary and step commits, token fingerprints,
//! event-log appends, counter additions, key revocation) land and then loses its first answer, so
//! the SDK sends it again and meets its own result. Nothing may turn into an error, a duplicate
//! or a count taken twice.

use runledger::apikeys::KeyAdmin;
use runledger::ingest::{ingest, Outcome};
use runledger::params::StatsParams;
use runledger::store::{MemoryStore, StoreConfig};
use runledger_tests::*;
use serde_json::{json, Value};

fn lifecycle(p: &str, e: &str) -> Vec<Value> {
    let t0 = minutes_ago(90);
    vec![
        execution(
            p,
            e,
            "RUNNING",
            &t0,
            json!({"integration": "hubspot", "input": {"lead": format!("lead {e}")}}),
        ),
        step(p, e, "s1", "RUNNING", &t0, json!({"input": {"fetch": "contacts"}})),
        step(
            p,
            e,
            "s1",
            "SUCCEEDED",
            &t0,
            json!({"dateEnded": minutes_ago(89), "output": {"rows": 3}}),
        ),
        execution(
            p,
            e,
            "FAILED",
            &t0,
            json!({"dateEnded": minutes_ago(88), "taskCount": 1,
                   "error": {"code": "E_SYNC", "message": "remote said no", "details": {"why": "quota"}}}),
        ),
    ]
}

fn event_log(p: &str, n: usize) -> Value {
    json!({"kind": "log", "projectId": p, "id": format!("log-{n}"), "timestamp": minutes_ago(80 + n as i64),
           "level": "INFO", "type": "WEBHOOK_TRIGGER", "message": format!("webhook {n} received"),
           "payload": {"n": n}})
}

fn stats_params(pairs: &[(&str, &str)]) -> StatsParams {
    let pairs: Vec<(String, String)> = pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
    StatsParams::parse(&pairs).expect("stats params")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_answer_to_any_conditional_write_changes_nothing() {
    let proxy = FaultProxy::losing_first_writes();
    let (lossy, direct, settings, p) = (store_via(&proxy.url).await, store().await, settings(), project("lost"));
    let now = chrono::Utc::now();

    // Key creation (one transaction of two items) succeeds once, and the key is there once.
    let admin = KeyAdmin { store: &lossy };
    let key = admin
        .create(&p, "retried", now.timestamp())
        .await
        .expect("a key whose first answer was lost is created");
    let keys = KeyAdmin { store: &direct }.list(&p).await.unwrap();
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert!(key.token.starts_with("rl_"));

    // Executions, one event per invocation: every event is accepted, none is a duplicate.
    let executions: Vec<String> = (0..3).map(|_| id()).collect();
    let events: Vec<Value> = executions.iter().flat_map(|e| lifecycle(&p, e)).collect();
    for ev in &events {
        let outcomes = ingest(&lossy, &settings, &raw(std::slice::from_ref(ev)), now).await;
        assert_eq!(outcomes, [Outcome::Accepted], "{ev}");
    }
    // Event logs, in one envelope: all accepted.
    let logs: Vec<Value> = (0..5).map(|n| event_log(&p, n)).collect();
    let outcomes = ingest(&lossy, &settings, &raw(&logs), now).await;
    assert_eq!(outcomes, vec![Outcome::Accepted; logs.len()]);

    // A producer's real resend is still a duplicate.
    let again = ingest(&lossy, &settings, &raw(&logs[..2]), now).await;
    assert_eq!(again, [Outcome::Duplicate, Outcome::Duplicate]);
    let again = ingest(&lossy, &settings, &raw(&events[3..4]), now).await;
    assert_eq!(again, [Outcome::Duplicate]);

    // The stored state is the lifecycle's, once.
    for e in &executions {
        let (record, steps) = stored_state(&direct, &p, e).await.expect("stored");
        let state = format!("{record:?} {steps:?}");
        assert!(state.contains("Failed") && state.contains("E_SYNC"), "{state}");
        assert_eq!(steps.len(), 1);
    }

    // Counters: stream batches of the in-memory table, delivered twice through the lossy proxy,
    // count as the in-memory store counts them once. A project of their own: the test stack's
    // stream pump counts what was written to DynamoDB above, under its own shard.
    let pc = project("lost-counters");
    let memory = MemoryStore::memory(StoreConfig::from_settings(&settings));
    for e in &executions {
        for ev in lifecycle(&pc, e) {
            ingest(&memory, &settings, &raw(&[ev]), now).await;
        }
    }
    let counted_logs: Vec<Value> = (0..5).map(|n| event_log(&pc, n)).collect();
    ingest(&memory, &settings, &raw(&counted_logs), now).await;
    // One batch: the SDK's retry quota (5 tokens a retry, 500 in all) would run dry if every one
    // of a few hundred calls needed a retry, as it should on AWS.
    let records = memory.backend.stream_records(0);
    for chunk in records.chunks(records.len()) {
        let event: runledger::streams::StreamEvent =
            serde_json::from_value(json!({"Records": chunk, "shardId": "shardId-lost"})).unwrap();
        runledger::stats::feed::count_batch(&memory, &event).await;
        for _ in 0..2 {
            let (response, summary) = runledger::stats::feed::count_batch(&lossy, &event).await;
            assert!(response.batch_item_failures.is_empty(), "{summary:?}");
        }
    }
    for pairs in [
        &[("interval", "hour")][..],
        &[("interval", "day"), ("groupBy", "integration")][..],
    ] {
        let params = stats_params(pairs);
        let want = runledger::api::stats::stats(&memory, &pc, &params, now, 90)
            .await
            .unwrap();
        let got = runledger::api::stats::stats(&direct, &pc, &params, now, 90)
            .await
            .unwrap();
        let (want, got) = (serde_json::to_value(want).unwrap(), serde_json::to_value(got).unwrap());
        assert_eq!(got, want, "{pairs:?}");
        assert!(got.to_string().contains("\"FAILED\":3"), "{got}");
    }

    // Revocation (a transaction of updates) goes through once too.
    let key_id = runledger::apikeys::split(&key.token).unwrap().0.to_string();
    let revoked = admin.revoke(&key_id, now.timestamp()).await.expect("revoke");
    assert!(revoked.revoked_at.is_some());

    // Every kind of conditional write lost an answer at least once.
    let injected = proxy.injected().await;
    for op in ["TransactWriteItems", "PutItem", "UpdateItem"] {
        assert!(
            injected[format!("lost-{op}")].as_u64().unwrap_or(0) > 0,
            "no {op} answer was lost: {injected}"
        );
    }
}
