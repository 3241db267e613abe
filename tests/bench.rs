//! `make bench`: DynamoDB round trips and capacity units per request, computed by the project's
//! own measurement (round trips from the SDK interceptor, capacity from item sizes by DynamoDB's
//! billing rules, since the emulator's ConsumedCapacity is not real), and ingest throughput.
//! Runs against the emulator named by AWS_ENDPOINT_URL.

use runledger::api::{http::respond, ApiRequest, Endpoint};
use runledger::capacity::{item_size, put_write_units};
use runledger::ingest::{ingest, Report};
use runledger::metrics::{take_round_trips, total_for};
use runledger::store::dynamo::Store;
use runledger::store::{GuardedPut, IngestWrites, Item, StoreError};
use runledger_tests::*;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

/// Delegates to the real store and bills every write and read it makes.
struct Billing<'a> {
    inner: &'a Store,
    last: Mutex<HashMap<(String, String), Item>>,
    table_wcu: Mutex<u64>,
    index_wcu: Mutex<u64>,
    body_wcu: Mutex<u64>,
    rcu: Mutex<f64>,
}

fn key(item: &Item) -> (String, String) {
    let s = |n: &str| item.get(n).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
    (s("pk"), s("sk"))
}

impl<'a> Billing<'a> {
    fn new(inner: &'a Store) -> Self {
        Billing {
            inner,
            last: Mutex::default(),
            table_wcu: Mutex::default(),
            index_wcu: Mutex::default(),
            body_wcu: Mutex::default(),
            rcu: Mutex::default(),
        }
    }

    fn take(&self) -> (u64, u64, u64, f64) {
        (
            std::mem::take(&mut *self.table_wcu.lock().unwrap()),
            std::mem::take(&mut *self.index_wcu.lock().unwrap()),
            std::mem::take(&mut *self.body_wcu.lock().unwrap()),
            std::mem::take(&mut *self.rcu.lock().unwrap()),
        )
    }
}

impl IngestWrites for Billing<'_> {
    async fn batch_get(&self, keys: &[(String, String)]) -> Result<Vec<Item>, StoreError> {
        let items = self.inner.batch_get(keys).await?;
        // Eventually consistent reads: half a unit per 4 KB, per item; a miss still costs half a unit.
        let units: f64 = keys
            .iter()
            .map(|k| {
                items
                    .iter()
                    .find(|i| &key(i) == k)
                    .map_or(0.5, |i| item_size(i).div_ceil(4096).max(1) as f64 * 0.5)
            })
            .sum();
        *self.rcu.lock().unwrap() += units;
        Ok(items)
    }

    async fn batch_put(&self, items: &[Item]) -> Result<(), StoreError> {
        self.inner.batch_put(items).await?;
        *self.body_wcu.lock().unwrap() += items.iter().map(|i| put_write_units(None, i, false)).sum::<u64>();
        Ok(())
    }

    async fn guarded_put(&self, put: &GuardedPut) -> Result<(), StoreError> {
        self.inner.guarded_put(put).await?;
        let k = key(&put.item);
        let mut last = self.last.lock().unwrap();
        let total = put_write_units(last.get(&k), &put.item, false);
        let table = item_size(&put.item).div_ceil(1024).max(1) as u64;
        *self.table_wcu.lock().unwrap() += table;
        *self.index_wcu.lock().unwrap() += total - table;
        last.insert(k, put.item.clone());
        Ok(())
    }

    async fn put_object(&self, key: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        self.inner.put_object(key, bytes).await
    }
}

fn kib_body(seed: u64) -> Value {
    let mut x = seed;
    let text: String = (0..1000)
        .map(|_| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            char::from(b'a' + ((x >> 33) % 26) as u8)
        })
        .collect();
    json!({ "t": text })
}

fn lifecycle(p: &str, e: &str) -> Vec<(&'static str, Value)> {
    let t0 = minutes_ago(60);
    let mut events = vec![(
        "start",
        execution(
            p,
            e,
            "RUNNING",
            &t0,
            json!({"userId": "u1", "integration": "salesforce", "triggerType": "webhook",
                                               "traceId": "t1", "workflowName": "Sync leads", "input": kib_body(1)}),
        ),
    )];
    for n in 0..5u64 {
        events.push((
            "step",
            step(
                p,
                e,
                &format!("step-{n}"),
                "SUCCEEDED",
                &minutes_ago(59),
                json!({"dateEnded": minutes_ago(58),
                 "stepType": "http", "input": kib_body(10 + n), "output": kib_body(20 + n)}),
            ),
        ));
    }
    events.push((
        "end",
        execution(
            p,
            e,
            "SUCCEEDED",
            &t0,
            json!({"dateEnded": minutes_ago(50), "taskCount": 5, "output": kib_body(2)}),
        ),
    ));
    events
}

#[tokio::main]
async fn main() {
    let (store, settings) = (store().await, settings());
    let billing = Billing::new(&store);
    let now = chrono::Utc::now;

    println!("== ingest: one execution lifecycle, start + 5 steps + end, 1 KB bodies, one event per invocation ==");
    println!(
        "{:<8} {:>10} {:>10} {:>10} {:>10} {:>8}",
        "event", "table WCU", "index WCU", "body WCU", "read RCU", "calls"
    );
    let (p, e) = (project("bench"), id());
    let mut sums = (0u64, 0u64, 0u64, 0f64, 0u64);
    take_round_trips();
    for (name, ev) in lifecycle(&p, &e) {
        let outcomes = ingest(&billing, &settings, &raw(&[ev]), now()).await;
        assert_eq!(Report::from_outcomes(&outcomes).accepted, 1);
        let (t, i, b, r) = billing.take();
        let calls = total_for(&take_round_trips(), "DynamoDB");
        println!("{name:<8} {t:>10} {i:>10} {b:>10} {r:>10.1} {calls:>8}");
        sums = (sums.0 + t, sums.1 + i, sums.2 + b, sums.3 + r, sums.4 + calls);
    }
    let total = sums.0 + sums.1 + sums.2;
    println!(
        "{:<8} {:>10} {:>10} {:>10} {:>10.1} {:>8}",
        "total", sums.0, sums.1, sums.2, sums.3, sums.4
    );
    println!(
        "write units per lifecycle: {total} (table {}, listing indexes {}, bodies {})",
        sums.0, sums.1, sums.2
    );

    let (p2, e2) = (project("bench"), id());
    let events: Vec<Value> = lifecycle(&p2, &e2).into_iter().map(|(_, v)| v).collect();
    ingest(&billing, &settings, &raw(&events), now()).await;
    let (t, i, b, r) = billing.take();
    let calls = total_for(&take_round_trips(), "DynamoDB");
    println!("same lifecycle in one envelope: {} write units (table {t}, indexes {i}, bodies {b}), {r:.1} read units, {calls} DynamoDB calls", t + i + b);

    println!();
    println!("== reads: DynamoDB round trips per request ==");
    let p3 = project("bench");
    let mut seed_events = Vec::new();
    let mut first = String::new();
    for n in 0..300 {
        let e = id();
        if n == 0 {
            first = e.clone();
        }
        seed_events.push(execution(
            &p3,
            &e,
            "SUCCEEDED",
            &minutes_ago(n * 7 + 1),
            json!({"integration": if n % 2 == 0 {"salesforce"} else {"slack"}, "input": {"n": n}}),
        ));
        seed_events.push(step(
            &p3,
            &e,
            "s1",
            "SUCCEEDED",
            &minutes_ago(n * 7 + 1),
            json!({"output": {"n": n}}),
        ));
    }
    for chunk in seed_events.chunks(500) {
        ingest(&store, &settings, &raw(chunk), now()).await;
    }
    let key = create_key(&p3).await;
    runledger::api::auth::clear_cache();
    let request = |path: String, query: &[(&str, &str)]| ApiRequest {
        method: "GET".into(),
        path,
        query: query.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        authorization: Some(format!("Bearer {key}")),
        base_url: "http://127.0.0.1:9000".into(),
        request_id: "bench".into(),
    };
    let list_path = format!("/v1/projects/{p3}/workflow-executions");
    let cases: Vec<(&str, Endpoint, ApiRequest)> = vec![
        (
            "list page (cold key)",
            Endpoint::List,
            request(list_path.clone(), &[("integration", "salesforce"), ("limit", "100")]),
        ),
        (
            "list page, 1 filter + dates",
            Endpoint::List,
            request(
                list_path.clone(),
                &[
                    ("integration", "salesforce"),
                    ("afterDate", &minutes_ago(1440 * 2)),
                    ("limit", "100"),
                ],
            ),
        ),
        (
            "list page, 2 integrations",
            Endpoint::List,
            request(
                list_path.clone(),
                &[("integration", "salesforce,slack"), ("limit", "100")],
            ),
        ),
        (
            "list page, no filter",
            Endpoint::List,
            request(list_path.clone(), &[("limit", "100")]),
        ),
        (
            "get with steps",
            Endpoint::Get,
            request(format!("{list_path}/{first}"), &[]),
        ),
        (
            "step detail",
            Endpoint::Step,
            request(format!("{list_path}/{first}/step-executions/s1"), &[]),
        ),
    ];
    take_round_trips();
    for (name, endpoint, req) in cases {
        let started = std::time::Instant::now();
        let resp = respond(&settings, &store, endpoint, &req, now()).await;
        let elapsed = started.elapsed();
        let calls: BTreeMap<String, u64> = take_round_trips();
        println!(
            "{name:<30} status {} {:>3} DynamoDB calls {:?} ({:.1} ms against the emulator)",
            resp.status,
            total_for(&calls, "DynamoDB"),
            calls,
            elapsed.as_secs_f64() * 1000.0
        );
    }

    println!();
    println!("== ingest throughput (in-process against the emulator; bound by the emulator) ==");
    let p4 = project("bench");
    let mut events = Vec::new();
    for _ in 0..400 {
        let e = id();
        events.push(execution(
            &p4,
            &e,
            "RUNNING",
            &minutes_ago(30),
            json!({"input": {"a": 1}}),
        ));
        events.push(step(
            &p4,
            &e,
            "s1",
            "SUCCEEDED",
            &minutes_ago(30),
            json!({"output": {"b": 2}}),
        ));
        events.push(execution(
            &p4,
            &e,
            "SUCCEEDED",
            &minutes_ago(30),
            json!({"dateEnded": minutes_ago(29)}),
        ));
    }
    let started = std::time::Instant::now();
    take_round_trips();
    for chunk in events.chunks(500) {
        let report = Report::from_outcomes(&ingest(&store, &settings, &raw(chunk), now()).await);
        assert!(report.rejected.is_empty());
    }
    let secs = started.elapsed().as_secs_f64();
    let calls = take_round_trips();
    println!(
        "{} events in {:.2} s: {:.0} events/s, {} DynamoDB calls ({:.2} per event)",
        events.len(),
        secs,
        events.len() as f64 / secs,
        total_for(&calls, "DynamoDB"),
        total_for(&calls, "DynamoDB") as f64 / events.len() as f64
    );
}
