//! Shared helpers of the integration and end-to-end tests. The tests run against the stack that
//! `scripts/test-stack up` starts (DynamoDB Local, moto and `cargo lambda watch`) and read its `.local/test.env`
//! variables; without them they fail rather than pass vacuously.

pub mod volume;

use runledger::config::Settings;
use runledger::store::{DynamoStore, ExecutionRecord, ReadExecution, ReadStep, StepRecord};
use serde_json::value::RawValue;
use serde_json::{json, Value};

pub fn require_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run the tests with `make test`"))
}

/// The local DynamoDB's endpoint (DynamoDB Local), as the test stack's environment names it.
pub fn dynamodb_endpoint() -> String {
    require_env("AWS_ENDPOINT_URL_DYNAMODB")
}

/// Settings of the functions under test, from the same environment they were started with.
pub fn settings() -> Settings {
    dynamodb_endpoint();
    Settings::from_env().expect("test environment settings")
}

pub async fn store() -> DynamoStore {
    store_with(&settings()).await
}

pub async fn store_with(settings: &Settings) -> DynamoStore {
    let clients = runledger::aws::clients(settings).await;
    DynamoStore::dynamo(&clients, settings)
}

/// Store whose calls go through `endpoint` instead of the environment's.
pub async fn store_via(endpoint: &str) -> DynamoStore {
    let settings = settings();
    let clients = runledger::aws::clients_for(&settings, Some(endpoint)).await;
    DynamoStore::dynamo(&clients, &settings)
}

/// Waits until the local stack's stream pump has handed everything written so far to the
/// stream's consumers (the `stats` function): its `drained` file names the last poll that found
/// nothing new.
pub async fn stream_delivered() {
    drained("RUNLEDGER_STREAM_DRAINED", "the stream pump", "test-stream-pump").await
}

/// Waits until the local stack's export pump has handed every export unit queued so far to the
/// export worker and the worker answered.
pub async fn exports_delivered() {
    drained("RUNLEDGER_EXPORT_DRAINED", "the export pump", "test-export-pump").await
}

async fn drained(variable: &str, pump: &str, name: &str) {
    let path = require_env(variable);
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    loop {
        let drained: f64 = std::fs::read_to_string(&path)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0.0);
        if drained > since {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{pump} has not caught up in 300 s; see .local/{name}.log"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// Holds the local stack's stream pump back while it lives (it delivers nothing, for 60 s at most),
/// so a test sees what readers answer while the stream's consumers trail the table.
pub struct StreamHold(std::path::PathBuf);

impl StreamHold {
    pub fn new() -> StreamHold {
        let drained = std::path::PathBuf::from(require_env("RUNLEDGER_STREAM_DRAINED"));
        let hold = drained.with_file_name("hold");
        std::fs::write(&hold, b"held by a test").expect("hold file");
        StreamHold(hold)
    }
}

impl Default for StreamHold {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for StreamHold {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A project id no other test uses, so tests share one table without seeing each other.
pub fn project(prefix: &str) -> String {
    format!("{prefix}-{}", &uuid::Uuid::new_v4().simple().to_string()[..10])
}

pub fn id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// An ISO timestamp `minutes` before a clock reading taken once per test process, so that
/// differences between two such timestamps are exact.
pub fn minutes_ago(minutes: i64) -> String {
    static ANCHOR: std::sync::OnceLock<chrono::DateTime<chrono::Utc>> = std::sync::OnceLock::new();
    let anchor = *ANCHOR.get_or_init(chrono::Utc::now);
    runledger::dates::format(anchor - chrono::Duration::minutes(minutes))
}

pub fn execution(project: &str, id: &str, status: &str, started: &str, extra: Value) -> Value {
    let mut e = json!({"kind": "execution", "projectId": project, "id": id, "workflowId": "wf-1",
                       "status": status, "dateStarted": started});
    merge(&mut e, extra);
    e
}

pub fn step(project: &str, execution: &str, id: &str, status: &str, started: &str, extra: Value) -> Value {
    let mut e = json!({"kind": "step", "projectId": project, "executionId": execution, "id": id,
                       "stepName": "step", "status": status, "dateStarted": started});
    merge(&mut e, extra);
    e
}

fn merge(into: &mut Value, extra: Value) {
    if let (Some(a), Value::Object(b)) = (into.as_object_mut(), extra) {
        a.extend(b);
    }
}

pub fn raw(events: &[Value]) -> Vec<Box<RawValue>> {
    events
        .iter()
        .map(|e| RawValue::from_string(e.to_string()).expect("json"))
        .collect()
}

pub async fn create_key(project: &str) -> String {
    let store = store().await;
    runledger::apikeys::KeyAdmin { store: &store }
        .create(project, "test", chrono::Utc::now().timestamp())
        .await
        .expect("create key")
        .token
}

/// Everything stored of an execution, as the store returns it: the record with its bodies and
/// every step with its bodies. `None` when the execution was never stored.
pub async fn stored_state(
    store: &DynamoStore,
    project: &str,
    execution_id: &str,
) -> Option<(ExecutionRecord, Vec<StepRecord>)> {
    let now = chrono::Utc::now().timestamp();
    let record = store
        .execution(project, execution_id, 1000, now)
        .await
        .expect("read execution")?;
    let mut steps = Vec::new();
    for s in &record.steps.items {
        steps.push(
            store
                .step(project, execution_id, &s.id, now)
                .await
                .expect("read step")
                .expect("step"),
        );
    }
    Some((record, steps))
}

/// Every id a list request returns, following its cursor page by page (in-process, no HTTP).
pub async fn list_ids(
    store: &DynamoStore,
    settings: &Settings,
    project: &str,
    mut params: runledger::params::ListParams,
) -> Vec<String> {
    let mut ids = Vec::new();
    let links = runledger::api::links::Links {
        settings,
        project,
        base_url: "http://test",
    };
    loop {
        let page = runledger::api::list::list(store, &links, &params)
            .await
            .expect("list page");
        ids.extend(page.workflow_executions.iter().map(|x| x.id.clone()));
        match page.page.next.next_cursor {
            Some(c) => params.paging.cursor = Some(c),
            None => return ids,
        }
    }
}

/// HTTP client for the running functions: the API routes and the Lambda Invoke API.
pub struct Api {
    pub base: String,
    client: reqwest::Client,
}

impl Api {
    pub fn from_env() -> Api {
        Api {
            base: require_env("RUNLEDGER_API_URL"),
            client: reqwest::Client::new(),
        }
    }

    /// GET a path (or absolute URL) with an optional bearer key; returns status and JSON body.
    pub async fn get(&self, path_or_url: &str, key: Option<&str>) -> (u16, Value) {
        let url = if path_or_url.starts_with("http") {
            path_or_url.to_string()
        } else {
            format!("{}{path_or_url}", self.base)
        };
        for attempt in 0.. {
            let mut req = self.client.get(&url);
            if let Some(k) = key {
                req = req.bearer_auth(k);
            }
            let resp = req.send().await.expect("GET");
            let status = resp.status().as_u16();
            let text = resp.text().await.expect("body");
            let body: Value = serde_json::from_str(&text).unwrap_or_else(|_| json!({"unparsed": text}));
            // `cargo lambda watch` now and then answers a request with a 500 of its own (a problem
            // document, never the API's `{"error": ...}`) that the function never logged; a GET is
            // safe to ask again, as a client of real Lambda would after a service error.
            let watcher_500 = status == 500 && body.get("error").is_none() && body.get("title").is_some();
            if !watcher_500 || attempt == 2 {
                return (status, body);
            }
        }
        unreachable!()
    }

    /// Sends `method` to a path; returns status, the `Allow` header and the JSON body.
    pub async fn send(&self, method: &str, path: &str, key: &str) -> (u16, Option<String>, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let resp = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(key)
            .send()
            .await
            .expect("request");
        let status = resp.status().as_u16();
        let allow = resp
            .headers()
            .get("allow")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let text = resp.text().await.expect("body");
        (
            status,
            allow,
            serde_json::from_str(&text).unwrap_or_else(|_| json!({"unparsed": text})),
        )
    }

    /// Invokes a function through the Lambda Invoke API, as any AWS SDK's Lambda client would.
    pub async fn invoke(&self, function: &str, payload: &Value) -> (Option<String>, Value) {
        self.invoke_raw(function, payload.to_string()).await
    }

    /// Invokes with the payload bytes exactly as given.
    pub async fn invoke_raw(&self, function: &str, payload: String) -> (Option<String>, Value) {
        let url = format!("{}/2015-03-31/functions/{function}/invocations", self.base);
        let resp = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .body(payload)
            .send()
            .await
            .expect("invoke");
        let function_error = resp
            .headers()
            .get("x-amz-function-error")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body: Value = resp.json().await.expect("invoke response json");
        // Real Lambda flags a function error with a header; the local emulator answers HTTP 500 with
        // the same error body and no header, so the body's errorType counts too.
        let function_error = function_error.or_else(|| body["errorType"].as_str().map(str::to_string));
        (function_error, body)
    }

    pub async fn fetch_bytes(&self, url: &str) -> (u16, Vec<u8>) {
        let resp = self.client.get(url).send().await.expect("fetch");
        (resp.status().as_u16(), resp.bytes().await.expect("bytes").to_vec())
    }
}

/// `scripts/fault_proxy.py` in front of the test stack's DynamoDB and S3, started for one test
/// and stopped when dropped.
pub struct FaultProxy {
    pub url: String,
    child: std::process::Child,
}

impl FaultProxy {
    /// `rate`: share of requests answered with a fault.
    pub fn start(rate: f64, seed: u64) -> FaultProxy {
        Self::spawn(&["--rate", &rate.to_string(), "--seed", &seed.to_string()])
    }

    /// Loses the first response of every conditional write, after the write was made.
    pub fn losing_first_writes() -> FaultProxy {
        Self::spawn(&["--lose-first-writes"])
    }

    /// What the proxy injected so far, by kind.
    pub async fn injected(&self) -> Value {
        reqwest::get(format!("{}/__faults", self.url))
            .await
            .expect("proxy counts")
            .json()
            .await
            .expect("proxy counts json")
    }

    fn spawn(args: &[&str]) -> FaultProxy {
        use std::io::BufRead;
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/fault_proxy.py");
        let mut child = std::process::Command::new("python3")
            .args([
                script,
                "--dynamodb",
                &dynamodb_endpoint(),
                "--s3",
                &require_env("AWS_ENDPOINT_URL_S3"),
            ])
            .args(args)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("start fault proxy");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("proxy port");
        let port = line
            .trim()
            .strip_prefix("listening on ")
            .expect("proxy banner")
            .to_string();
        FaultProxy {
            url: format!("http://127.0.0.1:{port}"),
            child,
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
