//! A project's listing shards raised and lowered in the middle of its data: every read path
//! (list, get, totals, stats, traces, exports) still returns each record exactly once. Records are
//! dated by the real clock, as the epochs are: a new epoch begins `LEAD_MS` after it is set.

use chrono::{DateTime, Duration, Utc};
use runledger::api::http::Service;
use runledger::api::process::Process;
use runledger::api::{ApiRequest, Endpoint};
use runledger::apikeys::KeyAdmin;
use runledger::config::Settings;
use runledger::export::{export, ExportRequest};
use runledger::ingest::{ingest, Outcome};
use runledger::store::{AdminShards, MemoryStore, StoreConfig, LEAD_MS};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

const P: &str = "hot";

struct World {
    store: MemoryStore,
    process: Process,
    settings: Settings,
    /// The clock of the run: records are dated around it.
    t0: DateTime<Utc>,
    fed: usize,
    /// What was loaded: each execution's last status and start, and every log id.
    executions: BTreeMap<String, (String, String)>,
    logs: BTreeSet<String>,
}

impl World {
    async fn load(&mut self, events: &[Value]) {
        for e in events {
            let id = e["id"].as_str().unwrap().to_string();
            if e["kind"] == "log" {
                self.logs.insert(id);
            } else {
                let started = e["dateStarted"].as_str().unwrap().to_string();
                self.executions
                    .insert(id, (e["status"].as_str().unwrap().to_string(), started));
            }
        }
        let raw: Vec<Box<serde_json::value::RawValue>> = events
            .iter()
            .map(|e| serde_json::value::RawValue::from_string(e.to_string()).unwrap())
            .collect();
        let outcomes = ingest(&self.store, &self.settings, &raw, self.t0).await;
        assert!(outcomes.iter().all(|o| *o == Outcome::Accepted), "{outcomes:?}");
    }

    /// Feeds the table's stream to the stats consumer so far.
    async fn feed(&mut self) {
        let records = self.store.backend.stream_records(self.fed);
        for chunk in records.chunks(25) {
            let event: runledger::streams::StreamEvent =
                serde_json::from_value(json!({"Records": chunk, "shardId": "shardId-0001"})).unwrap();
            let (response, summary) = runledger::stats::feed::count_batch(&self.store, &event).await;
            assert!(response.batch_item_failures.is_empty(), "{summary:?}");
        }
        self.fed += records.len();
    }

    /// A read a day after the run, when every record is in the past.
    async fn call(&self, endpoint: Endpoint, path: &str, query: &[(&str, &str)], key: &str) -> Value {
        let path = format!("/v1/projects/{P}{path}");
        let req = ApiRequest {
            method: "GET".into(),
            path: path.clone(),
            query: query.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            authorization: Some(format!("Bearer {key}")),
            base_url: "http://127.0.0.1:9000".into(),
            request_id: "r1".into(),
        };
        let service = Service {
            settings: &self.settings,
            store: &self.store,
            process: &self.process,
        };
        let r = service.respond(endpoint, &req, self.t0 + Duration::days(1)).await;
        assert_eq!(r.status, 200, "{path} {query:?}: {}", r.body);
        serde_json::from_str(&r.body).unwrap()
    }

    /// Every id of a listing, page by page.
    async fn page_ids(
        &self,
        endpoint: Endpoint,
        path: &str,
        list: &str,
        query: &[(&str, &str)],
        key: &str,
    ) -> Vec<String> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut q = query.to_vec();
            if let Some(c) = &cursor {
                q.push(("cursor", c));
            }
            let page = self.call(endpoint, path, &q, key).await;
            out.extend(
                page[list]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x["id"].as_str().unwrap().to_string()),
            );
            match page["nextCursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => return out,
            }
        }
    }
}

fn at(t: DateTime<Utc>) -> String {
    runledger::dates::format(t)
}

fn execution(id: &str, started: DateTime<Utc>, status: &str, n: usize) -> Value {
    let mut e = json!({"kind": "execution", "projectId": P, "id": id, "workflowId": "wf",
        "status": status, "dateStarted": at(started),
        "integration": if n.is_multiple_of(2) { "sf" } else { "slack" }, "userId": format!("u{}", n % 3)});
    if n.is_multiple_of(3) {
        e["traceId"] = json!("tr-1");
    }
    if status != "RUNNING" {
        e["dateEnded"] = json!(at(started + Duration::seconds(30)));
        e["runDuration"] = json!(30_000);
    }
    e
}

fn log(id: &str, t: DateTime<Utc>) -> Value {
    json!({"kind": "log", "projectId": P, "id": id, "timestamp": at(t), "level": "INFO",
           "type": "WEBHOOK_TRIGGER", "message": "received", "traceId": "tr-1"})
}

#[tokio::test]
async fn raising_and_lowering_shards_mid_data_hides_no_record_and_repeats_none() {
    let t0 = Utc::now();
    let mut w = World {
        store: MemoryStore::memory(StoreConfig { retention_days: 90 }),
        process: Process::default(),
        settings: Settings::defaults(),
        t0,
        fed: 0,
        executions: BTreeMap::new(),
        logs: BTreeSet::new(),
    };
    let key = KeyAdmin { store: &w.store }.create(P, "test", 0).await.unwrap().token;
    let batch = |from: usize, count: usize, start: DateTime<Utc>, step: Duration, status: &str| -> Vec<Value> {
        (from..from + count)
            .map(|n| execution(&format!("e{n:03}"), start + step * (n - from) as i32, status, n))
            .collect()
    };
    let logs = |prefix: &str, start: DateTime<Utc>| -> Vec<Value> {
        (0..6)
            .map(|n| log(&format!("l-{prefix}{n}"), start + Duration::minutes(n)))
            .collect()
    };

    // One shard: records of the last hours, started and still running.
    let a = batch(0, 24, t0 - Duration::hours(3), Duration::minutes(5), "RUNNING");
    w.load(&a).await;
    w.load(&logs("a", t0 - Duration::minutes(40))).await;
    w.feed().await;

    // Raised to 8: this process's copy of the layout is now stale, as every writer's would be.
    let raised = w.store.set_shards(P, 8, t0.timestamp_millis()).await.unwrap();
    assert_eq!(raised.epochs.len(), 1);
    assert!(raised.epochs[0].from_ms >= t0.timestamp_millis() + LEAD_MS);

    // Dated after the epoch begins (ahead of the clock, as producers' clocks may be): written by
    // the stale copy's owner, they must land in the new layout all the same.
    let b_start = t0 + Duration::minutes(6);
    w.load(&batch(24, 24, b_start, Duration::minutes(4), "SUCCEEDED")).await;
    // Before the epoch: still one shard, though written after the raise.
    w.load(&batch(
        48,
        6,
        t0 - Duration::minutes(1),
        Duration::seconds(10),
        "SUCCEEDED",
    ))
    .await;
    // The first executions end now: their entries move between status partitions of their own
    // (one-shard) epoch.
    w.load(&batch(
        0,
        24,
        t0 - Duration::hours(3),
        Duration::minutes(5),
        "SUCCEEDED",
    ))
    .await;
    w.load(&logs("b", t0 + Duration::minutes(10))).await;

    // Lowered to 3: it begins after every record a writer has registered ahead of the clock.
    let lowered = w.store.set_shards(P, 3, t0.timestamp_millis()).await.unwrap();
    let latest_b = b_start + Duration::minutes(4) * 23;
    assert!(lowered.epochs[1].from_ms > latest_b.timestamp_millis(), "{lowered:?}");
    w.load(&batch(
        54,
        12,
        latest_b + Duration::minutes(30),
        Duration::minutes(20),
        "FAILED",
    ))
    .await;
    // A backfill far in the past follows the epoch of its own time: one shard.
    w.load(&batch(66, 8, t0 - Duration::days(3), Duration::minutes(7), "SUCCEEDED"))
        .await;
    w.feed().await;

    let all: BTreeSet<String> = w.executions.keys().cloned().collect();
    assert_eq!(all.len(), 74);
    // Newest first: by start, then id descending.
    let mut newest_first: Vec<(String, String)> = w
        .executions
        .iter()
        .map(|(id, (_, started))| (started.clone(), id.clone()))
        .collect();
    newest_first.sort();
    newest_first.reverse();
    let newest_first: Vec<String> = newest_first.into_iter().map(|(_, id)| id).collect();
    for order in ["DESC", "ASC"] {
        let got = w
            .page_ids(
                Endpoint::List,
                "/workflow-executions",
                "workflowExecutions",
                &[("limit", "7"), ("sortBy", order)],
                &key,
            )
            .await;
        let mut want = newest_first.clone();
        if order == "ASC" {
            want.reverse();
        }
        assert_eq!(got, want, "{order}: each execution once, in time order across epochs");
    }
    for (filter, value) in [
        ("status", "SUCCEEDED"),
        ("status", "FAILED"),
        ("integration", "sf"),
        ("userId", "u1"),
    ] {
        let got = w
            .page_ids(
                Endpoint::List,
                "/workflow-executions",
                "workflowExecutions",
                &[("limit", "5"), (filter, value)],
                &key,
            )
            .await;
        let want: BTreeSet<String> = w
            .executions
            .iter()
            .filter(|(id, (status, _))| {
                let n: usize = id[1..].parse().unwrap();
                match filter {
                    "status" => status == value,
                    "integration" => (if n.is_multiple_of(2) { "sf" } else { "slack" }) == value,
                    _ => format!("u{}", n % 3) == value,
                }
            })
            .map(|(id, _)| id.clone())
            .collect();
        assert!(!want.is_empty());
        assert_eq!(got.len(), want.len(), "{filter}={value}: each once");
        assert_eq!(got.into_iter().collect::<BTreeSet<_>>(), want, "{filter}={value}");
    }
    let running = w
        .page_ids(
            Endpoint::List,
            "/workflow-executions",
            "workflowExecutions",
            &[("status", "RUNNING")],
            &key,
        )
        .await;
    assert!(running.is_empty(), "every execution ended: {running:?}");

    // Totals, from counters and edges, and the stats.
    let page = w
        .call(
            Endpoint::List,
            "/workflow-executions",
            &[("count", "true"), ("limit", "1")],
            &key,
        )
        .await;
    assert_eq!(page["total"], all.len(), "{page}");
    let page = w
        .call(
            Endpoint::List,
            "/workflow-executions",
            &[("count", "true"), ("limit", "1"), ("status", "FAILED")],
            &key,
        )
        .await;
    assert_eq!(page["total"], 12, "{page}");
    let logs_page = w
        .page_ids(Endpoint::EventLogs, "/event-logs", "eventLogs", &[("limit", "4")], &key)
        .await;
    assert_eq!(logs_page.iter().cloned().collect::<BTreeSet<_>>(), w.logs);
    assert_eq!(logs_page.len(), w.logs.len());

    // Stats by status over the days the records fall on: the counters saw every record once.
    let after = (t0 - Duration::days(4)).format("%Y-%m-%d").to_string();
    let before = (t0 + Duration::days(2)).format("%Y-%m-%d").to_string();
    let q = [
        ("afterDate", after.as_str()),
        ("beforeDate", before.as_str()),
        ("groupBy", "status"),
    ];
    let stats = w.call(Endpoint::Stats, "/stats", &q, &key).await;
    let mut by_status: BTreeMap<String, u64> = BTreeMap::new();
    for bucket in stats["buckets"].as_array().unwrap() {
        for group in bucket["groups"].as_array().unwrap() {
            *by_status.entry(group["key"].as_str().unwrap().to_string()).or_default() +=
                group["count"].as_u64().unwrap();
        }
    }
    let mut want_status: BTreeMap<String, u64> = BTreeMap::new();
    for (status, _) in w.executions.values() {
        *want_status.entry(status.clone()).or_default() += 1;
    }
    assert_eq!(by_status, want_status, "{stats}");

    // The trace: its records are spread over every epoch's shards.
    let traced = w.call(Endpoint::Trace, "/traces/tr-1", &[], &key).await;
    let traced_ids: Vec<&str> = traced["workflowExecutions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap())
        .collect();
    let want_traced: BTreeSet<String> = all
        .iter()
        .filter(|id| id[1..].parse::<usize>().unwrap() % 3 == 0)
        .cloned()
        .collect();
    assert_eq!(traced_ids.len(), want_traced.len(), "{traced}");
    assert_eq!(
        traced_ids.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>(),
        want_traced
    );
    assert_eq!(traced["eventLogs"].as_array().unwrap().len(), w.logs.len(), "{traced}");

    // Each execution reads back by id.
    for id in &all {
        let got = w
            .call(Endpoint::Get, &format!("/workflow-executions/{id}"), &[], &key)
            .await;
        assert_eq!(got["id"], id.as_str());
    }

    // Exports: every execution of the days the records fall on, once.
    let first = (t0 - Duration::days(3)).format("%Y-%m-%d").to_string();
    let last = (t0 + Duration::days(2)).format("%Y-%m-%d").to_string();
    let out = export(
        &w.store,
        &ExportRequest {
            project_id: P.into(),
            after_date: first,
            before_date: last,
            format: None,
        },
        t0 + Duration::days(1),
    )
    .await
    .unwrap();
    let rows: u64 = out.manifests.iter().map(|m| m.rows).sum();
    assert_eq!(rows as usize, all.len() + w.logs.len(), "{:?}", out.manifests);
}
