//! Exports and the archive over the in-memory store: every record ingest accepts reaches every
//! format, a day's export is replaced whole, the scheduled run follows the register of project
//! days, and a body S3 will not hand over is archived as missing.

use runledger::archive::archive_batch;
use runledger::config::Settings;
use runledger::export::{export, export_changed, ExportRequest, Manifest, ScheduledRun};
use runledger::ingest::{ingest, Report};
use runledger::store::{ExportRecords, MemoryStore, StoreConfig};
use runledger::streams::StreamEvent;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use std::io::Read;

fn store() -> MemoryStore {
    MemoryStore::memory(StoreConfig { retention_days: 90 })
}

fn at(s: &str) -> chrono::DateTime<chrono::Utc> {
    runledger::dates::parse(s).unwrap()
}

/// Ingests event texts as they came (bodies byte for byte, which a `Value` could not carry).
async fn load(store: &MemoryStore, now: &str, events: &[String]) -> Report {
    let raw: Vec<Box<RawValue>> = events
        .iter()
        .map(|e| RawValue::from_string(e.clone()).expect("a JSON event"))
        .collect();
    Report::from_outcomes(&ingest(store, &Settings::defaults(), &raw, at(now)).await)
}

/// An execution event; `extra` is more members as raw JSON text (`"input": ...`), or empty.
fn execution(p: &str, id: &str, status: &str, started: &str, extra: &str) -> String {
    let more = if extra.is_empty() {
        String::new()
    } else {
        format!(", {extra}")
    };
    format!(
        r#"{{"kind": "execution", "projectId": "{p}", "id": "{id}", "workflowId": "wf", "status": "{status}", "dateStarted": "{started}"{more}}}"#
    )
}

fn step(p: &str, e: &str, id: &str, started: &str) -> String {
    format!(
        r#"{{"kind": "step", "projectId": "{p}", "executionId": "{e}", "id": "{id}", "stepName": "s", "status": "SUCCEEDED", "dateStarted": "{started}", "output": {{"step": "{id}"}}}}"#
    )
}

/// Bodies serde_json cannot hold as JSON: nesting past its limit, a number past f64, a lone
/// surrogate escape.
fn unholdable() -> [String; 3] {
    [
        format!("{}{}", "[".repeat(200), "]".repeat(200)),
        "1e400".to_string(),
        r#""\ud800""#.to_string(),
    ]
}

fn req(p: &str, after: &str, before: &str, format: Option<&str>) -> ExportRequest {
    ExportRequest {
        project_id: p.into(),
        after_date: after.into(),
        before_date: before.into(),
        format: format.map(str::to_string),
    }
}

fn folder(store: &MemoryStore, p: &str, date: &str) -> Vec<String> {
    let prefix = format!("exports/projectId={p}/date={date}/");
    store
        .backend
        .object_keys(&prefix)
        .into_iter()
        .map(|k| k[prefix.len()..].to_string())
        .collect()
}

fn object(store: &MemoryStore, key: &str) -> Vec<u8> {
    store.backend.object(key).unwrap_or_else(|| panic!("no object {key}"))
}

/// Rows of a gzipped JSON Lines object, each parsed strictly.
fn jsonl_rows(bytes: &[u8]) -> Vec<Value> {
    let mut text = String::new();
    flate2::read::GzDecoder::new(bytes).read_to_string(&mut text).unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("a row that is not strict JSON ({e}): {l}")))
        .collect()
}

/// Rows of a Parquet object: (column, value) of each row, and the row count of its metadata.
fn parquet_rows(bytes: &[u8]) -> (i64, Vec<serde_json::Map<String, Value>>) {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let path = std::env::temp_dir().join(format!("runledger-exports-{}-{n}.parquet", std::process::id()));
    std::fs::write(&path, bytes).unwrap();
    let reader = SerializedFileReader::new(std::fs::File::open(&path).unwrap()).unwrap();
    std::fs::remove_file(&path).ok();
    let n = reader.metadata().file_metadata().num_rows();
    let rows = reader
        .get_row_iter(None)
        .unwrap()
        .map(|r| {
            use parquet::record::Field;
            r.unwrap()
                .get_column_iter()
                .map(|(name, field)| {
                    let v = match field {
                        Field::Null => Value::Null,
                        Field::Long(n) => json!(n),
                        Field::Str(s) => json!(s),
                        Field::Bytes(b) => json!(String::from_utf8_lossy(b.data())),
                        other => panic!("{name}: {other:?}"),
                    };
                    (name.clone(), v)
                })
                .collect()
        })
        .collect();
    (n, rows)
}

fn rows_of(store: &MemoryStore, m: &Manifest) -> Vec<Value> {
    let mut rows = Vec::new();
    for part in &m.parts {
        let bytes = object(store, &part.key);
        if part.key.ends_with(".parquet") {
            let (n, got) = parquet_rows(&bytes);
            assert_eq!(n as u64, part.rows, "{}", part.key);
            rows.extend(got.into_iter().map(Value::Object));
        } else {
            let got = jsonl_rows(&bytes);
            assert_eq!(got.len() as u64, part.rows, "{}", part.key);
            rows.extend(got);
        }
    }
    assert_eq!(rows.len() as u64, m.rows, "the manifest counts what the parts hold");
    rows
}

fn manifest_of(store: &MemoryStore, p: &str, date: &str, name: &str) -> Value {
    serde_json::from_slice(&object(store, &format!("exports/projectId={p}/date={date}/{name}"))).unwrap()
}

const NOW: &str = "2026-11-25T12:00:00Z";

async fn load_unholdable(store: &MemoryStore, p: &str) {
    let [nested, huge, surrogate] = unholdable();
    let events = vec![
        execution(
            p,
            "e0",
            "SUCCEEDED",
            "2026-11-24T08:00:00.000Z",
            r#""input": {"n": 1.50}"#,
        ),
        execution(
            p,
            "e1",
            "SUCCEEDED",
            "2026-11-24T08:01:00.000Z",
            &format!(r#""input": {nested}"#),
        ),
        execution(
            p,
            "e2",
            "SUCCEEDED",
            "2026-11-24T08:02:00.000Z",
            &format!(r#""output": {huge}"#),
        ),
        execution(
            p,
            "e3",
            "FAILED",
            "2026-11-24T08:03:00.000Z",
            &format!(r#""input": {surrogate}, "output": {huge}"#),
        ),
    ];
    let report = load(store, NOW, &events).await;
    assert_eq!(report.accepted, 4, "{report:?}");
}

fn check_text_bodies(rows: &[Value], what: &str) {
    let [nested, huge, surrogate] = unholdable();
    let by_id = |id: &str| {
        rows.iter()
            .find(|r| r["id"] == id)
            .unwrap_or_else(|| panic!("{what}: no row {id}"))
    };
    let text_bodies = |r: &Value| match &r["textBodies"] {
        // Parquet holds the list as JSON text.
        Value::String(s) => serde_json::from_str::<Value>(s).unwrap(),
        v => v.clone(),
    };
    let body = |r: &Value, f: &str| match &r[f] {
        Value::String(s) if what == "parquet" => serde_json::from_str::<Value>(s).unwrap(),
        v => v.clone(),
    };
    assert_eq!(body(by_id("e0"), "input"), json!({"n": 1.5}), "{what}");
    assert!(by_id("e0").get("textBodies").is_none_or(Value::is_null), "{what}");
    assert_eq!(body(by_id("e1"), "input"), json!(nested), "{what}");
    assert_eq!(text_bodies(by_id("e1")), json!(["input"]), "{what}");
    assert_eq!(body(by_id("e2"), "output"), json!(huge), "{what}");
    assert_eq!(text_bodies(by_id("e2")), json!(["output"]), "{what}");
    assert_eq!(body(by_id("e3"), "input"), json!(surrogate), "{what}");
    assert_eq!(text_bodies(by_id("e3")), json!(["input", "output"]), "{what}");
}

#[tokio::test]
async fn every_accepted_record_reaches_both_formats_with_unholdable_bodies_as_text() {
    let store = store();
    load_unholdable(&store, "odd").await;
    for format in ["jsonl", "parquet"] {
        let out = export(&store, &req("odd", "2026-11-24", "2026-11-25", Some(format)), at(NOW))
            .await
            .unwrap();
        assert_eq!(out.manifests.len(), 1, "{format}");
        assert_eq!(out.manifests[0].rows, 4, "{format}: every execution is a row");
        let rows = rows_of(&store, &out.manifests[0]);
        assert_eq!(rows.len(), 4, "{format}");
        check_text_bodies(&rows, format);
    }
    // One manifest per format: neither export orphans the other's parts.
    let names = folder(&store, "odd", "2026-11-24");
    assert!(names.contains(&"manifest.json".to_string()), "{names:?}");
    assert!(names.contains(&"manifest.parquet.json".to_string()), "{names:?}");
    assert_eq!(
        manifest_of(&store, "odd", "2026-11-24", "manifest.json")["format"],
        "jsonl"
    );
    assert_eq!(names.len(), 4, "two manifests and a part of each: {names:?}");
}

/// A TTL deletion of each item put so far, as the stream delivers it.
fn ttl_deletions(store: &MemoryStore) -> StreamEvent {
    let mut last: std::collections::BTreeMap<String, Value> = Default::default();
    for r in store.backend.stream_records(0) {
        let image = r["dynamodb"]["NewImage"].clone();
        last.insert(format!("{}|{}", image["pk"], image["sk"]), image);
    }
    let records: Vec<Value> = last
        .into_values()
        .enumerate()
        .map(|(i, image)| {
            json!({"eventName": "REMOVE", "userIdentity": {"type": "Service", "principalId": "dynamodb.amazonaws.com"},
                   "dynamodb": {"SequenceNumber": format!("{:021}", i + 1), "OldImage": image}})
        })
        .collect();
    StreamEvent::parse(json!({ "Records": records })).unwrap()
}

fn archived_rows(store: &MemoryStore, p: &str) -> Vec<Value> {
    store
        .backend
        .object_keys(&format!("archive/projectId={p}/"))
        .iter()
        .flat_map(|k| jsonl_rows(&object(store, k)))
        .collect()
}

#[tokio::test]
async fn the_archive_keeps_every_record_with_unholdable_bodies_as_text() {
    let store = store();
    load_unholdable(&store, "oddarch").await;
    let (response, summary) = archive_batch(&store, &ttl_deletions(&store)).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    let rows: Vec<Value> = archived_rows(&store, "oddarch")
        .into_iter()
        .filter(|r| r["kind"] == "execution")
        .collect();
    assert_eq!(rows.len(), 4, "{summary:?}");
    check_text_bodies(&rows, "archive");
}

/// About 20 KB that gzip cannot shrink below the inline threshold: it goes to S3.
fn offloaded_body() -> String {
    let mut x: u64 = 7;
    let words: Vec<String> = (0..2000)
        .map(|_| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            format!("\"{:08x}\"", x >> 32)
        })
        .collect();
    format!("[{}]", words.join(","))
}

#[tokio::test]
async fn a_body_s3_denies_is_archived_as_missing_and_the_batch_succeeds() {
    let store = store();
    let body = offloaded_body();
    let report = load(
        &store,
        NOW,
        &[execution(
            "deny",
            "e1",
            "SUCCEEDED",
            "2026-11-24T08:00:00.000Z",
            &format!(r#""output": {body}"#),
        )],
    )
    .await;
    assert_eq!(report.accepted, 1, "{report:?}");
    assert!(
        !store.backend.object_keys("bodies/deny/").is_empty(),
        "the body went to S3"
    );
    // The bucket's lifecycle took the body, and the role may not list the bucket: S3 answers 403.
    store.backend.remove_objects("bodies/deny/");
    store.backend.deny_missing_objects();
    let (response, summary) = archive_batch(&store, &ttl_deletions(&store)).await;
    assert!(
        response.batch_item_failures.is_empty(),
        "a missing body never fails the batch"
    );
    assert_eq!(summary.missing_bodies, 1);
    let rows = archived_rows(&store, "deny");
    let row = rows
        .iter()
        .find(|r| r["kind"] == "execution")
        .expect("the execution is archived");
    use sha2::Digest;
    let digest = hex::encode(sha2::Sha256::digest(body.as_bytes()));
    assert_eq!(row["missingBodies"], json!([digest]));
    assert!(row.get("output").is_none());
}

#[tokio::test]
async fn an_export_of_a_day_replaces_its_set_and_leaves_no_orphan_part() {
    let store = store();
    let p = "rerun";
    let day = "2026-11-24";
    let events: Vec<String> = (0..5)
        .map(|i| execution(p, &format!("e{i}"), "RUNNING", &format!("{day}T0{i}:00:00.000Z"), ""))
        .collect();
    assert_eq!(load(&store, NOW, &events).await.accepted, 5);
    // What an earlier version left: parts named by their number, one more than this export needs.
    for name in ["part-00000.jsonl.gz", "part-00001.jsonl.gz"] {
        store.put_export(p, day, name, b"old".to_vec()).await.unwrap();
    }
    let first = export(&store, &req(p, day, "2026-11-25", None), at(NOW)).await.unwrap();
    let second = export(
        &store,
        &req(p, "2026-11-24T06:00:00Z", "2026-11-24T07:00:00Z", None),
        at("2026-11-25T13:00:00Z"),
    )
    .await
    .unwrap();
    let m = &second.manifests[0];
    assert_eq!(m.rows, 5, "a partial range still writes the whole day");
    assert_eq!(
        (m.after_date.as_str(), m.before_date.as_str()),
        ("2026-11-24T00:00:00.000Z", "2026-11-25T00:00:00.000Z")
    );
    let mut expected: Vec<String> = m
        .parts
        .iter()
        .map(|p| p.key.rsplit('/').next().unwrap().to_string())
        .collect();
    expected.push("manifest.json".into());
    expected.sort();
    assert_eq!(
        folder(&store, p, day),
        expected,
        "the day holds the manifest and its parts, nothing else"
    );
    assert_ne!(
        first.manifests[0].parts[0].key, m.parts[0].key,
        "a rerun names its own parts"
    );
    assert_eq!(rows_of(&store, m).len(), 5);
}

#[tokio::test]
async fn a_day_whose_records_began_to_expire_keeps_its_export() {
    let store = store();
    let p = "aging";
    let day = "2026-11-24";
    assert_eq!(
        load(
            &store,
            NOW,
            &[execution(p, "e1", "SUCCEEDED", "2026-11-24T08:00:00.000Z", "")]
        )
        .await
        .accepted,
        1
    );
    let first = export(&store, &req(p, day, "2026-11-25", None), at(NOW)).await.unwrap();
    let before = folder(&store, p, day);
    // 89 days on: some of the day's records may be gone; the export is the history.
    let late = export(&store, &req(p, day, "2026-11-25", None), at("2027-02-21T12:00:00Z"))
        .await
        .unwrap();
    assert!(late.manifests.is_empty());
    assert_eq!(late.kept_days, vec![day.to_string()]);
    assert_eq!(folder(&store, p, day), before);
    assert_eq!(first.manifests[0].rows, 1);
}

fn status_in(store: &MemoryStore, run: &ScheduledRun, p: &str, id: &str) -> Option<String> {
    let m = run.manifests.iter().find(|m| m.project_id == p)?;
    rows_of(store, m)
        .iter()
        .find(|r| r["id"] == id && r["kind"] == "execution")
        .map(|r| r["status"].as_str().unwrap().to_string())
}

#[tokio::test]
async fn the_scheduled_run_writes_again_a_day_that_changed_after_it_was_exported() {
    let store = store();
    let p = "late";
    // Started late on the 24th; still running when the 25th's run exports the 24th.
    let started = "2026-11-24T23:50:00.000Z";
    assert_eq!(
        load(
            &store,
            "2026-11-24T23:50:01Z",
            &[execution(p, "e1", "RUNNING", started, "")]
        )
        .await
        .accepted,
        1
    );
    let run = export_changed(&store, at("2026-11-25T01:15:00Z"), None).await;
    assert!(run.failures.is_empty(), "{run:?}");
    assert_eq!(status_in(&store, &run, p, "e1").as_deref(), Some("RUNNING"));

    // Nothing changed: the next run writes nothing.
    let idle = export_changed(&store, at("2026-11-25T02:15:00Z"), None).await;
    assert_eq!((idle.pending, idle.manifests.len()), (0, 0), "{idle:?}");

    // It ends on the 25th, and a step of it is sent late on the 26th: both change the 24th.
    let ended = execution(
        p,
        "e1",
        "SUCCEEDED",
        started,
        r#""dateEnded": "2026-11-25T05:00:00.000Z""#,
    );
    assert_eq!(load(&store, "2026-11-25T05:00:01Z", &[ended]).await.accepted, 1);
    let run = export_changed(&store, at("2026-11-26T01:15:00Z"), None).await;
    assert!(run.failures.is_empty(), "{run:?}");
    assert_eq!(run.manifests.len(), 1, "{run:?}");
    assert_eq!(run.manifests[0].date, "2026-11-24");
    assert_eq!(status_in(&store, &run, p, "e1").as_deref(), Some("SUCCEEDED"));

    assert_eq!(
        load(
            &store,
            "2026-11-26T09:00:00Z",
            &[step(p, "e1", "s1", "2026-11-25T00:10:00.000Z")]
        )
        .await
        .accepted,
        1
    );
    let run = export_changed(&store, at("2026-11-27T01:15:00Z"), None).await;
    let dates: Vec<&str> = run.manifests.iter().map(|m| m.date.as_str()).collect();
    assert_eq!(dates, vec!["2026-11-24"], "the step lands in its execution's day");
    let rows = rows_of(&store, &run.manifests[0]);
    assert_eq!(rows.iter().filter(|r| r["kind"] == "step").count(), 1);
    // The day's folder holds the last set only.
    let names = folder(&store, p, "2026-11-24");
    assert_eq!(names.len(), 1 + run.manifests[0].parts.len(), "{names:?}");
}

#[tokio::test]
async fn the_scheduled_run_refreshes_a_parquet_export_of_a_changed_day_too() {
    let store = store();
    let p = "both";
    let started = "2026-11-24T10:00:00.000Z";
    load(
        &store,
        "2026-11-24T10:00:01Z",
        &[execution(p, "e1", "RUNNING", started, "")],
    )
    .await;
    export(
        &store,
        &req(p, "2026-11-24", "2026-11-25", Some("parquet")),
        at("2026-11-24T11:00:00Z"),
    )
    .await
    .unwrap();
    load(
        &store,
        "2026-11-24T12:00:00Z",
        &[execution(p, "e1", "SUCCEEDED", started, "")],
    )
    .await;
    let run = export_changed(&store, at("2026-11-25T01:15:00Z"), None).await;
    let formats: Vec<String> = run.manifests.iter().map(|m| format!("{:?}", m.format)).collect();
    assert_eq!(formats, vec!["Jsonl", "Parquet"]);
    for m in &run.manifests {
        let rows = rows_of(&store, m);
        assert_eq!(rows[0]["status"], "SUCCEEDED", "{:?}", m.format);
    }
    assert_eq!(
        folder(&store, p, "2026-11-24").len(),
        4,
        "two manifests and a part of each"
    );
}

#[tokio::test]
async fn one_failing_project_does_not_stop_the_others_and_stays_pending() {
    let store = store();
    for p in ["fa", "fb", "fc"] {
        let report = load(
            &store,
            "2026-11-24T10:00:01Z",
            &[execution(p, "e1", "SUCCEEDED", "2026-11-24T10:00:00.000Z", "")],
        )
        .await;
        assert_eq!(report.accepted, 1);
    }
    store.backend.fail_puts_under("exports/projectId=fb/");
    let run = export_changed(&store, at("2026-11-25T01:15:00Z"), None).await;
    let exported: Vec<&str> = run.manifests.iter().map(|m| m.project_id.as_str()).collect();
    assert_eq!(exported, vec!["fa", "fc"], "{run:?}");
    assert_eq!(run.failures.len(), 1, "{run:?}");
    assert_eq!(run.failures[0].project_id.as_deref(), Some("fb"));
    assert_eq!(run.failures[0].date, "2026-11-24");
    // The failed day waits for the retry; the others are done.
    let days = store.project_days("2026-11-24").await.unwrap();
    let pending: Vec<&str> = days
        .iter()
        .filter(|d| d.pending())
        .map(|d| d.project.as_str())
        .collect();
    assert_eq!(pending, vec!["fb"]);
    let retry = export_changed(&store, at("2026-11-25T01:20:00Z"), None).await;
    assert_eq!(
        (retry.pending, retry.failures.len()),
        (1, 1),
        "only the failed day is tried again"
    );
}

#[tokio::test]
async fn a_run_out_of_time_leaves_the_days_it_did_not_start_for_the_next_run() {
    let store = store();
    let now = chrono::Utc::now();
    let yesterday = runledger::dates::format(now - chrono::Duration::days(1));
    let report = load(
        &store,
        &runledger::dates::format(now),
        &[execution("slow", "e1", "SUCCEEDED", &yesterday, "")],
    )
    .await;
    assert_eq!(report.accepted, 1);
    let late = export_changed(&store, now, Some(now - chrono::Duration::seconds(1))).await;
    assert_eq!(
        (late.pending, late.deferred, late.manifests.len()),
        (1, 1, 0),
        "{late:?}"
    );
    assert!(late.failures.is_empty(), "running out of time is no failure");
    let next = export_changed(&store, now, None).await;
    assert_eq!((next.pending, next.manifests.len()), (1, 1), "{next:?}");
}
