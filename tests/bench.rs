//! `make bench`: DynamoDB round trips and capacity units per request and per ingested lifecycle,
//! measured through the store's metered backend (capacity from item sizes by DynamoDB's billing
//! rules, since the emulator's ConsumedCapacity is not real), each next to its floor (the same work
//! on items holding nothing but their values) and its target. Runs against the emulator named by
//! AWS_ENDPOINT_URL, with 36-character ids and 1 KB bodies.

use runledger::api::http::Service;
use runledger::api::{auth, ApiRequest, Endpoint};
use runledger::ingest::{ingest, Report};
use runledger::metrics::{take_round_trips, total_for};
use runledger::store::capacity::Usage;
use runledger::store::MeteredStore;
use runledger_tests::*;
use serde_json::{json, Value};

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

/// start + 5 steps + end; every id 36 characters.
fn lifecycle(p: &str, e: &str) -> Vec<(&'static str, Value)> {
    let t0 = minutes_ago(60);
    let workflow = id();
    let mut events = vec![(
        "start",
        execution(
            p,
            e,
            "RUNNING",
            &t0,
            json!({"workflowId": workflow, "userId": id(), "integration": "salesforce", "triggerType": "webhook",
                   "traceId": id(), "workflowName": "Sync leads", "input": kib_body(1)}),
        ),
    )];
    for n in 0..5u64 {
        events.push((
            "step",
            step(
                p,
                e,
                &id(),
                "SUCCEEDED",
                &minutes_ago(59),
                json!({"dateEnded": minutes_ago(58), "stepName": "Fetch lead", "stepType": "http",
                       "input": kib_body(10 + n), "output": kib_body(20 + n)}),
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
            json!({"workflowId": workflow, "dateEnded": minutes_ago(50), "taskCount": 5, "output": kib_body(2)}),
        ),
    ));
    events
}

fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "NOT MET"
    }
}

fn target_line(name: &str, target: &str, measured: String, floor: String, met: bool) {
    println!(
        "target {name:<44} {target:>8}   measured {measured:>6}   floor {floor:>6}   {}",
        verdict(met)
    );
}

#[tokio::main]
async fn main() {
    let settings = settings();
    let clients = runledger::aws::clients(&settings).await;
    let store = MeteredStore::metered(&clients, &settings);
    let meter = || store.backend.take();
    let now = chrono::Utc::now;
    let mut all_met = true;

    println!("== ingest: one execution lifecycle, start + 5 steps + end, 36-character ids, 1 KB bodies ==");
    println!(
        "{:<6} {:>9} {:>9} {:>10} {:>9} {:>6}",
        "event", "table WCU", "index WCU", "floor WCU", "read RCU", "calls"
    );
    let (p, e) = (id(), id());
    meter();
    take_round_trips();
    let mut sum = Usage::default();
    for (name, ev) in lifecycle(&p, &e) {
        let outcomes = ingest(&store, &settings, &raw(&[ev]), now()).await;
        assert_eq!(Report::from_outcomes(&outcomes).accepted, 1, "{outcomes:?}");
        let u = meter();
        let calls = total_for(&take_round_trips(), "DynamoDB");
        println!(
            "{name:<6} {:>9} {:>9} {:>10} {:>9.1} {calls:>6}",
            u.table_wcu,
            u.index_wcu,
            u.floor_table_wcu + u.floor_index_wcu,
            u.rcu
        );
        sum.table_wcu += u.table_wcu;
        sum.index_wcu += u.index_wcu;
        sum.floor_table_wcu += u.floor_table_wcu;
        sum.floor_index_wcu += u.floor_index_wcu;
        sum.rcu += u.rcu;
    }
    let total = sum.table_wcu + sum.index_wcu;
    let floor = sum.floor_table_wcu + sum.floor_index_wcu;
    println!(
        "total  {:>9} {:>9} {floor:>10} {:>9.1}",
        sum.table_wcu, sum.index_wcu, sum.rcu
    );
    let met = total <= 28;
    all_met &= met;
    target_line(
        "lifecycle write units, one event per call",
        "<= 28",
        total.to_string(),
        floor.to_string(),
        met,
    );

    let (p2, e2) = (id(), id());
    let events: Vec<Value> = lifecycle(&p2, &e2).into_iter().map(|(_, v)| v).collect();
    ingest(&store, &settings, &raw(&events), now()).await;
    let u = meter();
    let calls = total_for(&take_round_trips(), "DynamoDB");
    println!(
        "same lifecycle in one envelope: {} write units (table {}, indexes {}; floor {}), {:.1} read units, {calls} DynamoDB calls",
        u.table_wcu + u.index_wcu,
        u.table_wcu,
        u.index_wcu,
        u.floor_table_wcu + u.floor_index_wcu,
        u.rcu
    );

    println!();
    println!("== reads: 300 executions with one step each, 36-character ids ==");
    let p3 = id();
    let (workflow, user) = (id(), id());
    let mut seed_events = Vec::new();
    let mut first = (String::new(), String::new());
    for n in 0..300 {
        let (e, s) = (id(), id());
        if n == 0 {
            first = (e.clone(), s.clone());
        }
        let status = if n % 10 == 3 { "FAILED" } else { "SUCCEEDED" };
        let mut extra = json!({"workflowId": workflow, "userId": user, "traceId": id(), "triggerType": "webhook",
                               "workflowName": "Sync leads", "taskCount": 1, "dateEnded": minutes_ago(n * 7),
                               "integration": if n % 2 == 0 {"salesforce"} else {"slack"}, "input": kib_body(n as u64)});
        if status == "FAILED" {
            extra["error"] = json!({"code": "RATE_LIMITED", "message": "Upstream API rate limit exceeded"});
        }
        seed_events.push(execution(&p3, &e, status, &minutes_ago(n * 7 + 1), extra));
        seed_events.push(step(
            &p3,
            &e,
            &s,
            "SUCCEEDED",
            &minutes_ago(n * 7 + 1),
            json!({"stepName": "Fetch lead", "output": kib_body(1000 + n as u64)}),
        ));
    }
    for chunk in seed_events.chunks(500) {
        ingest(&store, &settings, &raw(chunk), now()).await;
    }
    let key = create_key(&p3).await;
    auth::clear_cache();
    let request = |path: String, query: &[(&str, &str)]| ApiRequest {
        method: "GET".into(),
        path,
        query: query.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        authorization: Some(format!("Bearer {key}")),
        base_url: "http://127.0.0.1:9000".into(),
        request_id: "bench".into(),
    };
    let list_path = format!("/v1/projects/{p3}/workflow-executions");
    let get_path = format!("{list_path}/{}", first.0);
    let cases: Vec<(&str, Endpoint, ApiRequest)> = vec![
        (
            "list page (key not cached)",
            Endpoint::List,
            request(list_path.clone(), &[("integration", "salesforce"), ("limit", "100")]),
        ),
        (
            "list page, 1 filter, 100 items",
            Endpoint::List,
            request(list_path.clone(), &[("integration", "salesforce"), ("limit", "100")]),
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
            "list page, workflowId + status=FAILED",
            Endpoint::List,
            request(
                list_path.clone(),
                &[("workflowId", &workflow), ("status", "FAILED"), ("limit", "100")],
            ),
        ),
        (
            "list page, triggerType (project index)",
            Endpoint::List,
            request(list_path.clone(), &[("triggerType", "webhook"), ("limit", "100")]),
        ),
        (
            "list page, 1 filter + count=true",
            Endpoint::List,
            request(
                list_path.clone(),
                &[("integration", "salesforce"), ("limit", "100"), ("count", "true")],
            ),
        ),
        ("get with steps", Endpoint::Get, request(get_path.clone(), &[])),
        (
            "steps page",
            Endpoint::Steps,
            request(format!("{get_path}/step-executions"), &[]),
        ),
        (
            "step detail",
            Endpoint::Step,
            request(format!("{get_path}/step-executions/{}", first.1), &[]),
        ),
    ];
    println!(
        "{:<40} {:>6} {:>6} {:>8} {:>9} {:>9} {:>8}",
        "request", "status", "calls", "RCU", "floor RCU", "KB read", "items"
    );
    meter();
    take_round_trips();
    for (name, endpoint, req) in cases {
        let resp = Service {
            settings: &settings,
            store: &store,
        }
        .respond(endpoint, &req, now())
        .await;
        let u = meter();
        let calls = total_for(&take_round_trips(), "DynamoDB");
        let body: Value = serde_json::from_str(&resp.body).unwrap_or(Value::Null);
        let items = ["workflowExecutions", "stepExecutions", "steps"]
            .iter()
            .find_map(|k| body[k].as_array().map(Vec::len))
            .unwrap_or(1);
        println!(
            "{name:<40} {:>6} {calls:>6} {:>8.1} {:>9.1} {:>9.1} {items:>8}",
            resp.status,
            u.rcu,
            u.floor_rcu,
            u.bytes_read as f64 / 1024.0
        );
        assert_eq!(resp.status, 200, "{name}: {}", resp.body);
        match name {
            "list page, 1 filter, 100 items" => {
                let met = calls == 1 && u.rcu <= 7.0 && items == 100;
                all_met &= met;
                target_line(
                    "100-item page, one filter: one Query",
                    "1 call",
                    calls.to_string(),
                    "1".into(),
                    calls == 1,
                );
                target_line(
                    "100-item page, one filter: read units",
                    "<= 7",
                    format!("{:.1}", u.rcu),
                    format!("{:.1}", u.floor_rcu),
                    met,
                );
            }
            "get with steps" | "step detail" => {
                let met = calls == 1;
                all_met &= met;
                target_line(
                    &format!("{name}: DynamoDB calls"),
                    "1",
                    calls.to_string(),
                    "1".into(),
                    met,
                );
            }
            _ => {}
        }
    }
    println!();
    println!(
        "every target of this section {}",
        if all_met { "met" } else { "NOT met (see above)" }
    );
}
