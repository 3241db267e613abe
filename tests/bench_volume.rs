//! `make bench`, volume section: the request paths against the volume stack's table (make load:
//! DynamoDB Local, kept on disk), each the median of several calls, with its DynamoDB calls, the
//! entries its Queries examined, and the read units the store computes next to those DynamoDB
//! Local reports. Run by scripts/bench with the volume stack's environment, its project and key.
//!
//! Usage: bench_volume <project> <executions loaded>   (RUNLEDGER_VOLUME_KEY: an API key of it)

use runledger::api::http::Service;
use runledger::api::process::Process;
use runledger::api::{ApiRequest, Endpoint};
use runledger::metrics::total_for;
use runledger::store::MeteredStore;
use runledger_tests::volume::{shape, stable_id, EXECUTION, TRACE};
use runledger_tests::*;
use serde_json::Value;
use std::time::Instant;

const RUNS: usize = 9;
const TARGET_MS: f64 = 200.0;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(project), Some(loaded)) = (args.first(), args.get(1).and_then(|n| n.parse::<u64>().ok())) else {
        eprintln!("usage: bench_volume <project> <executions loaded>");
        std::process::exit(2);
    };
    let key = require_env("RUNLEDGER_VOLUME_KEY");
    let settings = settings();
    let clients = runledger::aws::clients(&settings).await;
    let store = MeteredStore::metered(&clients, &settings);
    let process = Process::new(clients.metrics.clone());
    let metrics = &process.metrics;

    // An execution with an event log and trace (every third has one), and its workflow's failures.
    let n = 3 * (loaded / 6);
    let execution = stable_id(project, EXECUTION, n);
    let trace = stable_id(project, TRACE, n);
    let base = format!("/v1/projects/{project}/workflow-executions");
    let request = |path: String, query: Vec<(&str, String)>| ApiRequest {
        method: "GET".into(),
        path,
        query: query.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        authorization: Some(format!("Bearer {key}")),
        base_url: "http://127.0.0.1:9200".into(),
        request_id: "bench-volume".into(),
    };
    // The workflow as stored (a table loaded before the end event named it holds one workflowId).
    let service = Service {
        settings: &settings,
        store: &store,
        process: &process,
    };
    let stored = service
        .respond(
            Endpoint::Get,
            &request(format!("{base}/{execution}"), vec![]),
            chrono::Utc::now(),
        )
        .await;
    let stored: Value = serde_json::from_str(&stored.body).unwrap_or(Value::Null);
    let workflow = stored["workflowId"]
        .as_str()
        .map_or_else(|| shape(n).workflow, str::to_string);
    let thirty_days_ago = runledger::dates::format(chrono::Utc::now() - chrono::Duration::days(30));
    let cases: Vec<(String, Endpoint, ApiRequest)> = vec![
        (
            "default list page (100)".into(),
            Endpoint::List,
            request(base.clone(), vec![]),
        ),
        (
            format!("workflowId={workflow} + status=FAILED, limit 10"),
            Endpoint::List,
            request(
                base.clone(),
                vec![
                    ("workflowId", workflow.clone()),
                    ("status", "FAILED".into()),
                    ("limit", "10".into()),
                ],
            ),
        ),
        (
            "get with steps".into(),
            Endpoint::Get,
            request(format!("{base}/{execution}"), vec![]),
        ),
        (
            "step detail".into(),
            Endpoint::Step,
            request(format!("{base}/{execution}/step-executions/step-1"), vec![]),
        ),
        (
            "trace".into(),
            Endpoint::Trace,
            request(format!("/v1/projects/{project}/traces/{trace}"), vec![]),
        ),
        (
            "stats, 30 days by day".into(),
            Endpoint::Stats,
            request(
                format!("/v1/projects/{project}/stats"),
                vec![("afterDate", thirty_days_ago.clone()), ("interval", "day".into())],
            ),
        ),
    ];

    println!("== volume: project {project} holding {loaded} executions (make load), DynamoDB Local on disk ==");
    println!(
        "{:<52} {:>6} {:>9} {:>6} {:>8} {:>9} {:>9} {:>9}  target",
        "request", "status", "median ms", "calls", "examined", "RCU", "DDB-L RCU", "items"
    );
    let mut all_met = true;
    for (name, endpoint, req) in &cases {
        // One call first: the key lookup is cached after it, as in a warm function.
        let _ = service.respond(*endpoint, req, chrono::Utc::now()).await;
        store.backend.take();
        metrics.take_round_trips();
        metrics.take_consumed();
        let mut times = Vec::new();
        let mut last = (0u16, Value::Null);
        for _ in 0..RUNS {
            let t = Instant::now();
            // In the metrics' scope: the capacity DynamoDB reports is counted in them.
            let resp = metrics.scope(service.respond(*endpoint, req, chrono::Utc::now())).await;
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            last = (resp.status, serde_json::from_str(&resp.body).unwrap_or(Value::Null));
        }
        let u = store.backend.take();
        let calls = total_for(&metrics.take_round_trips(), "DynamoDB") as f64 / RUNS as f64;
        let consumed = metrics.take_consumed() / RUNS as f64;
        let (examined, rcu) = (u.examined as f64 / RUNS as f64, u.rcu / RUNS as f64);
        let body = &last.1;
        let items = ["workflowExecutions", "eventLogs", "steps", "buckets"]
            .iter()
            .map(|k| body[k].as_array().map_or(0, Vec::len))
            .sum::<usize>()
            .max(usize::from(last.0 == 200 && body["id"].is_string()));
        let ms = median(times);
        let met = last.0 == 200 && ms < TARGET_MS;
        all_met &= met;
        println!(
            "{name:<52} {:>6} {ms:>9.1} {calls:>6.1} {examined:>8.0} {rcu:>9.1} {consumed:>9.1} {items:>9}  < {TARGET_MS} ms {}",
            last.0,
            if met { "met" } else { "NOT MET" }
        );
        if name.starts_with("workflowId") {
            // One Query per 1,000 entries examined, plus one per partition read, at least.
            let partitions = 1.0;
            let floor = examined / 1000.0 + partitions;
            let queries_met = calls <= floor + 1.0;
            all_met &= queries_met;
            println!(
                "{:<52} {:>6} {:>9} {calls:>6.1} {examined:>8.0}   floor {floor:.2} Queries ({} entries / 1,000 + 1 partition), target <= floor + 1  {}",
                "  its Queries",
                "",
                "",
                examined.round(),
                if queries_met { "met" } else { "NOT MET" }
            );
            let failed = body["workflowExecutions"]
                .as_array()
                .is_some_and(|a| !a.is_empty() && a.iter().all(|x| x["status"] == "FAILED"));
            assert!(failed, "the page holds the workflow's failures: {body}");
        }
    }
    println!(
        "every target of the volume section {}",
        if all_met { "met" } else { "NOT met (see above)" }
    );
}
