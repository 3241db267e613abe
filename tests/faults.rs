//! Fault test: thousands of events ingested while DynamoDB and S3 answer a good share of calls with
//! throttling, 500s, cancelled transactions, unprocessed keys and lost responses (the proxy in
//! scripts/fault_proxy.py). A producer resends what was reported failed; afterwards every execution
//! is stored exactly once, complete.

use futures::StreamExt;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use runledger::api::get;
use runledger::ingest::{ingest, Outcome};
use runledger::params::ListParams;
use runledger_tests::*;
use serde_json::{json, Value};
use std::collections::HashSet;

const EXECUTIONS: usize = 500;
const ENVELOPE: usize = 200;

fn noise(seed: u64, len: usize) -> String {
    let mut x = seed;
    (0..len)
        .map(|_| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            char::from(b'a' + ((x >> 33) % 26) as u8)
        })
        .collect()
}

fn lifecycle(p: &str, e: &str, n: usize) -> Vec<Value> {
    let t0 = minutes_ago(600 - n as i64);
    // Every tenth execution has an output too large to stay inline, so S3 faults matter too.
    let output = if n.is_multiple_of(10) {
        json!({"blob": noise(n as u64, 20_000)})
    } else {
        json!({"n": n})
    };
    vec![
        execution(
            p,
            e,
            "RUNNING",
            &t0,
            json!({"integration": "slack", "input": {"payload": noise(n as u64 + 1, 1000)}}),
        ),
        step(p, e, "s1", "RUNNING", &t0, json!({"input": {"i": 1}})),
        step(
            p,
            e,
            "s1",
            "SUCCEEDED",
            &t0,
            json!({"dateEnded": minutes_ago(590 - n as i64), "output": {"o": 1}}),
        ),
        step(p, e, "s2", "RUNNING", &t0, json!({})),
        step(p, e, "s2", "SUCCEEDED", &t0, json!({"output": {"o": 2}})),
        execution(
            p,
            e,
            "SUCCEEDED",
            &t0,
            json!({"dateEnded": minutes_ago(580 - n as i64), "taskCount": 2, "output": output}),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_is_stored_exactly_once_despite_faults() {
    let proxy = FaultProxy::start(0.3, 7);
    let (faulty, direct, settings, p) = (
        store_via(&proxy.url).await,
        store().await,
        settings(),
        project("faults"),
    );
    let ids: Vec<String> = (0..EXECUTIONS).map(|_| id()).collect();
    let mut events: Vec<Value> = ids.iter().enumerate().flat_map(|(n, e)| lifecycle(&p, e, n)).collect();
    events.shuffle(&mut rand::rngs::StdRng::seed_from_u64(3));
    assert!(events.len() >= 3000);

    let started = std::time::Instant::now();
    let mut rounds = 0;
    let mut pending = events.clone();
    while !pending.is_empty() {
        rounds += 1;
        assert!(rounds <= 10, "{} events still failing after 10 rounds", pending.len());
        let batches: Vec<Vec<Value>> = pending.chunks(ENVELOPE).map(<[Value]>::to_vec).collect();
        let raws: Vec<_> = batches.iter().map(|b| raw(b)).collect();
        // Two invocations at a time, as two concurrent Lambda instances would.
        let mut failed = Vec::new();
        for pair in raws.chunks(2).zip(batches.chunks(2)) {
            let results =
                futures::future::join_all(pair.0.iter().map(|r| ingest(&faulty, &settings, r, chrono::Utc::now())))
                    .await;
            for (outcomes, batch) in results.iter().zip(pair.1) {
                for (o, ev) in outcomes.iter().zip(batch) {
                    match o {
                        Outcome::Rejected { code, .. } => {
                            assert_eq!(*code, "unavailable", "only transient failures are expected: {o:?}");
                            failed.push(ev.clone());
                        }
                        Outcome::Accepted | Outcome::Duplicate => {}
                        Outcome::Noted { .. } => panic!("no event of this test conflicts: {o:?}"),
                    }
                }
            }
        }
        eprintln!(
            "round {rounds}: {} events sent, {} failed, {:?} elapsed",
            pending.len(),
            failed.len(),
            started.elapsed()
        );
        pending = failed;
    }

    eprintln!("ingest done after {rounds} rounds in {:?}", started.elapsed());
    let injected = proxy.injected().await;
    for kind in ["throttle", "500", "lost-response", "unprocessed-keys", "s3-error"] {
        assert!(
            injected[kind].as_u64().unwrap_or(0) > 0,
            "no {kind} fault was injected: {injected}"
        );
    }

    // Listing the project returns every execution exactly once.
    let params = ListParams::parse(
        &[
            ("limit".to_string(), "1000".to_string()),
            ("integration".to_string(), "slack".to_string()),
        ],
        &p,
        chrono::Utc::now(),
    )
    .unwrap();
    let seen = list_ids(&direct, &settings, &p, params).await;
    assert_eq!(seen.len(), EXECUTIONS, "each execution listed once");
    assert_eq!(seen.iter().collect::<HashSet<_>>(), ids.iter().collect::<HashSet<_>>());

    // And each one is complete: final status, both steps, every body.
    let checks = ids.iter().enumerate().map(|(n, e)| {
        let (direct, p, settings) = (&direct, &p, &settings);
        async move {
            let links = runledger::api::links::Links {
                settings,
                project: p,
                base_url: "http://x",
            };
            let got = serde_json::to_value(
                get::get(direct, &links, e, chrono::Utc::now().timestamp())
                    .await
                    .unwrap(),
            )
            .unwrap();
            assert_eq!(got["status"], "SUCCEEDED", "{e}");
            assert_eq!(got["taskCount"], 2);
            assert_eq!(got["input"]["payload"].as_str().map(str::len), Some(1000));
            if n.is_multiple_of(10) {
                assert!(
                    got["output"]["$ref"]["url"].is_string(),
                    "large output offloaded: {}",
                    got["output"]
                );
            } else {
                assert_eq!(got["output"], json!({"n": n}));
            }
            let steps: Vec<(String, String)> = got["steps"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| {
                    (
                        s["id"].as_str().unwrap().to_string(),
                        s["status"].as_str().unwrap().to_string(),
                    )
                })
                .collect();
            assert_eq!(
                steps,
                [
                    ("s1".to_string(), "SUCCEEDED".to_string()),
                    ("s2".to_string(), "SUCCEEDED".to_string())
                ]
            );
        }
    });
    futures::stream::iter(checks)
        .buffer_unordered(8)
        .collect::<Vec<()>>()
        .await;
}
