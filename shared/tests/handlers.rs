//! Handler tests: the real handlers and store logic over the in-memory store, fed with the
//! `events/*.json` fixtures. No emulator: these are the fast tests of the API rules.

use runledger::api::http::{api_request, Service};
use runledger::api::process::Process;
use runledger::api::{ApiRequest, Endpoint};
use runledger::apikeys::KeyAdmin;
use runledger::config::Settings;
use runledger::ingest::{ingest, parse_envelope, Outcome, Report};
use runledger::store::{AdminShards, MemoryStore, StoreConfig};
use serde_json::{json, Value};

/// A store and the state one function instance keeps between requests (its key cache): each test
/// builds its own, so tests that count reads cannot disturb each other.
struct Instance {
    store: MemoryStore,
    process: Process,
}

impl Instance {
    fn new(store: MemoryStore) -> Self {
        Instance {
            store,
            process: Process::default(),
        }
    }

    fn service<'a>(&'a self, settings: &'a Settings) -> Service<'a, MemoryStore> {
        Service {
            settings,
            store: &self.store,
            process: &self.process,
        }
    }
}

impl std::ops::Deref for Instance {
    type Target = MemoryStore;

    fn deref(&self) -> &MemoryStore {
        &self.store
    }
}

fn now() -> chrono::DateTime<chrono::Utc> {
    runledger::dates::parse("2026-11-25T12:00:00Z").unwrap()
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{}/../events/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn store() -> Instance {
    Instance::new(MemoryStore::memory(StoreConfig { retention_days: 90 }))
}

async fn key(store: &MemoryStore, project: &str) -> String {
    KeyAdmin { store }.create(project, "test", 0).await.unwrap().token
}

/// A fixture's API Gateway event as the handlers see it, with `key` in place of the placeholder.
fn request(name: &str, key: &str) -> ApiRequest {
    let text = fixture(name).replace("rl_REPLACE_WITH_KEY_FROM_make_key", key);
    api_request(&lambda_http::request::from_str(&text).unwrap())
}

fn get(path: &str, query: &[(&str, &str)], key: &str) -> ApiRequest {
    ApiRequest {
        method: "GET".into(),
        path: path.into(),
        query: query.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        authorization: Some(format!("Bearer {key}")),
        base_url: "http://127.0.0.1:9000".into(),
        request_id: "r1".into(),
    }
}

async fn call(store: &Instance, endpoint: Endpoint, req: &ApiRequest) -> (u16, Value) {
    call_with(store, &Settings::defaults(), endpoint, req).await
}

async fn call_with(store: &Instance, settings: &Settings, endpoint: Endpoint, req: &ApiRequest) -> (u16, Value) {
    let r = store.service(settings).respond(endpoint, req, now()).await;
    (r.status, serde_json::from_str(&r.body).unwrap())
}

async fn load(store: &MemoryStore, events: &[Value]) -> Report {
    let raw: Vec<Box<serde_json::value::RawValue>> = events
        .iter()
        .map(|e| serde_json::value::RawValue::from_string(e.to_string()).unwrap())
        .collect();
    Report::from_outcomes(&ingest(store, &Settings::defaults(), &raw, now()).await)
}

async fn load_fixture(store: &MemoryStore) {
    let envelope = parse_envelope(&fixture("ingest-direct.json")).unwrap();
    let outcomes = ingest(store, &Settings::defaults(), &envelope.events, now()).await;
    assert!(outcomes.iter().all(|o| *o == Outcome::Accepted), "{outcomes:?}");
}

fn execution(p: &str, id: &str, minutes_ago: i64, extra: Value) -> Value {
    let started = runledger::dates::format(now() - chrono::Duration::minutes(minutes_ago));
    let mut e = json!({"kind": "execution", "projectId": p, "id": id, "workflowId": "wf",
                       "status": "SUCCEEDED", "dateStarted": started});
    e.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    e
}

fn step(p: &str, e: &str, id: &str, minutes_ago: i64) -> Value {
    let started = runledger::dates::format(now() - chrono::Duration::minutes(minutes_ago));
    json!({"kind": "step", "projectId": p, "executionId": e, "id": id, "stepName": "s",
           "status": "SUCCEEDED", "dateStarted": started, "output": {"n": id}})
}

fn ids(page: &Value, list: &str) -> Vec<String> {
    page[list]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn the_fixtures_round_trip_through_list_get_steps_and_step_detail() {
    let store = store();
    load_fixture(&store).await;
    let k = key(&store, "demo").await;

    let (status, list) = call(&store, Endpoint::List, &request("list.json", &k)).await;
    assert_eq!(status, 200, "{list}");
    let listed = &list["workflowExecutions"][0];
    assert_eq!(listed["id"], "7f3b2c1e-5d4a-4b8e-9c6f-1a2b3c4d5e6f");
    assert_eq!(listed["status"], "FAILED");
    assert_eq!(
        listed["error"],
        json!({"code": "RATE_LIMITED", "message": "Upstream API rate limit exceeded"})
    );
    assert_eq!(listed["runDuration"], 1477);
    assert!(listed.get("input").is_none(), "listings carry no bodies");

    let (status, got) = call(&store, Endpoint::Get, &request("get.json", &k)).await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["input"], json!({"leadId": "00Q5g000004XyZ", "source": "web-form"}));
    assert_eq!(got["error"]["details"], json!({"status": 429, "retryAfterSeconds": 30}));
    assert_eq!(ids(&got, "steps").len(), 2);
    assert_eq!(got["stepsNextLink"], Value::Null);

    let (status, page) = call(&store, Endpoint::Steps, &request("steps.json", &k)).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(ids(&page, "stepExecutions"), ["0c9d8e7f-6a5b-4c3d-8e1f-2a3b4c5d6e7f"]);
    let next = page["nextLink"].as_str().unwrap();
    let url = url::Url::parse(next).unwrap();
    let query: Vec<(String, String)> = url.query_pairs().map(|(a, b)| (a.into(), b.into())).collect();
    let query: Vec<(&str, &str)> = query.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let (_, rest) = call(&store, Endpoint::Steps, &get(url.path(), &query, &k)).await;
    assert_eq!(ids(&rest, "stepExecutions"), ["1d2e3f4a-5b6c-4d7e-9f8a-9b0c1d2e3f4a"]);
    assert_eq!(rest["nextLink"], Value::Null);

    let (status, detail) = call(&store, Endpoint::Step, &request("step.json", &k)).await;
    assert_eq!(status, 200, "{detail}");
    assert_eq!(detail["status"], "FAILED");
    assert_eq!(detail["executionId"], "7f3b2c1e-5d4a-4b8e-9c6f-1a2b3c4d5e6f");
}

#[tokio::test]
async fn get_step_detail_and_a_one_filter_page_are_one_read_each() {
    let store = store();
    load_fixture(&store).await;
    let k = key(&store, "demo").await;
    let settings = Settings::defaults();
    // Warm the key cache, so only the route's own reads are counted.
    let service = store.service(&settings);
    service.list(&request("list.json", &k), now()).await;
    for (name, endpoint) in [
        ("list.json", Endpoint::List),
        ("get.json", Endpoint::Get),
        ("step.json", Endpoint::Step),
    ] {
        let before = store.backend.calls();
        let response = match endpoint {
            Endpoint::List => service.list(&request(name, &k), now()).await,
            Endpoint::Get => service.get(&request(name, &k), now()).await,
            _ => service.step(&request(name, &k), now()).await,
        };
        assert_eq!(response.status, 200);
        assert_eq!(store.backend.calls() - before, 1, "{name}");
    }
}

#[tokio::test]
async fn a_combined_filter_over_a_large_range_pages_partially_to_the_exact_result() {
    let store = store();
    let p = "big";
    // 400 executions of one workflow over 80 days; every 37th failed.
    let mut events = Vec::new();
    let mut want = Vec::new();
    for n in 0..400 {
        let id = format!("e{n:04}");
        let failed = n % 37 == 0;
        if failed {
            want.push(id.clone());
        }
        let status = if failed { "FAILED" } else { "SUCCEEDED" };
        events.push(execution(
            p,
            &id,
            n * 288 + 1,
            json!({"workflowId": "wf-x", "status": status}),
        ));
    }
    assert_eq!(load(&store, &events).await.accepted, 400);
    let k = key(&store, p).await;
    let settings = Settings {
        read_budget_items: 50,
        ..Settings::defaults()
    };
    let path = format!("/v1/projects/{p}/workflow-executions");
    let mut query = vec![
        ("workflowId".to_string(), "wf-x".to_string()),
        ("status".to_string(), "FAILED".to_string()),
        ("limit".to_string(), "5".to_string()),
    ];
    let (mut seen, mut partial_pages, mut pages) = (Vec::new(), 0, 0);
    loop {
        let q: Vec<(&str, &str)> = query.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        let (status, page) = call_with(&store, &settings, Endpoint::List, &get(&path, &q, &k)).await;
        assert_eq!(status, 200, "{page}");
        pages += 1;
        if page["partial"] == true {
            partial_pages += 1;
            assert!(ids(&page, "workflowExecutions").len() < 5);
            assert!(
                page["nextCursor"].is_string(),
                "a partial page always says where to resume"
            );
        }
        seen.extend(ids(&page, "workflowExecutions"));
        match page["nextCursor"].as_str() {
            Some(c) => {
                query.retain(|(n, _)| n != "cursor");
                query.push(("cursor".into(), c.into()));
            }
            None => break,
        }
        assert!(pages < 100);
    }
    assert!(partial_pages > 0, "the budget of 50 items cannot cover 400");
    assert_eq!(seen, want, "every failure once, newest first");
}

#[tokio::test]
async fn a_selective_filter_fills_a_page_in_a_few_queries() {
    let store = store();
    let p = "sel";
    // 2,500 executions of one workflow within a day, 5 % of them failed, as the issue measured.
    let events: Vec<Value> = (0..2500)
        .map(|n| {
            let status = if n % 20 == 7 { "FAILED" } else { "SUCCEEDED" };
            execution(
                p,
                &format!("e{n:05}"),
                n / 2 + 1,
                json!({"workflowId": "wf-s", "status": status}),
            )
        })
        .collect();
    for chunk in events.chunks(500) {
        assert_eq!(load(&store, chunk).await.accepted, chunk.len());
    }
    let k = key(&store, p).await;
    let path = format!("/v1/projects/{p}/workflow-executions");
    let query = [("workflowId", "wf-s"), ("status", "FAILED"), ("limit", "10")];
    call(&store, Endpoint::List, &get(&path, &query, &k)).await; // warms the key cache
    let before = store.backend.calls();
    let (status, page) = call(&store, Endpoint::List, &get(&path, &query, &k)).await;
    let queries = store.backend.calls() - before;
    assert_eq!(status, 200, "{page}");
    let found = ids(&page, "workflowExecutions");
    assert_eq!(found.len(), 10);
    assert_eq!(found[0], "e00007", "newest failure first");
    assert_ne!(page["partial"], true);
    // About 220 entries hold 11 failures: one partition, well under 1,000 entries, so the floor is
    // one Query; sizing each Query by the filter's yield takes two or three, not one per 11 entries.
    assert!(queries <= 3, "{queries} Queries for one page");
}

#[tokio::test]
async fn count_is_exact_within_its_budget_and_a_lower_bound_beyond_it() {
    let store = store();
    let events: Vec<Value> = (0..120)
        .map(|n| {
            execution(
                "cnt",
                &format!("e{n}"),
                n * 10 + 1,
                json!({"integration": "i", "userId": "u"}),
            )
        })
        .collect();
    load(&store, &events).await;
    feed_stats(&store, 0, 100).await;
    let k = key(&store, "cnt").await;
    let path = "/v1/projects/cnt/workflow-executions";
    // Two dimensions at once have no counters: counted by reading, within the count budget.
    let two = [
        ("integration", "i"),
        ("userId", "u"),
        ("count", "true"),
        ("limit", "10"),
    ];
    let (_, page) = call(&store, Endpoint::List, &get(path, &two, &k)).await;
    assert_eq!(
        (page["total"].clone(), page["totalExact"].clone()),
        (json!(120), json!(true))
    );
    let tight = Settings {
        count_budget_items: 50,
        ..Settings::defaults()
    };
    let (_, page) = call_with(
        &store,
        &tight,
        Endpoint::List,
        &get(
            path,
            &["integration", "userId"]
                .iter()
                .zip(["i", "u"])
                .map(|(a, b)| (*a, b))
                .chain([("count", "true"), ("limit", "10")])
                .collect::<Vec<_>>(),
            &k,
        ),
    )
    .await;
    assert_eq!(page["totalExact"], false);
    let total = page["total"].as_u64().unwrap();
    assert!((50..=120).contains(&total), "a lower bound: {total}");
    // One dimension comes from the counters: exact whatever the budget, reading only the edges.
    let (_, page) = call_with(
        &store,
        &tight,
        Endpoint::List,
        &get(path, &[("count", "true"), ("limit", "10")], &k),
    )
    .await;
    assert_eq!(
        (page["total"].clone(), page["totalExact"].clone()),
        (json!(120), json!(true))
    );
    let (_, page) = call_with(&store, &tight, Endpoint::List, &get(path, &two, &k)).await;
    assert_eq!(page["totalExact"], false);
    let total = page["total"].as_u64().unwrap();
    assert!((50..=120).contains(&total), "a lower bound: {total}");
    // Later pages carry the cursor and are not counted again.
    let cursor = page["nextCursor"].as_str().unwrap().to_string();
    let (_, next) = call_with(
        &store,
        &tight,
        Endpoint::List,
        &get(path, &[("count", "true"), ("limit", "10"), ("cursor", &cursor)], &k),
    )
    .await;
    assert!(next.get("total").is_none());
}

#[tokio::test]
async fn steps_beyond_the_first_hundred_are_paged_in_date_order() {
    let store = store();
    let mut events = vec![execution("st", "e1", 500, json!({}))];
    // Step ids in the opposite order of their start times.
    for n in 0..250 {
        events.push(step("st", "e1", &format!("s{:03}", 999 - n), 400 - n));
    }
    assert_eq!(load(&store, &events).await.accepted, 251);
    let k = key(&store, "st").await;
    let (_, got) = call(
        &store,
        Endpoint::Get,
        &get("/v1/projects/st/workflow-executions/e1", &[], &k),
    )
    .await;
    let mut all = ids(&got, "steps");
    assert_eq!(all.len(), 100);
    let mut link = got["stepsNextLink"].as_str().map(str::to_string);
    while let Some(l) = link {
        let url = url::Url::parse(&l).unwrap();
        let query: Vec<(String, String)> = url.query_pairs().map(|(a, b)| (a.into(), b.into())).collect();
        let query: Vec<(&str, &str)> = query.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        let (status, page) = call(&store, Endpoint::Steps, &get(url.path(), &query, &k)).await;
        assert_eq!(status, 200, "{page}");
        all.extend(ids(&page, "stepExecutions"));
        link = page["nextLink"].as_str().map(str::to_string);
    }
    let want: Vec<String> = (0..250).map(|n| format!("s{:03}", 999 - n)).collect();
    assert_eq!(all, want, "every step once, by dateStarted");
    let (status, _) = call(
        &store,
        Endpoint::Steps,
        &get("/v1/projects/st/workflow-executions/nope/step-executions", &[], &k),
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn invented_keys_cost_a_read_each_and_never_lock_out_a_valid_key() {
    let store = store();
    let valid = key(&store, "p").await;
    let before = store.backend.calls();
    let mut statuses = std::collections::BTreeMap::new();
    for n in 0..240u32 {
        let fake = format!("rl_{n:012x}_{}", "x".repeat(40));
        let (status, _) = call(
            &store,
            Endpoint::List,
            &get("/v1/projects/p/workflow-executions", &[], &fake),
        )
        .await;
        *statuses.entry(status).or_insert(0) += 1;
    }
    let reads = store.backend.calls() - before;
    assert_eq!(statuses.keys().copied().collect::<Vec<_>>(), [401], "{statuses:?}");
    assert_eq!(reads, 240, "one key read per invented key, nothing more");
    // The same unknown id again costs no read.
    let again = format!("rl_{:012x}_{}", 0, "x".repeat(40));
    let before = store.backend.calls();
    call(
        &store,
        Endpoint::List,
        &get("/v1/projects/p/workflow-executions", &[], &again),
    )
    .await;
    assert_eq!(store.backend.calls(), before);
    // A valid key never used before is admitted after the flood.
    let (status, body) = call(
        &store,
        Endpoint::List,
        &get("/v1/projects/p/workflow-executions", &[], &valid),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn the_first_date_started_is_kept_and_a_later_one_reported() {
    let store = store();
    load(&store, &[execution("ds", "e1", 60, json!({"status": "RUNNING"}))]).await;
    let report = load(&store, &[execution("ds", "e1", 30, json!({"status": "SUCCEEDED"}))]).await;
    assert_eq!(report.accepted, 1, "the status is taken");
    assert_eq!(report.notes[0].code, "date_started_kept");
    let k = key(&store, "ds").await;
    let (_, got) = call(
        &store,
        Endpoint::Get,
        &get("/v1/projects/ds/workflow-executions/e1", &[], &k),
    )
    .await;
    assert_eq!(got["status"], "SUCCEEDED");
    assert_eq!(
        got["dateStarted"],
        json!(runledger::dates::format(now() - chrono::Duration::minutes(60)))
    );
}

#[tokio::test]
async fn bad_requests_get_clear_errors_and_bad_events_write_nothing() {
    let store = store();
    load_fixture(&store).await;
    let k = key(&store, "demo").await;
    let written = store.backend.item_count();
    let report = load(
        &store,
        &[
            execution("demo", "x1", 1, json!({"userId": " padded"})),
            execution("demo", "..", 1, json!({})),
        ],
    )
    .await;
    assert_eq!(report.rejected.len(), 2);
    assert_eq!(store.backend.item_count(), written);
    let list = "/v1/projects/demo/workflow-executions";
    for (query, parameter) in [
        (vec![("limit", "0")], "limit"),
        (vec![("userId", "")], "userId"),
        (vec![("integration", "a,,b")], "integration"),
        (vec![("status", "DONE")], "status"),
        (vec![("q", "---")], "q"),
        (vec![("colour", "red")], "colour"),
    ] {
        let (status, body) = call(&store, Endpoint::List, &get(list, &query, &k)).await;
        assert_eq!(
            (status, body["error"]["parameter"].as_str()),
            (400, Some(parameter)),
            "{body}"
        );
    }
    let (status, body) = call(&store, Endpoint::List, &get(list, &[("cursor", "1.abc.def")], &k)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_cursor")));
    let other = key(&store, "other").await;
    let (status, _) = call(
        &store,
        Endpoint::Get,
        &get(&format!("{list}/7f3b2c1e-5d4a-4b8e-9c6f-1a2b3c4d5e6f"), &[], &other),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = call(&store, Endpoint::Get, &get(&format!("{list}/missing"), &[], &k)).await;
    assert_eq!(status, 404);
}

mod paging {
    use super::*;
    use proptest::prelude::*;
    use runledger::params::ListParams;
    use runledger::query::ReadBudget;
    use runledger::store::ListExecutions;

    const INTEGRATIONS: [&str; 3] = ["sf", "slack", "hub"];
    const STATUSES: [&str; 3] = ["SUCCEEDED", "FAILED", "RUNNING"];
    const USERS: [&str; 2] = ["u1", "u2"];
    const TRIGGERS: [&str; 2] = ["webhook", "cron"];

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]
        /// Whatever the filters, order, page size, budget and shard count, paging returns exactly
        /// the matches, each once, in order.
        #[test]
        fn paging_returns_every_match_once_in_order(
            records in prop::collection::vec((0usize..3, 0usize..3, 0usize..2, 0i64..129_000), 1..60),
            integrations in prop::collection::vec(0usize..3, 0..3),
            statuses in prop::collection::vec(0usize..3, 0..3),
            user in prop::option::of(0usize..2),
            trigger in prop::option::of(0usize..2),
            ascending in any::<bool>(),
            limit in 1u32..7,
            budget in 1u64..12,
            shards in 1u32..4,
        ) {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                let store = MemoryStore::memory(StoreConfig { retention_days: 90 });
                // Sharded from long before the records' time.
                store.set_shards("pp", shards, 0).await.unwrap();
                let settings = Settings::defaults();
                let events: Vec<Value> = records.iter().enumerate().map(|(n, (i, s, u, minutes))| {
                    execution("pp", &format!("e{n:03}"), *minutes, json!({
                        "integration": INTEGRATIONS[*i], "status": STATUSES[*s], "userId": USERS[*u],
                        "triggerType": TRIGGERS[n % 2]}))
                }).collect();
                let raw: Vec<Box<serde_json::value::RawValue>> = events.iter()
                    .map(|e| serde_json::value::RawValue::from_string(e.to_string()).unwrap()).collect();
                ingest(&store, &settings, &raw, now()).await;

                let mut want: Vec<(i64, String)> = records.iter().enumerate().filter(|(n, (i, s, u, _))| {
                    (integrations.is_empty() || integrations.contains(i))
                        && (statuses.is_empty() || statuses.contains(s))
                        && user.is_none_or(|x| x == *u)
                        && trigger.is_none_or(|t| t == n % 2)
                }).map(|(n, (_, _, _, m))| (-*m, format!("e{n:03}"))).collect();
                want.sort();
                if !ascending { want.reverse(); }
                let want: Vec<String> = want.into_iter().map(|(_, id)| id).collect();

                let mut pairs: Vec<(String, String)> = vec![("limit".into(), limit.to_string())];
                if !integrations.is_empty() {
                    pairs.push(("integration".into(), integrations.iter().map(|i| INTEGRATIONS[*i]).collect::<Vec<_>>().join(",")));
                }
                if !statuses.is_empty() {
                    pairs.push(("status".into(), statuses.iter().map(|s| STATUSES[*s]).collect::<Vec<_>>().join(",")));
                }
                if let Some(u) = user { pairs.push(("userId".into(), USERS[u].into())); }
                if let Some(t) = trigger { pairs.push(("triggerType".into(), TRIGGERS[t].into())); }
                if ascending { pairs.push(("sortBy".into(), "ASC".into())); }
                let params = ListParams::parse(&pairs, "pp", now()).unwrap();
                let query = &params.query;
                let mut resume = None;
                let mut got = Vec::new();
                for _ in 0..2000 {
                    let page = store.list_executions(query, resume.as_ref(), ReadBudget { items: budget }).await.unwrap();
                    assert!(page.items.len() <= limit as usize);
                    got.extend(page.items.iter().map(|e| e.id.clone()));
                    match page.next { Some(p) => resume = Some(p), None => break }
                }
                assert_eq!(got, want);
            });
        }
    }
}

// ---- event logs, traces and keyword search

async fn load_logs_fixture(store: &MemoryStore) -> Vec<Outcome> {
    let envelope = parse_envelope(&fixture("ingest-logs.json")).unwrap();
    ingest(store, &Settings::defaults(), &envelope.events, now()).await
}

fn log(p: &str, id: Option<&str>, minutes_ago: i64, extra: Value) -> Value {
    let at = runledger::dates::format(now() - chrono::Duration::minutes(minutes_ago));
    let mut e = json!({"kind": "log", "projectId": p, "timestamp": at, "level": "INFO",
                       "type": "WEBHOOK_TRIGGER", "message": "Webhook Trigger request received"});
    if let Some(id) = id {
        e["id"] = json!(id);
    }
    e.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    e
}

fn times(page: &Value, list: &str, field: &str) -> Vec<String> {
    page[list]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x[field].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn trigger_events_are_stored_once_listed_by_filter_and_traced_in_one_read() {
    let store = store();
    let first = load_logs_fixture(&store).await;
    assert!(first.iter().all(|o| *o == Outcome::Accepted), "{first:?}");
    let again = load_logs_fixture(&store).await;
    assert!(
        again.iter().all(|o| *o == Outcome::Duplicate),
        "a retried event, with or without an id, is a duplicate: {again:?}"
    );
    let k = key(&store, "demo").await;

    let (status, page) = call(&store, Endpoint::EventLogs, &request("event-logs.json", &k)).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        ids(&page, "eventLogs"),
        ["log-webhook-2"],
        "ERROR or WARN webhook logs only"
    );
    assert_eq!(page["eventLogs"][0]["level"], "ERROR");
    assert!(page["eventLogs"][0]["payload"].is_object());

    let (_, all) = call(
        &store,
        Endpoint::EventLogs,
        &get("/v1/projects/demo/event-logs", &[("includeBody", "false")], &k),
    )
    .await;
    let listed = all["eventLogs"].as_array().unwrap();
    assert_eq!(listed.len(), 16);
    assert!(listed.iter().all(|l| l.get("payload").is_none()), "includeBody=false");
    let stamps = times(&all, "eventLogs", "timestamp");
    assert!(stamps.windows(2).all(|w| w[0] >= w[1]), "newest first");
    assert!(
        listed.iter().any(|l| l["id"].as_str().unwrap().starts_with("lg-")),
        "the log sent without an id got a derived one"
    );

    let (_, by_user) = call(
        &store,
        Endpoint::EventLogs,
        &get(
            "/v1/projects/demo/event-logs",
            &[("userId", "user-7"), ("level", "info"), ("count", "true")],
            &k,
        ),
    )
    .await;
    assert!(by_user["eventLogs"]
        .as_array()
        .unwrap()
        .iter()
        .all(|l| l["endUserId"] == "user-7" && l["level"] == "INFO"));
    assert_eq!(by_user["total"], by_user["eventLogs"].as_array().unwrap().len());
    assert_eq!(by_user["totalExact"], true);

    // A webhook trigger event and the three executions it started, in time order, in one read.
    let settings = Settings::defaults();
    let service = store.service(&settings);
    service.trace(&request("trace.json", &k), now()).await;
    let before = store.backend.calls();
    let response = service.trace(&request("trace.json", &k), now()).await;
    assert_eq!(store.backend.calls() - before, 1, "one Query for the whole trace");
    let trace: Value = serde_json::from_str(&response.body).unwrap();
    assert_eq!(response.status, 200, "{trace}");
    assert_eq!(trace["traceId"], "trace-webhook-1");
    assert_eq!(ids(&trace, "eventLogs"), ["log-webhook-1"]);
    assert_eq!(
        ids(&trace, "workflowExecutions"),
        ["exec-webhook-1a", "exec-webhook-1b", "exec-webhook-1c"]
    );
    let log_time = &trace["eventLogs"][0]["timestamp"];
    assert!(times(&trace, "workflowExecutions", "dateStarted")
        .iter()
        .all(|t| t.as_str() > log_time.as_str().unwrap()));
    assert!(
        trace["eventLogs"][0]["payload"].is_object(),
        "the trace carries payloads"
    );

    let (status, missing) = call(
        &store,
        Endpoint::Trace,
        &get("/v1/projects/demo/traces/no-such-trace", &[], &k),
    )
    .await;
    assert_eq!((status, missing["error"]["code"].as_str()), (404, Some("not_found")));
}

#[tokio::test]
async fn bad_log_events_are_rejected_with_reasons_and_write_nothing() {
    let store = store();
    let report = load(
        &store,
        &[
            log("p1", Some("a"), 5, json!({"level": "LOUD"})),
            log("p1", Some("b"), 5, json!({"message": ""})),
            log("p1", Some("c"), 5, json!({"type": "a,b"})),
            log("p1", Some("d#x"), 5, json!({})),
            log("p1", Some("e"), 200 * 24 * 60, json!({})),
            log("p1", Some("f"), 5, json!({"colour": "red"})),
            log("p1", Some("g"), 5, json!({"integrationId": " sf"})),
        ],
    )
    .await;
    assert_eq!(report.accepted, 0);
    let codes: Vec<&str> = report.rejected.iter().map(|r| r.code).collect();
    assert_eq!(
        codes,
        [
            "invalid_event",
            "invalid_event",
            "invalid_event",
            "invalid_event",
            "expired",
            "invalid_event",
            "invalid_event"
        ]
    );
    assert_eq!(store.backend.item_count(), 0);
}

/// About a megabyte of JSON records, with `needle` only in the last one.
fn big_payload(needle: &str) -> Value {
    let mut records: Vec<Value> = (0..20000)
        .map(|i| json!({"Id": format!("rec{i:07}"), "Name": format!("Account {i}"), "Owner": "someone else"}))
        .collect();
    records.push(json!({"Id": needle, "Name": "Acme Corp"}));
    json!({"records": records})
}

#[tokio::test]
async fn search_finds_a_token_deep_in_a_large_payload_and_never_a_substring() {
    let store = store();
    let payload = big_payload("00Q5g000004XyZ");
    assert!(payload.to_string().len() > 1_000_000);
    let report = load(
        &store,
        &[
            log("p1", Some("big"), 10, json!({"payload": payload})),
            log("p1", Some("small"), 20, json!({"payload": {"Id": "00Q5g000004XyZ"}})),
            log("p1", Some("other"), 30, json!({"payload": {"Name": "Acme Corp"}})),
            execution("p1", "e-in-step", 40, json!({"input": {"lead": "nothing"}})),
            step("p1", "e-in-step", "s1", 40),
            execution(
                "p1",
                "e-in-output",
                50,
                json!({"output": big_payload("00Q5g000004XyZ")}),
            ),
            execution(
                "p1",
                "e-in-error",
                60,
                json!({"status": "FAILED", "error": {"code": "RATE_LIMITED", "message": "Acme quota exhausted"}}),
            ),
            execution("p1", "e-none", 70, json!({})),
        ],
    )
    .await;
    assert_eq!(report.accepted, 8, "{report:?}");
    let k = key(&store, "p1").await;
    let search = |route: &'static str, q: &'static str| {
        let k = k.clone();
        let store = &store;
        async move {
            let endpoint = if route == "event-logs" {
                Endpoint::EventLogs
            } else {
                Endpoint::List
            };
            let list = if route == "event-logs" {
                "eventLogs"
            } else {
                "workflowExecutions"
            };
            let path = format!("/v1/projects/p1/{route}");
            let (status, page) = call(store, endpoint, &get(&path, &[("q", q)], &k)).await;
            assert_eq!(status, 200, "{page}");
            assert!(page["searchedUntil"].is_string(), "{page}");
            let mut found = ids(&page, list);
            found.sort();
            found
        }
    };
    assert_eq!(search("event-logs", "00q5g000004xyz").await, ["big", "small"]);
    assert_eq!(
        search("event-logs", "00Q5g000004XyZ Acme").await,
        ["big"],
        "both keywords"
    );
    assert!(
        search("event-logs", "XyZ").await.is_empty(),
        "a substring is not a token"
    );
    assert_eq!(
        search("event-logs", "webhook received").await.len(),
        3,
        "messages count"
    );
    assert_eq!(search("workflow-executions", "00Q5g000004XyZ").await, ["e-in-output"]);
    assert_eq!(
        search("workflow-executions", "s1").await,
        ["e-in-step"],
        "step bodies count"
    );
    assert_eq!(
        search("workflow-executions", "quota rate_limited").await,
        ["e-in-error"]
    );
    assert!(search("workflow-executions", "acme nothing").await.is_empty());

    // The large bodies were stored in S3, and searched there.
    let (_, page) = call(
        &store,
        Endpoint::EventLogs,
        &get("/v1/projects/p1/event-logs", &[("q", "acme 00Q5g000004XyZ")], &k),
    )
    .await;
    let reference = &page["eventLogs"][0]["payload"]["$ref"];
    assert!(reference["size"].as_u64().unwrap() > 1_000_000, "{page}");

    for bad in ["", "---", "a b c d e f g h i j k"] {
        let (status, e) = call(
            &store,
            Endpoint::List,
            &get("/v1/projects/p1/workflow-executions", &[("q", bad)], &k),
        )
        .await;
        assert_eq!((status, e["error"]["parameter"].as_str()), (400, Some("q")), "{bad:?}");
    }
}

#[tokio::test]
async fn a_search_reads_within_the_budget_and_says_how_far_it_got() {
    let store = store();
    let mut events = Vec::new();
    for i in 0..120 {
        let word = if i % 30 == 7 { "needle" } else { "hay" };
        events.push(execution(
            "p1",
            &format!("e{i:03}"),
            i * 60,
            json!({"input": {"w": word, "i": i}}),
        ));
    }
    assert_eq!(load(&store, &events).await.accepted, 120);
    let k = key(&store, "p1").await;
    let mut settings = Settings::defaults();
    settings.read_budget_items = 40;
    let mut query = vec![
        ("q".to_string(), "needle".to_string()),
        ("limit".to_string(), "10".to_string()),
        ("count".to_string(), "true".to_string()),
    ];
    let mut found = Vec::new();
    let mut reached = Vec::new();
    let mut pages = 0;
    loop {
        let pairs: Vec<(&str, &str)> = query.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        let (status, page) = call_with(
            &store,
            &settings,
            Endpoint::List,
            &get("/v1/projects/p1/workflow-executions", &pairs, &k),
        )
        .await;
        assert_eq!(status, 200, "{page}");
        pages += 1;
        if pages == 1 {
            assert_eq!(
                (page["total"].as_u64(), page["totalExact"].as_bool()),
                (Some(4), Some(true))
            );
        }
        found.extend(ids(&page, "workflowExecutions"));
        reached.push(page["searchedUntil"].as_str().unwrap().to_string());
        let Some(next) = page["nextLink"].as_str() else { break };
        assert_eq!(page["partial"], true, "only the budget ends a page before it fills");
        query = url::Url::parse(next)
            .unwrap()
            .query_pairs()
            .map(|(a, b)| (a.into_owned(), b.into_owned()))
            .collect();
    }
    assert_eq!(found, ["e007", "e037", "e067", "e097"]);
    assert!(pages > 3, "a budget of 40 reads cannot search 120 executions at once");
    assert!(reached.windows(2).all(|w| w[0] > w[1]), "{reached:?}");
}

#[tokio::test]
async fn event_logs_page_to_the_exact_result_within_a_small_budget_in_either_order() {
    for shards in [1, 3] {
        let store = Instance::new(MemoryStore::memory(StoreConfig { retention_days: 90 }));
        store.set_shards("p1", shards, 0).await.unwrap();
        let mut events = Vec::new();
        for i in 0..150i64 {
            let level = if i % 7 == 0 { "ERROR" } else { "INFO" };
            let word = if i % 11 == 0 { "needle" } else { "hay" };
            events.push(log(
                "p1",
                Some(&format!("l{i:03}")),
                i * 577, // about 60 days, several month partitions
                json!({"level": level, "endUserId": format!("u{}", i % 2), "payload": {"w": word}}),
            ));
        }
        assert_eq!(load(&store, &events).await.accepted, 150);
        let k = key(&store, "p1").await;
        let mut settings = Settings::defaults();
        settings.read_budget_items = 20;
        for (filter, want) in [
            (
                ("level", "error"),
                (0..150).filter(|i| i % 7 == 0).collect::<Vec<i64>>(),
            ),
            (("q", "needle"), (0..150).filter(|i| i % 11 == 0).collect()),
            (("userId", "u1"), (0..150).filter(|i| i % 2 == 1).collect()),
        ] {
            for order in ["DESC", "ASC"] {
                let mut query = vec![
                    (filter.0.to_string(), filter.1.to_string()),
                    ("sortBy".to_string(), order.to_string()),
                    ("limit".to_string(), "7".to_string()),
                ];
                let mut found = Vec::new();
                for _ in 0..200 {
                    let pairs: Vec<(&str, &str)> = query.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
                    let (status, page) = call_with(
                        &store,
                        &settings,
                        Endpoint::EventLogs,
                        &get("/v1/projects/p1/event-logs", &pairs, &k),
                    )
                    .await;
                    assert_eq!(status, 200, "{page}");
                    found.extend(ids(&page, "eventLogs"));
                    let Some(next) = page["nextLink"].as_str() else { break };
                    query = url::Url::parse(next)
                        .unwrap()
                        .query_pairs()
                        .map(|(a, b)| (a.into_owned(), b.into_owned()))
                        .collect();
                }
                // Newest first is the smallest `minutes ago` first.
                let mut expected: Vec<String> = want.iter().map(|i| format!("l{i:03}")).collect();
                if order == "ASC" {
                    expected.reverse();
                }
                assert_eq!(found, expected, "{filter:?} {order} with {shards} shard(s)");
            }
        }
    }
}

/// Hands the in-memory table's stream from record `from` on to the stats function's logic, in
/// batches of `batch`, as an event source mapping would; returns where the stream ends.
async fn feed_stats(store: &MemoryStore, from: usize, batch: usize) -> usize {
    let records = store.backend.stream_records(from);
    for chunk in records.chunks(batch) {
        let event: runledger::streams::StreamEvent =
            serde_json::from_value(json!({"Records": chunk, "shardId": "shardId-0001"})).unwrap();
        let (response, summary) = runledger::stats::feed::count_batch(store, &event).await;
        assert!(response.batch_item_failures.is_empty(), "{summary:?}");
    }
    from + records.len()
}

/// A table's stream as Lambda reads it from many shards: each record goes to the shard of its
/// item (DynamoDB keeps one item's changes on one shard, in order); a shard closes after
/// `rollover` records and its child, with a new id and sequence numbers from a higher range, goes
/// on. Each shard's batches are delivered in order, children after parents, shards interleaved at
/// random. A batch may be delivered again (an answer lost), be retried from a record on (a
/// partial batch response), or fail after taking in part of its records and be bisected as
/// BisectBatchOnFunctionError does, each half delivered in turn and perhaps bisected again;
/// retries come a few deliveries later, other shards' batches in between. The store's clock moves
/// on up to 2 minutes a delivery, so marks of closed shards expire and are pruned, while every
/// retry comes within the maximum record age.
struct ShardedStream {
    shards: usize,
    rollover: usize,
    batch: usize,
    rng: rand::rngs::StdRng,
    /// Per shard: its generation, records the current one has taken, its last sequence number.
    lineage: Vec<(u64, usize, u128)>,
    /// Minutes the store's clock has been moved on, and each delivery's minute and shard id.
    minutes: i64,
    deliveries: Vec<(i64, String)>,
}

impl ShardedStream {
    fn new(shards: usize, rollover: usize, batch: usize, seed: u64) -> Self {
        use rand::SeedableRng;
        ShardedStream {
            shards,
            rollover,
            batch,
            rng: rand::rngs::StdRng::seed_from_u64(seed),
            lineage: (0..shards).map(|s| (0, 0, Self::first_sequence(s, 0))).collect(),
            minutes: 0,
            deliveries: Vec::new(),
        }
    }

    /// Where a generation's sequence numbers begin: above every number of its parent.
    fn first_sequence(shard: usize, generation: u64) -> u128 {
        10u128.pow(26) + generation as u128 * 10u128.pow(22) + shard as u128 * 10u128.pow(12)
    }

    fn shard_id(shard: usize, generation: u64) -> String {
        format!(
            "shardId-00000001764{generation:06}-{:08x}",
            (shard as u64 + 1) * 2_654_435_761 % (1 << 32)
        )
    }

    fn shard_ids(&self) -> usize {
        self.deliveries
            .iter()
            .map(|(_, id)| id)
            .collect::<std::collections::BTreeSet<_>>()
            .len()
    }

    /// The most shards of one slot that delivered within one mark's lifetime (and a delivery's
    /// clock step): the marks a slot item can need at once.
    fn live_most(&self) -> usize {
        use runledger::store::capacity::counters::{slot_of, MARK_LIFETIME_SECONDS};
        let window = MARK_LIFETIME_SECONDS / 60 + 4;
        self.deliveries
            .iter()
            .map(|(t, id)| {
                self.deliveries
                    .iter()
                    .filter(|(u, other)| u <= t && *u + window >= *t && slot_of(other) == slot_of(id))
                    .map(|(_, id)| id)
                    .collect::<std::collections::BTreeSet<_>>()
                    .len()
            })
            .max()
            .unwrap_or(0)
    }

    /// Delivers the table's stream from record `from` on; returns where it ends.
    async fn feed(&mut self, store: &MemoryStore, from: usize) -> usize {
        use rand::Rng;
        let records = store.backend.stream_records(from);
        let end = from + records.len();
        let mut queues: Vec<std::collections::VecDeque<Pending>> = vec![Default::default(); self.shards];
        for mut r in records {
            let pk = r["dynamodb"]["NewImage"]["pk"]["S"].as_str().unwrap_or("").to_string();
            let shard = pk.bytes().fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(b as u64)) as usize % self.shards;
            let (generation, used, seq) = &mut self.lineage[shard];
            if *used == self.rollover {
                *generation += 1;
                *used = 0;
                *seq = Self::first_sequence(shard, *generation);
            }
            *used += 1;
            *seq += self.rng.random_range(1..1_000_000u128);
            r["dynamodb"]["SequenceNumber"] = json!(seq.to_string());
            let id = Self::shard_id(shard, *generation);
            match queues[shard].back_mut() {
                Some((last, batch, _)) if *last == id && batch.len() < self.batch => batch.push(r),
                _ => queues[shard].push_back((id, vec![r], None)),
            }
        }
        // A shard whose next delivery is a retry waits until its step comes. Retries of a batch
        // stop failing half an hour after its first delivery and then come at once, so all of
        // them end within the maximum record age, as Lambda's do.
        let mut due: Vec<Option<usize>> = vec![None; self.shards];
        let mut step = 0;
        while queues.iter().any(|q| !q.is_empty()) {
            step += 1;
            let ready: Vec<usize> = (0..self.shards)
                .filter(|s| !queues[*s].is_empty() && due[*s].is_none())
                .collect();
            let pick = match (0..self.shards).find(|s| due[*s].is_some_and(|d| d <= step)) {
                Some(s) => s,
                None if ready.is_empty() => (0..self.shards)
                    .filter(|s| due[*s].is_some())
                    .min_by_key(|s| due[*s])
                    .unwrap(),
                None => ready[self.rng.random_range(0..ready.len())],
            };
            let (id, records, first) = queues[pick].pop_front().unwrap();
            let first = first.unwrap_or(self.minutes);
            let may_fail = self.minutes - first < 30;
            let again = self.deliver(store, &id, &records, may_fail).await;
            for segment in again.into_iter().rev() {
                queues[pick].push_front((id.clone(), segment, Some(first)));
            }
            due[pick] = match queues[pick].front() {
                Some((_, _, Some(_))) if may_fail => Some(step + self.rng.random_range(1..4)),
                Some((_, _, Some(_))) => Some(step),
                _ => None,
            };
            self.deliveries.push((self.minutes, id));
            let minutes = self.rng.random_range(0..3);
            self.minutes += minutes;
            store.backend.advance_clock(chrono::Duration::minutes(minutes));
        }
        end
    }

    /// One delivery of a batch; answers what Lambda delivers of it again, in order.
    async fn deliver(&mut self, store: &MemoryStore, id: &str, records: &[Value], may_fail: bool) -> Vec<Vec<Value>> {
        use rand::Rng;
        match if may_fail { self.rng.random_range(0..6) } else { 5 } {
            0 => {
                count(store, id, records).await;
                vec![records.to_vec()]
            }
            1 => {
                let k = self.rng.random_range(0..=records.len());
                count(store, id, &records[..k]).await;
                vec![records[k.saturating_sub(1)..].to_vec()]
            }
            2 | 3 if records.len() > 1 => {
                let taken = self.rng.random_range(0..records.len());
                count(store, id, &records[..taken]).await;
                let (first, second) = records.split_at(records.len() / 2);
                vec![first.to_vec(), second.to_vec()]
            }
            _ => {
                count(store, id, records).await;
                Vec::new()
            }
        }
    }
}

/// A batch a shard is yet to deliver: its shard id, records, and the minute it was first delivered
/// when it is a retry.
type Pending = (String, Vec<Value>, Option<i64>);

/// One delivery of records of a shard to the stats function's logic.
async fn count(store: &MemoryStore, shard: &str, records: &[Value]) {
    if records.is_empty() {
        return;
    }
    let event: runledger::streams::StreamEvent =
        serde_json::from_value(json!({"Records": records, "shardId": shard})).unwrap();
    let (response, summary) = runledger::stats::feed::count_batch(store, &event).await;
    assert!(response.batch_item_failures.is_empty(), "{summary:?}");
}

/// Every match of a listing, by following nextCursor.
async fn page_all(store: &Instance, path: &str, list: &str, query: &[(&str, &str)], key: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut q: Vec<(&str, &str)> = query.to_vec();
        q.push(("limit", "1000"));
        if let Some(c) = &cursor {
            q.push(("cursor", c));
        }
        let (status, page) = call(store, endpoint_of(list), &get(path, &q, key)).await;
        assert_eq!(status, 200, "{page}");
        out.extend(page[list].as_array().unwrap().iter().cloned());
        match page["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return out,
        }
    }
}

fn endpoint_of(list: &str) -> Endpoint {
    if list == "eventLogs" {
        Endpoint::EventLogs
    } else {
        Endpoint::List
    }
}

fn exact_quantile(mut values: Vec<f64>, q: f64) -> f64 {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    values[(q * (values.len() - 1) as f64).floor() as usize]
}

/// How the stream reaches the stats function.
enum Delivery {
    /// One shard: batches of several sizes, each delivered twice, then the whole stream again.
    OneShard,
    Sharded(Box<ShardedStream>),
}

#[tokio::test]
async fn stats_and_exact_totals_equal_paging_after_redelivered_batches_and_resent_events() {
    stats_and_totals_equal_paging(Delivery::OneShard).await;
}

#[tokio::test]
async fn stats_and_exact_totals_equal_paging_across_64_shards_their_children_and_bisected_batches() {
    let stream = ShardedStream::new(64, 2, 8, 7);
    let ids = stats_and_totals_equal_paging(Delivery::Sharded(Box::new(stream))).await;
    assert!(ids > 250, "{ids} shard ids");
}

mod sharded {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 8, failure_persistence: None, ..ProptestConfig::default() })]
        /// Whatever the shard count, how often shards are replaced, the batch size and the
        /// failures, the counters' stats and exact totals equal what paging returns.
        #[test]
        fn stats_and_exact_totals_equal_paging_whatever_the_shards_and_failures(
            shards in 50usize..120,
            rollover in 1usize..12,
            batch in 1usize..40,
            seed in any::<u64>(),
        ) {
            let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
            let stream = Box::new(ShardedStream::new(shards, rollover, batch, seed));
            runtime.block_on(stats_and_totals_equal_paging(Delivery::Sharded(stream)));
        }
    }
}

/// Loads executions and event logs, delivers the stream as `delivery` says, and checks stats and
/// exact totals against paging; answers the number of shard ids the stream had.
async fn stats_and_totals_equal_paging(mut delivery: Delivery) -> usize {
    let store = store();
    let p = "stats";
    let integrations = ["salesforce", "hubspot", "slack"];
    const LEVELS: [&str; 3] = ["INFO", "WARN", "ERROR"];
    // 240 executions over 5 days; each starts RUNNING, then most finish (some twice: a resend).
    let started: Vec<Value> = (0..240)
        .map(|n| {
            execution(
                p,
                &format!("e{n}"),
                n * 29 + 3,
                json!({"status": "RUNNING", "integration": integrations[n as usize % 3],
                       "userId": format!("u{}", n % 5), "triggerType": if n % 4 == 0 { "cron" } else { "webhook" }}),
            )
        })
        .collect();
    load(&store, &started).await;
    let mut at = match &mut delivery {
        Delivery::OneShard => feed_stats(&store, 0, 37).await,
        Delivery::Sharded(stream) => stream.feed(&store, 0).await,
    };
    let finished: Vec<Value> = (0..240)
        .filter(|n| n % 7 != 0)
        .map(|n| {
            let status = if n % 5 == 1 { "FAILED" } else { "SUCCEEDED" };
            execution(
                p,
                &format!("e{n}"),
                n * 29 + 3,
                json!({"status": status, "integration": integrations[n as usize % 3],
                       "userId": format!("u{}", n % 5), "triggerType": if n % 4 == 0 { "cron" } else { "webhook" },
                       "runDuration": 50 + (n * n * 37) % 90_000}),
            )
        })
        .collect();
    load(&store, &finished).await;
    load(&store, &finished[..40]).await; // sent again: duplicates change nothing
    let logs: Vec<Value> = (0..90)
        .map(|n| {
            log(
                p,
                None,
                n * 61 + 2,
                json!({"level": LEVELS[n as usize % 3], "type": "WEBHOOK_TRIGGER"}),
            )
        })
        .collect();
    load(&store, &logs).await;
    // Nothing may count twice.
    at = match &mut delivery {
        // Each batch delivered twice, then the whole stream again in other batch sizes.
        Delivery::OneShard => {
            let end = feed_stats(&store, at, 23).await;
            feed_stats(&store, at, 23).await;
            feed_stats(&store, 0, 11).await;
            feed_stats(&store, 5, 100).await;
            end
        }
        Delivery::Sharded(stream) => stream.feed(&store, at).await,
    };
    assert_eq!(
        feed_stats(&store, at, 10).await,
        at,
        "the counters' own writes are not records"
    );
    // However many shards wrote a counter, its items keep the marks of those live within a mark's
    // lifetime, or no more than the few an item keeps before it prunes.
    let counters = store.backend.items_under("ST#");
    let most = counters
        .iter()
        .map(runledger::store::capacity::counters::marks_of)
        .max()
        .unwrap();
    let (shard_ids, live) = match &delivery {
        Delivery::OneShard => (1, 1),
        Delivery::Sharded(stream) => (stream.shard_ids(), stream.live_most()),
    };
    assert!(
        most <= live.max(runledger::store::capacity::counters::PRUNE_AT + 1),
        "an item holds {most} marks of {shard_ids} shards, {live} of them live at once"
    );

    let k = key(&store, p).await;
    let list_path = format!("/v1/projects/{p}/workflow-executions");
    let logs_path = format!("/v1/projects/{p}/event-logs");
    let after = runledger::dates::format(now() - chrono::Duration::minutes(3 * 24 * 60 + 17));
    let before = runledger::dates::format(now() - chrono::Duration::minutes(24 * 60 - 5));
    type Case<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>);
    let cases: Vec<Case> = vec![
        (&list_path, "workflowExecutions", vec![]),
        (&list_path, "workflowExecutions", vec![("integration", "salesforce")]),
        (&list_path, "workflowExecutions", vec![("status", "FAILED")]),
        (
            &list_path,
            "workflowExecutions",
            vec![("userId", "u1"), ("status", "SUCCEEDED,RUNNING")],
        ),
        (
            &list_path,
            "workflowExecutions",
            vec![("triggerType", "cron"), ("afterDate", &after), ("beforeDate", &before)],
        ),
        (&list_path, "workflowExecutions", vec![("afterDate", &after)]),
        (
            &logs_path,
            "eventLogs",
            vec![("level", "WARN,ERROR"), ("beforeDate", &before)],
        ),
        (&logs_path, "eventLogs", vec![]),
    ];
    for (path, list, query) in &cases {
        let all = page_all(&store, path, list, query, &k).await;
        let mut q = query.clone();
        q.push(("count", "true"));
        let (_, page) = call(&store, endpoint_of(list), &get(path, &q, &k)).await;
        assert_eq!(page["total"], json!(all.len()), "{list} {query:?}");
        assert_eq!(page["totalExact"], json!(true), "{list} {query:?}");
        assert!(!all.is_empty(), "{query:?}");
    }

    // Stats per day by integration equal the listing paged for each integration and day.
    let everything = page_all(&store, &list_path, "workflowExecutions", &[], &k).await;
    let stats_path = format!("/v1/projects/{p}/stats");
    let range = [("afterDate", "2026-11-19"), ("beforeDate", "2026-11-26")];
    let mut q = range.to_vec();
    q.push(("groupBy", "integration"));
    let (status, stats) = call(&store, Endpoint::Stats, &get(&stats_path, &q, &k)).await;
    assert_eq!(status, 200, "{stats}");
    assert_eq!(stats["buckets"].as_array().unwrap().len(), 7);
    let mut seen = 0;
    for bucket in stats["buckets"].as_array().unwrap() {
        let day = &bucket["start"].as_str().unwrap()[..10];
        for group in bucket["groups"].as_array().unwrap() {
            let integration = group["key"].as_str().unwrap();
            let matching: Vec<&Value> = everything
                .iter()
                .filter(|e| e["integration"] == integration && e["dateStarted"].as_str().unwrap().starts_with(day))
                .collect();
            assert_eq!(group["count"], json!(matching.len()), "{day} {integration}");
            let failed = matching.iter().filter(|e| e["status"] == "FAILED").count();
            assert_eq!(group["byStatus"]["FAILED"], json!(failed));
            seen += matching.len();
            let durations: Vec<f64> = matching
                .iter()
                .filter(|e| e["status"] != "RUNNING")
                .map(|e| e["runDuration"].as_f64().unwrap())
                .collect();
            if durations.is_empty() {
                assert!(group["duration"].is_null());
                continue;
            }
            for (name, q) in [("p50", 0.5), ("p90", 0.9), ("p99", 0.99)] {
                let exact = exact_quantile(durations.clone(), q);
                let got = group["duration"][name].as_f64().unwrap();
                assert!((got - exact).abs() <= 0.02 * exact + 0.1, "{name} {got} vs {exact}");
            }
        }
    }
    assert_eq!(seen, everything.len());

    // By status, for one user, hourly: every hour's counts match.
    let mut q = vec![
        ("afterDate", "2026-11-24T00:00:00Z"),
        ("beforeDate", "2026-11-25T12:00:00Z"),
        ("userId", "u2"),
        ("interval", "hour"),
    ];
    let (status, hourly) = call(&store, Endpoint::Stats, &get(&stats_path, &q, &k)).await;
    assert_eq!(status, 200, "{hourly}");
    assert_eq!(hourly["buckets"].as_array().unwrap().len(), 36);
    for bucket in hourly["buckets"].as_array().unwrap() {
        let hour = &bucket["start"].as_str().unwrap()[..13];
        for group in bucket["groups"].as_array().unwrap() {
            let n = everything
                .iter()
                .filter(|e| {
                    e["userId"] == "u2"
                        && e["status"] == group["key"]
                        && e["dateStarted"].as_str().unwrap().starts_with(hour)
                })
                .count();
            assert_eq!(group["count"], json!(n), "{hour} {}", group["key"]);
        }
    }
    // Two dimensions at once are refused, naming the rule.
    q.push(("integration", "slack"));
    let (status, body) = call(&store, Endpoint::Stats, &get(&stats_path, &q, &k)).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("one dimension"), "{body}");
    shard_ids
}
