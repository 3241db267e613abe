//! Integration tests of the library against the local emulator: ingest, convergence, reads.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use runledger::api::{get, step};
use runledger::ingest::{ingest, Outcome, Report};
use runledger_tests::*;
use serde_json::{json, Value};

fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}

#[tokio::test]
async fn an_execution_with_steps_reads_back_through_get_and_step_detail() {
    let (store, settings, p, e) = (store().await, settings(), project("store"), id());
    let events = vec![
        execution(
            &p,
            &e,
            "RUNNING",
            &minutes_ago(10),
            json!({"userId": "u1", "integration": "salesforce", "input": {"lead": 7}}),
        ),
        step(&p, &e, "s2", "SUCCEEDED", &minutes_ago(8), json!({"output": [1, 2]})),
        step(
            &p,
            &e,
            "s1",
            "FAILED",
            &minutes_ago(9),
            json!({"dateEnded": minutes_ago(8), "error": {"code": "E1", "message": "bad", "details": {"why": "x"}}}),
        ),
        execution(
            &p,
            &e,
            "FAILED",
            &minutes_ago(10),
            json!({"dateEnded": minutes_ago(5), "error": {"message": "step s1 failed"}}),
        ),
    ];
    let outcomes = ingest(&store, &settings, &raw(&events), now()).await;
    assert_eq!(
        Report::from_outcomes(&outcomes),
        Report {
            accepted: 4,
            duplicates: 0,
            rejected: vec![],
            notes: vec![]
        }
    );

    let links = runledger::api::links::Links {
        settings: &settings,
        project: &p,
        base_url: "http://x",
    };
    let got = serde_json::to_value(get::get(&store, &links, &e, now().timestamp()).await.unwrap()).unwrap();
    assert_eq!(got["status"], "FAILED");
    assert_eq!(got["userId"], "u1");
    assert_eq!(got["input"], json!({"lead": 7}));
    assert_eq!(got["error"]["message"], "step s1 failed");
    assert_eq!(got["runDuration"], json!(300_000), "derived from the dates");
    let steps: Vec<&str> = got["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["s1", "s2"], "ordered by dateStarted");
    assert!(got["steps"][0].get("input").is_none(), "step summaries carry no bodies");

    let s1 = serde_json::to_value(step::step(&store, &p, &e, "s1", now().timestamp()).await.unwrap()).unwrap();
    assert_eq!(
        s1["error"],
        json!({"code": "E1", "message": "bad", "details": {"why": "x"}})
    );
    assert_eq!(s1["runDuration"], json!(60_000));
    let missing = step::step(&store, &p, &e, "nope", now().timestamp()).await.unwrap_err();
    assert_eq!(missing.status(), 404);
    let other = project("other");
    let other_links = runledger::api::links::Links {
        settings: &settings,
        project: &other,
        base_url: "http://x",
    };
    let other_project = get::get(&store, &other_links, &e, now().timestamp()).await.unwrap_err();
    assert_eq!(other_project.status(), 404);
}

#[tokio::test]
async fn delivering_the_same_events_twice_stores_them_once() {
    let (store, settings, p, e) = (store().await, settings(), project("dup"), id());
    let events = vec![
        execution(&p, &e, "SUCCEEDED", &minutes_ago(3), json!({"output": {"ok": true}})),
        step(&p, &e, "s1", "SUCCEEDED", &minutes_ago(3), json!({})),
    ];
    let first = ingest(&store, &settings, &raw(&events), now()).await;
    let before = stored_state(&store, &p, &e).await;
    let second = ingest(&store, &settings, &raw(&events), now()).await;
    assert_eq!(first, [Outcome::Accepted, Outcome::Accepted]);
    assert_eq!(second, [Outcome::Duplicate, Outcome::Duplicate]);
    assert_eq!(stored_state(&store, &p, &e).await, before);
}

#[tokio::test]
async fn a_bad_event_is_rejected_without_blocking_the_others() {
    let (store, settings, p) = (store().await, settings(), project("bad"));
    let (good, bad) = (id(), id());
    let events = vec![
        execution(&p, &good, "RUNNING", &minutes_ago(1), json!({})),
        execution(&p, &bad, "EXPLODED", &minutes_ago(1), json!({})),
        execution(&p, &id(), "RUNNING", "2020-01-01T00:00:00Z", json!({})),
    ];
    let report = Report::from_outcomes(&ingest(&store, &settings, &raw(&events), now()).await);
    assert_eq!(report.accepted, 1);
    let codes: Vec<(usize, &str)> = report.rejected.iter().map(|r| (r.index, r.code)).collect();
    assert_eq!(codes, [(1, "invalid_event"), (2, "expired")]);
    assert!(
        stored_state(&store, &p, &bad).await.is_none(),
        "nothing of a rejected event is written"
    );
    assert!(stored_state(&store, &p, &good).await.is_some());
}

/// One execution's whole lifecycle, with bodies inline and in S3, relative to `p`/`e`.
fn lifecycle(p: &str, e: &str) -> Vec<Value> {
    let t0 = minutes_ago(30);
    // Pseudo-random letters barely compress, so this body lands in S3.
    let mut x: u64 = 42;
    let blob: String = (0..40_000)
        .map(|_| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            char::from(b'a' + ((x >> 33) % 26) as u8)
        })
        .collect();
    let big = json!({ "blob": blob });
    vec![
        execution(
            p,
            e,
            "QUEUED",
            &t0,
            json!({"userId": "u1", "integration": "hubspot", "input": {"n": 1}}),
        ),
        execution(p, e, "RUNNING", &t0, json!({"taskCount": 1})),
        execution(p, e, "RUNNING", &t0, json!({"taskCount": 2, "traceId": "t-1"})),
        step(p, e, "s1", "RUNNING", &minutes_ago(29), json!({"input": {"a": 1}})),
        step(
            p,
            e,
            "s1",
            "SUCCEEDED",
            &minutes_ago(29),
            json!({"dateEnded": minutes_ago(28), "output": big}),
        ),
        step(p, e, "s2", "RUNNING", &minutes_ago(28), json!({})),
        step(
            p,
            e,
            "s2",
            "FAILED",
            &minutes_ago(28),
            json!({"error": {"code": "E", "message": "m", "details": [1]}}),
        ),
        step(p, e, "s3", "SUCCEEDED", &minutes_ago(27), json!({"output": "done"})),
        execution(
            p,
            e,
            "SUCCEEDED",
            &t0,
            json!({"dateEnded": minutes_ago(20), "taskCount": 3, "output": {"r": [1, 2, 3]}}),
        ),
    ]
}

/// Replaces the per-run project and execution ids so states of different runs compare.
fn normalized<T: std::fmt::Debug>(state: T, p: &str, e: &str) -> String {
    format!("{state:?}").replace(p, "P").replace(e, "E")
}

#[test]
fn events_in_any_order_with_duplicates_and_concurrent_batches_converge() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (store, settings) = rt.block_on(async { (store().await, settings()) });
    // Timestamps are relative to now, so every run uses the same ones.
    let base = lifecycle("P0", "E0");
    let reference = rt.block_on(async {
        let (p, e) = (project("conv"), id());
        let events: Vec<Value> = base.iter().map(|ev| rebind(ev, &p, &e)).collect();
        for ev in &events {
            ingest(&store, &settings, &raw(std::slice::from_ref(ev)), now()).await;
        }
        normalized(stored_state(&store, &p, &e).await, &p, &e)
    });
    assert!(
        reference.contains("Succeeded") && reference.contains("External"),
        "the reference run stored the lifecycle"
    );

    let mut runner = TestRunner::new(Config {
        cases: 12,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&any::<u64>(), |seed| {
            let state = rt.block_on(async {
                let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
                let (p, e) = (project("conv"), id());
                let mut events: Vec<Value> = base.iter().map(|ev| rebind(ev, &p, &e)).collect();
                let extra: Vec<Value> = events.iter().filter(|_| rng.random_bool(0.4)).cloned().collect();
                events.extend(extra);
                events.shuffle(&mut rng);
                let mut batches = Vec::new();
                while !events.is_empty() {
                    let n = rng.random_range(1..=events.len().min(4));
                    batches.push(events.drain(..n).collect::<Vec<_>>());
                }
                // Batches race each other, as concurrent Lambda invocations would.
                let raws: Vec<_> = batches.iter().map(|b| raw(b)).collect();
                let results = futures::future::join_all(raws.iter().map(|r| ingest(&store, &settings, r, now()))).await;
                for outcomes in results {
                    assert!(
                        outcomes.iter().all(|o| !matches!(o, Outcome::Rejected { .. })),
                        "{outcomes:?}"
                    );
                }
                normalized(stored_state(&store, &p, &e).await, &p, &e)
            });
            prop_assert_eq!(&state, &reference);
            Ok(())
        })
        .unwrap();
}

fn rebind(event: &Value, p: &str, e: &str) -> Value {
    let mut v = event.clone();
    v["projectId"] = json!(p);
    if v["kind"] == "step" {
        v["executionId"] = json!(e);
    } else {
        v["id"] = json!(e);
    }
    v
}

#[tokio::test]
async fn expired_records_are_hidden_before_dynamodb_deletes_them() {
    let (store, settings, p) = (store().await, settings(), project("ttl"));
    let (kept, expired) = (id(), id());
    ingest(
        &store,
        &settings,
        &raw(&[execution(&p, &kept, "SUCCEEDED", &minutes_ago(2), json!({}))]),
        now(),
    )
    .await;
    // Stored with a one-day retention; read two days later, before any TTL deletion (the emulator
    // never runs TTL, and real DynamoDB deletes late).
    let short = runledger::config::Settings {
        retention_days: 1,
        ..settings.clone()
    };
    let events = vec![
        execution(&p, &expired, "SUCCEEDED", &minutes_ago(1), json!({})),
        step(&p, &expired, "s1", "SUCCEEDED", &minutes_ago(1), json!({})),
    ];
    ingest(&store, &short, &raw(&events), now()).await;
    let later = now() + chrono::Duration::days(2);
    let t = later.timestamp();
    let links = runledger::api::links::Links {
        settings: &settings,
        project: &p,
        base_url: "http://x",
    };
    assert_eq!(get::get(&store, &links, &expired, t).await.unwrap_err().status(), 404);
    assert_eq!(
        step::step(&store, &p, &expired, "s1", t).await.unwrap_err().status(),
        404
    );
    assert!(get::get(&store, &links, &kept, t).await.is_ok());
    let params = runledger::params::ListParams::parse(&[], &p, later).unwrap();
    let page = runledger::api::list::list(&store, &links, &params).await.unwrap();
    let ids: Vec<&str> = page.workflow_executions.iter().map(|x| x.id.as_str()).collect();
    assert_eq!(ids, [kept.as_str()]);
}

#[tokio::test]
async fn sharded_partitions_merge_back_into_one_ordered_listing() {
    // A hot project spread over three shards per bucket: readers fan out and merge.
    use runledger::store::AdminShards;
    let settings = settings();
    let store = store_with(&settings).await;
    let p = project("shards");
    // Sharded from long before its records.
    store.set_shards(&p, 3, 0).await.unwrap();
    let mut want: Vec<(String, String)> = Vec::new();
    let mut events = Vec::new();
    for n in 0..40 {
        let (e, t) = (id(), minutes_ago(n * 1000));
        events.push(execution(&p, &e, "SUCCEEDED", &t, json!({"integration": "jira"})));
        want.push((t, e));
    }
    ingest(&store, &settings, &raw(&events), now()).await;
    want.sort();
    for ascending in [false, true] {
        let params = runledger::params::ListParams::parse(
            &[
                ("integration".into(), "jira".into()),
                ("limit".into(), "7".into()),
                ("sortBy".into(), if ascending { "ASC" } else { "DESC" }.into()),
            ],
            &p,
            chrono::Utc::now(),
        )
        .unwrap();
        let got = list_ids(&store, &settings, &p, params).await;
        let mut expected: Vec<String> = want.iter().map(|(_, e)| e.clone()).collect();
        if !ascending {
            expected.reverse();
        }
        assert_eq!(got, expected, "ascending={ascending}");
    }
}
