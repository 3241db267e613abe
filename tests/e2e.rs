//! End-to-end tests: the real function binaries under `cargo lambda watch`, called as clients call
//! them: ingest through the Lambda Invoke API, reads through the HTTP routes with an API key.

use runledger_tests::*;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::HashSet;

struct Seeded {
    project: String,
    key: String,
    /// (dateStarted, id, integration, userId, status) of every execution ingested.
    executions: Vec<(String, String, String, String, String)>,
}

async fn ingest_all(api: &Api, events: &[Value]) {
    for chunk in events.chunks(250) {
        let (err, body) = api.invoke("ingest", &json!({ "events": chunk })).await;
        assert!(err.is_none(), "ingest failed: {body}");
        assert_eq!(body["rejected"], json!([]), "{body}");
        assert_eq!(body["accepted"].as_u64().unwrap() as usize, chunk.len());
    }
}

/// 300 executions over the last 40 days (so several month buckets), some sharing a start time.
async fn seed(api: &Api) -> Seeded {
    let project = project("e2e");
    let key = create_key(&project).await;
    let integrations = ["salesforce", "hubspot", "slack"];
    let statuses = ["SUCCEEDED", "FAILED", "RUNNING", "SUCCEEDED", "CANCELLED"];
    let mut executions: Vec<(String, String, String, String, String)> = Vec::new();
    let mut events = Vec::new();
    for n in 0..300usize {
        // Pairs of executions start in the same millisecond: order falls back to the id.
        let started = match executions.last() {
            Some((t, ..)) if n % 2 == 1 => t.clone(),
            _ => minutes_ago(((n / 2) * 191 % 57_600) as i64 + 5),
        };
        let (e, integration, user, status) = (
            id(),
            integrations[n % 3].to_string(),
            format!("user-{}", n % 7),
            statuses[n % 5].to_string(),
        );
        let mut extra = json!({"integration": integration, "userId": user, "triggerType": if n % 2 == 0 {"webhook"} else {"cron"},
                               "input": {"n": n}});
        if status != "RUNNING" {
            extra["dateEnded"] = json!(started.clone());
        }
        events.push(execution(&project, &e, &status, &started, extra));
        events.push(step(
            &project,
            &e,
            "s1",
            "SUCCEEDED",
            &started,
            json!({"output": {"step": n}}),
        ));
        executions.push((started, e, integration, user, status));
    }
    ingest_all(api, &events).await;
    stream_delivered().await;
    Seeded {
        project,
        key,
        executions,
    }
}

/// Pages through `query` by nextLink; returns the ids in the order served.
async fn page_all(api: &Api, s: &Seeded, query: &str) -> Vec<String> {
    page_all_counting(api, s, query).await.0
}

/// As `page_all`, also counting the pages the read budget cut short.
async fn page_all_counting(api: &Api, s: &Seeded, query: &str) -> (Vec<String>, usize) {
    let mut partial = 0;
    let mut ids = Vec::new();
    let mut next = Some(format!("/v1/projects/{}/workflow-executions?{query}", s.project));
    let mut pages = 0;
    while let Some(url) = next {
        let (status, body) = api.get(&url, Some(&s.key)).await;
        assert_eq!(status, 200, "{body}");
        let page = body["workflowExecutions"].as_array().unwrap();
        ids.extend(page.iter().map(|x| x["id"].as_str().unwrap().to_string()));
        if body["partial"] == json!(true) {
            partial += 1;
            assert!(body["nextLink"].is_string(), "a partial page says where to resume");
        }
        next = body["nextLink"].as_str().map(str::to_string);
        if let Some(link) = &next {
            assert!(link.starts_with(&api.base), "nextLink is absolute on this host: {link}");
            assert_eq!(body["nextCursor"].as_str().map(|c| link.contains(c)), Some(true));
        }
        pages += 1;
        assert!(pages < 200, "paging does not end");
    }
    (ids, partial)
}

fn expected(
    s: &Seeded,
    keep: impl Fn(&(String, String, String, String, String)) -> bool,
    ascending: bool,
) -> Vec<String> {
    let mut rows: Vec<_> = s.executions.iter().filter(|r| keep(r)).collect();
    rows.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    if !ascending {
        rows.reverse();
    }
    rows.into_iter().map(|r| r.1.clone()).collect()
}

#[tokio::test]
async fn paging_by_next_link_returns_every_match_once_in_order() {
    let api = Api::from_env();
    let s = seed(&api).await;
    let after = minutes_ago(30 * 24 * 60);
    let before = minutes_ago(60);
    let in_range = |r: &(String, String, String, String, String)| r.0 >= after && r.0 < before;

    for (order, asc) in [("DESC", false), ("ASC", true)] {
        let got = page_all(
            &api,
            &s,
            &format!("integration=salesforce&afterDate={after}&beforeDate={before}&sortBy={order}&limit=17"),
        )
        .await;
        let want = expected(&s, |r| in_range(r) && r.2 == "salesforce", asc);
        assert!(want.len() > 50);
        assert_eq!(got, want, "integration + date range, {order}");
    }
    let got = page_all(&api, &s, "integration=hubspot,slack&limit=33").await;
    assert_eq!(
        got,
        expected(&s, |r| r.2 != "salesforce", false),
        "two integrations merged"
    );
    let got = page_all(&api, &s, "limit=1000").await;
    assert_eq!(got, expected(&s, |_| true, false), "whole project");
    assert_eq!(got.iter().collect::<HashSet<_>>().len(), 300);

    // A combined filter over the whole range: the test stack's read budget (READ_BUDGET_ITEMS=40)
    // cannot cover the workflow's 300 executions in one page, so pages come back partial and
    // paging on still returns exactly the matches.
    let (got, partial) = page_all_counting(&api, &s, "workflowId=wf-1&status=CANCELLED&limit=25").await;
    assert_eq!(got, expected(&s, |r| r.4 == "CANCELLED", false));
    assert!(partial > 0, "the budget cut pages short");

    // "Every failed execution for this user."
    let got = page_all(&api, &s, "userId=user-3&status=failed&limit=5").await;
    assert_eq!(got, expected(&s, |r| r.3 == "user-3" && r.4 == "FAILED", false));
    assert!(!got.is_empty());
    let got = page_all(&api, &s, "status=FAILED,cancelled&triggerType=cron&sortBy=ASC&limit=9").await;
    let cron: HashSet<String> = s
        .executions
        .iter()
        .enumerate()
        .filter(|(n, _)| n % 2 == 1)
        .map(|(_, r)| r.1.clone())
        .collect();
    assert_eq!(
        got,
        expected(
            &s,
            |r| (r.4 == "FAILED" || r.4 == "CANCELLED") && cron.contains(&r.1),
            true
        )
    );

    let (status, body) = api
        .get(
            &format!(
                "/v1/projects/{}/workflow-executions?integration=slack&count=true&limit=3",
                s.project
            ),
            Some(&s.key),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["total"], json!(100));
    let first = &body["workflowExecutions"][0];
    for field in [
        "id",
        "projectId",
        "workflowId",
        "userId",
        "integration",
        "triggerType",
        "status",
        "dateStarted",
    ] {
        assert!(!first[field].is_null(), "{field} missing in {first}");
    }
    assert!(first.get("input").is_none(), "lists never carry bodies");
}

#[tokio::test]
async fn get_with_steps_and_step_detail() {
    let api = Api::from_env();
    let (p, e) = (project("e2e-get"), id());
    let key = create_key(&p).await;
    let t = minutes_ago(10);
    ingest_all(
        &api,
        &[
            execution(
                &p,
                &e,
                "RUNNING",
                &t,
                json!({"workflowName": "Sync", "input": {"q": "x"}}),
            ),
            step(
                &p,
                &e,
                "b",
                "SUCCEEDED",
                &minutes_ago(8),
                json!({"dateEnded": minutes_ago(7), "input": {"i": 2}, "output": {"o": 2}}),
            ),
            step(
                &p,
                &e,
                "a",
                "FAILED",
                &minutes_ago(9),
                json!({"error": {"code": "HTTP_500", "message": "upstream", "details": {"status": 500}}}),
            ),
            execution(
                &p,
                &e,
                "FAILED",
                &t,
                json!({"dateEnded": minutes_ago(6), "error": {"message": "step a failed"}}),
            ),
        ],
    )
    .await;
    let (status, got) = api
        .get(&format!("/v1/projects/{p}/workflow-executions/{e}"), Some(&key))
        .await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["status"], "FAILED");
    assert_eq!(got["workflowName"], "Sync");
    assert_eq!(got["input"], json!({"q": "x"}));
    assert_eq!(got["error"], json!({"message": "step a failed"}));
    assert_eq!(got["runDuration"], json!(240_000));
    let steps = got["steps"].as_array().unwrap();
    assert_eq!(
        steps.iter().map(|s| s["id"].as_str().unwrap()).collect::<Vec<_>>(),
        ["a", "b"]
    );
    assert_eq!(steps[1]["runDuration"], json!(60_000));
    assert_eq!(got["stepsNextLink"], Value::Null, "both steps fit");

    // The steps route pages the same steps in the same order.
    let mut paged = Vec::new();
    let mut next = Some(format!(
        "/v1/projects/{p}/workflow-executions/{e}/step-executions?limit=1"
    ));
    while let Some(url) = next {
        let (status, page) = api.get(&url, Some(&key)).await;
        assert_eq!(status, 200, "{page}");
        paged.extend(
            page["stepExecutions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["id"].as_str().unwrap().to_string()),
        );
        next = page["nextLink"].as_str().map(str::to_string);
        assert!(paged.len() <= 2);
    }
    assert_eq!(paged, ["a", "b"]);

    let (status, a) = api
        .get(
            &format!("/v1/projects/{p}/workflow-executions/{e}/step-executions/a"),
            Some(&key),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        a["error"],
        json!({"code": "HTTP_500", "message": "upstream", "details": {"status": 500}})
    );
    let (_, b) = api
        .get(
            &format!("/v1/projects/{p}/workflow-executions/{e}/step-executions/b"),
            Some(&key),
        )
        .await;
    assert_eq!(
        (b["input"].clone(), b["output"].clone()),
        (json!({"i": 2}), json!({"o": 2}))
    );

    for path in [
        format!("/v1/projects/{p}/workflow-executions/{}", id()),
        format!("/v1/projects/{p}/workflow-executions/{e}/step-executions/zz"),
    ] {
        let (status, body) = api.get(&path, Some(&key)).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (404, Some("not_found")),
            "{path}"
        );
    }
}

#[tokio::test]
async fn a_five_megabyte_output_comes_back_byte_identical_by_reference() {
    let api = Api::from_env();
    let (p, e) = (project("e2e-big"), id());
    let key = create_key(&p).await;
    // Odd spacing and key order: the bytes, not just the JSON value, must survive.
    let mut big = String::from("{\"z\" : 1,  \"data\":[");
    let mut x: u64 = 9;
    while big.len() < 5 * 1024 * 1024 - 64 {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        big.push_str(&format!("{},", x >> 40));
    }
    big.push_str("0 ]}");
    let small = format!("{{\"text\": \"{}\"}}", "ab".repeat(1000));
    let envelope = format!(
        r#"{{"events":[{},{{"kind":"step","projectId":"{p}","executionId":"{e}","id":"big","stepName":"fetch","status":"SUCCEEDED","dateStarted":"{t}","output":{big}}},{{"kind":"step","projectId":"{p}","executionId":"{e}","id":"small","stepName":"fetch","status":"SUCCEEDED","dateStarted":"{t}","output":{small}}}]}}"#,
        execution(&p, &e, "SUCCEEDED", &minutes_ago(3), json!({})),
        t = minutes_ago(2),
    );
    assert!(envelope.len() < 6 * 1024 * 1024);
    let (err, report) = api.invoke_raw("ingest", envelope).await;
    assert!(err.is_none(), "{report}");
    assert_eq!(report["accepted"], json!(3), "{report}");

    let (status, detail) = api
        .get(
            &format!("/v1/projects/{p}/workflow-executions/{e}/step-executions/big"),
            Some(&key),
        )
        .await;
    assert_eq!(status, 200);
    let reference = &detail["output"]["$ref"];
    assert_eq!(reference["size"], json!(big.len()));
    assert_eq!(reference["contentType"], "application/json");
    assert_eq!(reference["sha256"], json!(hex::encode(Sha256::digest(big.as_bytes()))));
    let (status, bytes) = api.fetch_bytes(reference["url"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    assert!(
        bytes == big.as_bytes(),
        "the presigned URL returns the exact bytes sent"
    );

    let (_, detail) = api
        .get(
            &format!("/v1/projects/{p}/workflow-executions/{e}/step-executions/small"),
            Some(&key),
        )
        .await;
    assert_eq!(
        detail["output"],
        serde_json::from_str::<Value>(&small).unwrap(),
        "a 2 KB body stays inline"
    );
}

#[tokio::test]
async fn an_sqs_batch_delivered_twice_stores_good_events_once_and_reports_rejections_to_the_project() {
    let api = Api::from_env();
    let p = project("e2e-sqs");
    let key = create_key(&p).await;
    let (e1, e2) = (id(), id());
    let good1 = vec![
        execution(&p, &e1, "RUNNING", &minutes_ago(5), json!({})),
        step(&p, &e1, "s", "RUNNING", &minutes_ago(5), json!({})),
    ];
    let good2 = vec![execution(&p, &e2, "SUCCEEDED", &minutes_ago(4), json!({}))];
    let invalid = vec![execution(&p, &id(), "DONE", &minutes_ago(4), json!({}))];
    let sent = chrono::Utc::now().timestamp_millis().to_string();
    let record = |id: &str, body: String| {
        json!({"messageId": id, "receiptHandle": "r", "body": body, "eventSource": "aws:sqs",
                                                "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:ingest", "awsRegion": "us-east-1",
                                                "attributes": {"SentTimestamp": sent.clone()}, "messageAttributes": {}})
    };
    let batch = json!({"Records": [
        record("m1", json!({"events": good1}).to_string()),
        record("m2", "{not json".to_string()),
        record("m3", json!({"events": good2}).to_string()),
        record(&format!("m4-{p}"), json!({"events": invalid}).to_string()),
    ]});
    for delivery in 0..2 {
        let (err, body) = api.invoke("ingest", &batch).await;
        assert!(err.is_none(), "{body}");
        // Rejected for good (malformed, invalid): kept and reported, not redelivered.
        assert_eq!(body["batchItemFailures"], json!([]), "delivery {delivery}");
    }
    // Sending the good events once more finds every one already stored.
    let mut all = good1.clone();
    all.extend(good2);
    let (_, report) = api.invoke("ingest", &json!({ "events": all })).await;
    assert_eq!(
        (report["accepted"].clone(), report["duplicates"].clone()),
        (json!(0), json!(3)),
        "{report}"
    );
    // The project's users see the rejection once, however often the message came.
    let (status, page) = api
        .get(
            &format!("/v1/projects/{p}/event-logs?type=RUNLEDGER_REJECTED"),
            Some(&key),
        )
        .await;
    assert_eq!(status, 200, "{page}");
    let logs = page["eventLogs"].as_array().unwrap();
    assert_eq!(logs.len(), 1, "{page}");
    assert_eq!(logs[0]["level"], json!("ERROR"));
    assert_eq!(logs[0]["error"]["code"], json!("invalid_event"), "{page}");
}

#[tokio::test]
async fn bad_requests_get_contract_errors_and_never_a_500() {
    let api = Api::from_env();
    let s_project = project("e2e-err");
    let key = create_key(&s_project).await;
    let other_key = create_key(&project("e2e-other")).await;
    let e = id();
    ingest_all(
        &api,
        &(0..3)
            .map(|n| {
                execution(
                    &s_project,
                    &format!("{e}-{n}"),
                    "SUCCEEDED",
                    &minutes_ago(n + 1),
                    json!({}),
                )
            })
            .collect::<Vec<_>>(),
    )
    .await;
    let base = format!("/v1/projects/{s_project}/workflow-executions");

    let check = |status: u16, body: &Value, want_status: u16, code: &str| {
        assert_eq!(status, want_status, "{body}");
        assert_eq!(body["error"]["code"], code, "{body}");
        assert!(
            body["error"]["requestId"].as_str().is_some_and(|r| !r.is_empty()),
            "{body}"
        );
        assert!(body["error"]["message"].is_string());
    };
    let (st, b) = api.get(&base, None).await;
    check(st, &b, 401, "unauthorized");
    let (st, b) = api.get(&base, Some("not-a-key")).await;
    check(st, &b, 401, "unauthorized");
    // The last character changed (to one it is not), so the secret no longer matches.
    let last = if key.ends_with('x') { 'y' } else { 'x' };
    let forged = format!("{}{last}", &key[..key.len() - 1]);
    let (st, b) = api.get(&base, Some(&forged)).await;
    check(st, &b, 401, "unauthorized");
    let (st, b) = api.get(&base, Some(&other_key)).await;
    check(st, &b, 403, "forbidden");
    for path in [
        base.clone(),
        format!("{base}/{e}-1"),
        format!("{base}/{e}-1/step-executions"),
    ] {
        let (st, allow, b) = api.send("DELETE", &path, &key).await;
        check(st, &b, 405, "method_not_allowed");
        assert_eq!(allow.as_deref(), Some("GET"), "{path}");
    }
    let (st, b) = api.get(&format!("{base}/{e}-0"), Some(&other_key)).await;
    check(st, &b, 403, "forbidden");

    for (query, parameter) in [
        ("limit=0", "limit"),
        ("limit=5000", "limit"),
        ("afterDate=not-a-date", "afterDate"),
        ("status=EXPLODED", "status"),
        ("colour=blue", "colour"),
        ("sortBy=sideways", "sortBy"),
    ] {
        let (st, b) = api.get(&format!("{base}?{query}"), Some(&key)).await;
        check(st, &b, 400, "invalid_parameter");
        assert_eq!(b["error"]["parameter"], parameter, "{query}");
    }

    let (_, page) = api.get(&format!("{base}?limit=1"), Some(&key)).await;
    let cursor = page["nextCursor"].as_str().expect("a second page").to_string();
    let mut tampered = cursor.clone().into_bytes();
    tampered[3] = if tampered[3] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    for url in [
        format!("{base}?limit=1&cursor={tampered}"),
        format!("{base}?limit=1&cursor=garbage"),
        format!("{base}?limit=1&sortBy=ASC&cursor={cursor}"),
        format!("{base}?limit=1&status=FAILED&cursor={cursor}"),
    ] {
        let (st, b) = api.get(&url, Some(&key)).await;
        check(st, &b, 400, "invalid_cursor");
    }
    // The same cursor on another project, with that project's own valid key.
    let other = project("e2e-other2");
    let other_project_key = create_key(&other).await;
    let (st, b) = api
        .get(
            &format!("/v1/projects/{other}/workflow-executions?limit=1&cursor={cursor}"),
            Some(&other_project_key),
        )
        .await;
    check(st, &b, 400, "invalid_cursor");
    // A changed limit keeps the cursor valid.
    let (st, b) = api.get(&format!("{base}?limit=2&cursor={cursor}"), Some(&key)).await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["workflowExecutions"].as_array().unwrap().len(), 2);

    // An envelope that is not one is an invocation error, not a crash.
    let (_, body) = api.invoke("ingest", &json!({"event": []})).await;
    assert_eq!(body["errorType"], "InvalidEnvelope", "{body}");
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap_or("")
            .contains("unknown field `event`"),
        "{body}"
    );
}

/// Follows `nextLink` from `path` until the listing ends; every item of `list`, in order.
async fn follow(api: &Api, key: &str, path: &str, list: &str) -> (Vec<Value>, Vec<Value>) {
    let (mut items, mut pages) = (Vec::new(), Vec::new());
    let mut next = Some(path.to_string());
    while let Some(url) = next {
        let (status, page) = api.get(&url, Some(key)).await;
        assert_eq!(status, 200, "{page}");
        items.extend(page[list].as_array().unwrap().iter().cloned());
        next = page["nextLink"].as_str().map(str::to_string);
        pages.push(page);
        assert!(pages.len() < 200, "paging does not end");
    }
    (items, pages)
}

#[tokio::test]
async fn a_webhook_and_the_executions_it_started_come_back_as_one_trace() {
    let api = Api::from_env();
    let p = project("e2e-trace");
    let key = create_key(&p).await;
    let trace = id();
    let webhook = json!({"kind": "log", "projectId": p, "timestamp": minutes_ago(10), "level": "INFO",
        "type": "WEBHOOK_TRIGGER", "message": "Webhook Trigger request received", "traceId": trace,
        "integrationId": "salesforce", "endUserId": "user-7", "webhookId": "wh-1",
        "payload": {"record": {"Id": "00Q5g000004XyZ"}}});
    let mut events = vec![webhook.clone()];
    for n in 0..3 {
        events.push(execution(
            &p,
            &format!("run-{n}"),
            "SUCCEEDED",
            &minutes_ago(9 - n),
            json!({
            "traceId": trace, "userId": "user-7", "integration": "salesforce",
            "dateEnded": minutes_ago(8 - n), "input": {"recordId": "00Q5g000004XyZ"}}),
        ));
    }
    // Something else in the project, outside the trace.
    events.push(execution(
        &p,
        "other",
        "SUCCEEDED",
        &minutes_ago(9),
        json!({"traceId": id()}),
    ));
    ingest_all(&api, &events).await;
    // The webhook again, without an id: a retry of the same content is a duplicate.
    let mut anonymous = webhook.clone();
    anonymous["timestamp"] = json!(minutes_ago(20));
    for expected in [
        json!({"accepted": 1, "duplicates": 0}),
        json!({"accepted": 0, "duplicates": 1}),
    ] {
        let (err, body) = api.invoke("ingest", &json!({"events": [anonymous]})).await;
        assert!(err.is_none(), "{body}");
        assert_eq!(body["accepted"], expected["accepted"], "{body}");
        assert_eq!(body["duplicates"], expected["duplicates"], "{body}");
    }

    let (status, t) = api.get(&format!("/v1/projects/{p}/traces/{trace}"), Some(&key)).await;
    assert_eq!(status, 200, "{t}");
    assert_eq!(t["traceId"], json!(trace));
    let logs = t["eventLogs"].as_array().unwrap();
    assert_eq!(logs.len(), 2, "{t}");
    assert!(
        logs[0]["timestamp"].as_str() < logs[1]["timestamp"].as_str(),
        "time order"
    );
    assert_eq!(logs[1]["payload"], json!({"record": {"Id": "00Q5g000004XyZ"}}));
    let runs: Vec<&str> = t["workflowExecutions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(runs, ["run-0", "run-1", "run-2"], "time order, nothing of other traces");

    let (_, by_trace) = api
        .get(
            &format!("/v1/projects/{p}/event-logs?traceId={trace}&count=true"),
            Some(&key),
        )
        .await;
    assert_eq!(
        (
            by_trace["total"].as_u64(),
            by_trace["eventLogs"].as_array().map(Vec::len)
        ),
        (Some(2), Some(2))
    );
    let (_, runs_by_trace) = api
        .get(
            &format!("/v1/projects/{p}/workflow-executions?traceId={trace}&count=true"),
            Some(&key),
        )
        .await;
    assert_eq!(runs_by_trace["total"], json!(3), "{runs_by_trace}");
    let (status, missing) = api.get(&format!("/v1/projects/{p}/traces/nope"), Some(&key)).await;
    assert_eq!((status, missing["error"]["code"].as_str()), (404, Some("not_found")));
}

#[tokio::test]
async fn a_record_id_deep_in_a_one_megabyte_payload_in_s3_is_found_and_substrings_are_not() {
    let api = Api::from_env();
    let p = project("e2e-search");
    let key = create_key(&p).await;
    let mut records: Vec<Value> = (0..28_000)
        .map(|i| json!({"Id": format!("rec{i:07}"), "Name": format!("Account {i}")}))
        .collect();
    records.push(json!({"Id": "00Q5g000004XyZ", "Name": "Acme Corp"}));
    let payload = json!({"records": records});
    assert!(payload.to_string().len() > 1_000_000);
    let log = |id: &str, minutes: i64, payload: Value| {
        json!({"kind": "log", "projectId": p, "id": id, "timestamp": minutes_ago(minutes), "level": "INFO",
               "type": "WEBHOOK_TRIGGER", "message": "Webhook Trigger request received", "payload": payload})
    };
    let mut events = vec![
        log("deep", 5, payload.clone()),
        log("acme-only", 6, json!({"Name": "Acme Corp"})),
        log("id-only", 7, json!({"Id": "00Q5g000004XyZ"})),
    ];
    // Executions: one with the id in a step body, one with it only in an S3 output.
    events.push(execution(
        &p,
        "in-step",
        "SUCCEEDED",
        &minutes_ago(8),
        json!({"input": {"x": 1}}),
    ));
    events.push(step(
        &p,
        "in-step",
        "s1",
        "SUCCEEDED",
        &minutes_ago(8),
        json!({"output": {"lead": "00Q5g000004XyZ"}}),
    ));
    events.push(execution(
        &p,
        "in-s3",
        "SUCCEEDED",
        &minutes_ago(9),
        json!({"output": payload}),
    ));
    for chunk in [&events[..1], &events[1..5], &events[5..]] {
        let (err, body) = api.invoke("ingest", &json!({"events": chunk})).await;
        assert!(err.is_none(), "{body}");
        assert_eq!(body["accepted"].as_u64().unwrap() as usize, chunk.len(), "{body}");
    }

    let search = |route: &'static str, q: &'static str| {
        let (api, key, p) = (&api, &key, &p);
        async move {
            let list = if route == "event-logs" {
                "eventLogs"
            } else {
                "workflowExecutions"
            };
            let path = format!("/v1/projects/{p}/{route}?q={}", q.replace(' ', "+"));
            let (items, pages) = follow(api, key, &path, list).await;
            assert!(pages.iter().all(|page| page["searchedUntil"].is_string()));
            let mut ids: Vec<String> = items.iter().map(|i| i["id"].as_str().unwrap().to_string()).collect();
            ids.sort();
            (ids, items)
        }
    };
    let (ids, items) = search("event-logs", "00Q5g000004XyZ").await;
    assert_eq!(ids, ["deep", "id-only"]);
    let deep = items.iter().find(|i| i["id"] == "deep").unwrap();
    assert!(
        deep["payload"]["$ref"]["size"].as_u64().unwrap() > 1_000_000,
        "stored in S3"
    );
    assert_eq!(
        search("event-logs", "00q5g000004xyz acme").await.0,
        ["deep"],
        "both keywords"
    );
    assert!(search("event-logs", "XyZ").await.0.is_empty(), "a substring of a token");
    assert!(search("event-logs", "00Q5g000004XyZZ").await.0.is_empty());
    assert_eq!(
        search("workflow-executions", "00Q5g000004XyZ").await.0,
        ["in-s3", "in-step"]
    );
    assert_eq!(search("workflow-executions", "acme 00Q5g000004XyZ").await.0, ["in-s3"]);
    assert!(search("workflow-executions", "5g000004").await.0.is_empty());
}

/// Runs the local TTL sweeper on the test stack; its output.
fn ttl_sweep(args: &[&str]) -> String {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let out = std::process::Command::new(format!("{root}/.venv/bin/python"))
        .arg(format!("{root}/scripts/ttl_sweep.py"))
        .args(args)
        .output()
        .expect("ttl_sweep.py");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    text
}

/// The archive's rows of a project: (object key, ETag) of each object, and every row.
async fn archive_of(project: &str) -> (Vec<(String, String)>, Vec<Value>) {
    use std::io::Read;
    let settings = settings();
    let s3 = runledger::aws::clients(&settings).await.s3;
    let listed = s3
        .list_objects_v2()
        .bucket(&settings.bucket_name)
        .prefix(format!("archive/projectId={project}/"))
        .send()
        .await
        .expect("list archive");
    let mut objects = Vec::new();
    let mut rows = Vec::new();
    for o in listed.contents() {
        let key = o.key().unwrap().to_string();
        objects.push((key.clone(), o.e_tag().unwrap_or("").to_string()));
        let body = s3
            .get_object()
            .bucket(&settings.bucket_name)
            .key(&key)
            .send()
            .await
            .unwrap();
        let bytes = body.body.collect().await.unwrap().into_bytes();
        let mut text = String::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_string(&mut text)
            .unwrap();
        rows.extend(text.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()));
    }
    objects.sort();
    (objects, rows)
}

#[tokio::test]
async fn expired_records_leave_the_api_and_land_once_in_the_archive_whole() {
    let api = Api::from_env();
    let p = project("e2e-archive");
    let key = create_key(&p).await;
    // Dated so that they expire within the hour (retention 90 days), unlike anything else here.
    let old = |minutes: i64| minutes_ago(90 * 24 * 60 - 40 + minutes);
    let big = json!({"records": (0..20_000).map(|i| format!("r{i:06}")).collect::<Vec<_>>()});
    let events = vec![
        execution(
            &p,
            "gone",
            "FAILED",
            &old(5),
            json!({"dateEnded": old(4), "input": {"lead": "00Q5g000004XyZ"},
            "output": big, "error": {"code": "E1", "message": "upstream failed", "details": {"status": 502}}}),
        ),
        step(
            &p,
            "gone",
            "s1",
            "SUCCEEDED",
            &old(5),
            json!({"input": {"n": 1}, "output": {"ok": true}}),
        ),
        step(
            &p,
            "gone",
            "s2",
            "FAILED",
            &old(4),
            json!({"error": {"message": "boom"}}),
        ),
        json!({"kind": "log", "projectId": p, "id": "trigger", "timestamp": old(6), "level": "INFO",
               "type": "WEBHOOK_TRIGGER", "message": "Webhook Trigger request received", "payload": {"x": 1}}),
        execution(
            &p,
            "kept",
            "SUCCEEDED",
            &minutes_ago(5),
            json!({"dateEnded": minutes_ago(4)}),
        ),
    ];
    ingest_all(&api, &events).await;
    let (status, _) = api
        .get(&format!("/v1/projects/{p}/workflow-executions/gone"), Some(&key))
        .await;
    assert_eq!(status, 200, "not expired yet");

    let now = runledger::dates::format(chrono::Utc::now() + chrono::Duration::hours(2));
    let out = ttl_sweep(&["--now", &now, "--project", &p]);
    assert!(out.contains("deleted 4 expired items"), "{out}");
    let (status, _) = api
        .get(&format!("/v1/projects/{p}/workflow-executions/gone"), Some(&key))
        .await;
    assert_eq!(status, 404, "swept away");
    let (_, listed) = api
        .get(&format!("/v1/projects/{p}/workflow-executions"), Some(&key))
        .await;
    assert_eq!(listed["workflowExecutions"].as_array().unwrap().len(), 1, "{listed}");

    let (objects, rows) = archive_of(&p).await;
    assert!(!objects.is_empty());
    assert!(objects
        .iter()
        .all(|(k, _)| k.contains("/date=") && k.ends_with(".jsonl.gz")));
    let kinds: Vec<&str> = rows.iter().map(|r| r["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "execution").count(), 1, "{kinds:?}");
    assert_eq!(kinds.iter().filter(|k| **k == "step").count(), 2);
    assert_eq!(kinds.iter().filter(|k| **k == "log").count(), 1);
    let gone = rows.iter().find(|r| r["kind"] == "execution").unwrap();
    assert_eq!(gone["id"], "gone");
    assert_eq!(gone["input"], json!({"lead": "00Q5g000004XyZ"}));
    assert_eq!(gone["output"], big, "the large body, read from S3");
    assert_eq!(
        gone["error"],
        json!({"code": "E1", "message": "upstream failed", "details": {"status": 502}})
    );
    let step = rows.iter().find(|r| r["id"] == "s2").unwrap();
    assert_eq!(
        (step["executionId"].as_str(), step["status"].as_str()),
        (Some("gone"), Some("FAILED"))
    );
    assert_eq!(
        rows.iter().find(|r| r["kind"] == "log").unwrap()["payload"],
        json!({"x": 1})
    );

    // Replaying the same batches rewrites the same objects; sweeping again finds nothing.
    let again = ttl_sweep(&["--replay"]);
    assert!(again.contains("0 object(s) written or changed"), "{again}");
    let swept = ttl_sweep(&["--now", &now, "--project", &p]);
    assert!(swept.contains("deleted 0 expired items"), "{swept}");
    assert_eq!(archive_of(&p).await, (objects, rows));
}

#[tokio::test]
async fn an_export_holds_what_the_api_returns_and_loads_into_duckdb() {
    use std::io::Read;
    let api = Api::from_env();
    let p = project("e2e-export");
    let key = create_key(&p).await;
    let day = |d: i64, minutes: i64| minutes_ago(d * 24 * 60 + minutes);
    let big = json!({"blob": (0..30_000).map(|i| format!("{i:05}")).collect::<Vec<_>>()});
    let mut events = Vec::new();
    for n in 0..30i64 {
        let d = 1 + n % 2; // yesterday and the day before
        let e = format!("x{n:02}");
        let mut extra = json!({"userId": format!("u{}", n % 3), "integration": "salesforce",
                               "dateEnded": day(d, 60 + n - 1), "input": {"n": n}});
        if n == 7 {
            extra["output"] = big.clone();
        }
        events.push(execution(&p, &e, "SUCCEEDED", &day(d, 60 + n), extra));
        events.push(step(
            &p,
            &e,
            "s1",
            "SUCCEEDED",
            &day(d, 60 + n),
            json!({"output": {"step": n}}),
        ));
    }
    events.push(
        json!({"kind": "log", "projectId": p, "id": "hook", "timestamp": day(1, 200), "level": "INFO",
                       "type": "WEBHOOK_TRIGGER", "message": "Webhook Trigger request received", "payload": {"r": 1}}),
    );
    ingest_all(&api, &events).await;
    // Bodies ingest accepts byte for byte that serde_json cannot hold as JSON (nesting past its
    // limit, a number past f64, a lone surrogate escape): they reach every format as text.
    let odd = [
        format!("{}{}", "[".repeat(200), "]".repeat(200)),
        "1e400".to_string(),
        r#""\ud800""#.to_string(),
    ];
    let odd_events: Vec<String> = odd
        .iter()
        .enumerate()
        .map(|(i, body)| {
            let started = day(1, 120 + i as i64);
            format!(
                r#"{{"kind": "execution", "projectId": "{p}", "id": "odd{i}", "workflowId": "wf-odd", "status": "SUCCEEDED", "dateStarted": "{started}", "dateEnded": "{started}", "input": {body}}}"#
            )
        })
        .collect();
    let (err, body) = api
        .invoke_raw("ingest", format!(r#"{{"events": [{}]}}"#, odd_events.join(", ")))
        .await;
    assert!(err.is_none(), "{body}");
    assert_eq!(body["accepted"], json!(3), "{body}");
    let after = runledger::dates::format(chrono::Utc::now() - chrono::Duration::days(3));
    let before = runledger::dates::format(chrono::Utc::now());

    let (err, body) = api
        .invoke(
            "export",
            &json!({"projectId": p, "afterDate": after, "beforeDate": before}),
        )
        .await;
    assert!(err.is_none(), "{body}");
    let manifests = body["manifests"].as_array().unwrap();
    assert!(!manifests.is_empty() && manifests.len() <= 3, "{body}");
    let settings = settings();
    let s3 = runledger::aws::clients(&settings).await.s3;
    let dir = std::env::temp_dir().join(format!("{p}-export"));
    std::fs::create_dir_all(&dir).unwrap();
    let mut rows: Vec<Value> = Vec::new();
    let mut jsonl_manifests = Vec::new();
    let mut jsonl_parts = Vec::new();
    for m in manifests {
        let mut day_rows = 0;
        for part in m["parts"].as_array().unwrap() {
            let key = part["key"].as_str().unwrap();
            let object = s3
                .get_object()
                .bucket(&settings.bucket_name)
                .key(key)
                .send()
                .await
                .unwrap();
            let bytes = object.body.collect().await.unwrap().into_bytes();
            assert_eq!(part["bytes"], json!(bytes.len()), "{key}");
            assert_eq!(part["sha256"], json!(hex::encode(Sha256::digest(&bytes))), "{key}");
            let mut text = String::new();
            flate2::read::GzDecoder::new(&bytes[..])
                .read_to_string(&mut text)
                .unwrap();
            day_rows += text.lines().count();
            jsonl_parts.push(key.to_string());
            rows.extend(text.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()));
            std::fs::write(dir.join(key.replace('/', "_")), &bytes).unwrap();
        }
        assert_eq!(m["rows"], json!(day_rows));
        let manifest_key = format!(
            "exports/projectId={p}/date={}/manifest.json",
            m["date"].as_str().unwrap()
        );
        jsonl_manifests.push(manifest_key.clone());
        assert!(s3
            .head_object()
            .bucket(&settings.bucket_name)
            .key(&manifest_key)
            .send()
            .await
            .is_ok());
    }

    // The execution rows are what the API lists for the same range, field for field.
    let (listed, _) = follow(
        &api,
        &key,
        &format!("/v1/projects/{p}/workflow-executions?afterDate={after}&beforeDate={before}&sortBy=ASC&limit=1000"),
        "workflowExecutions",
    )
    .await;
    let exported: Vec<&Value> = rows.iter().filter(|r| r["kind"] == "execution").collect();
    assert_eq!(exported.len(), listed.len());
    for api_row in &listed {
        let row = exported.iter().find(|r| r["id"] == api_row["id"]).expect("exported");
        for (field, value) in api_row.as_object().unwrap() {
            assert_eq!(&row[field], value, "{field} of {}", api_row["id"]);
        }
    }
    let seven = exported.iter().find(|r| r["id"] == "x07").unwrap();
    assert_eq!(seven["output"], big, "a large body, read from S3");
    assert_eq!(rows.iter().filter(|r| r["kind"] == "step").count(), 30);
    assert_eq!(rows.iter().filter(|r| r["kind"] == "log").count(), 1);
    for (i, body) in odd.iter().enumerate() {
        let row = exported
            .iter()
            .find(|r| r["id"] == format!("odd{i}"))
            .expect("exported");
        assert_eq!(row["input"], json!(body), "the body's text, as a JSON string");
        assert_eq!(row["textBodies"], json!(["input"]));
    }

    // A warehouse reads it: DuckDB over the downloaded parts.
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let out = std::process::Command::new(format!("{root}/.venv/bin/python"))
        .arg("-c")
        .arg(
            "import duckdb, sys\n\
             t = \"read_json(?, format='newline_delimited', union_by_name=true)\"\n\
             files = [sys.argv[1] + '/*.jsonl.gz']\n\
             print(duckdb.execute(f'select kind, count(*) from {t} group by kind order by kind', files).fetchall())\n\
             print(duckdb.execute(f'select id, textBodies from {t} where textBodies is not null order by id', files).fetchall())",
        )
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "[('execution', 33), ('log', 1), ('step', 30)]\n\
         [('odd0', ['input']), ('odd1', ['input']), ('odd2', ['input'])]"
    );
    std::fs::remove_dir_all(&dir).ok();

    // The same range as Parquet: the same rows, typed columns, bodies as JSON text.
    let (err, body) = api
        .invoke(
            "export",
            &json!({"projectId": p, "afterDate": after, "beforeDate": before, "format": "parquet"}),
        )
        .await;
    assert!(err.is_none(), "{body}");
    std::fs::create_dir_all(&dir).unwrap();
    let mut parquet_rows = 0;
    for m in body["manifests"].as_array().unwrap() {
        for part in m["parts"].as_array().unwrap() {
            let key = part["key"].as_str().unwrap();
            assert!(key.ends_with(".parquet"), "{key}");
            let object = s3
                .get_object()
                .bucket(&settings.bucket_name)
                .key(key)
                .send()
                .await
                .unwrap();
            let bytes = object.body.collect().await.unwrap().into_bytes();
            assert_eq!(part["sha256"], json!(hex::encode(Sha256::digest(&bytes))), "{key}");
            parquet_rows += part["rows"].as_u64().unwrap();
            std::fs::write(dir.join(key.replace('/', "_")), &bytes).unwrap();
        }
    }
    assert_eq!(parquet_rows, 64, "every row, the three with text bodies too");
    // One manifest per day and format: the Parquet export left the JSON Lines set as it was.
    for key in jsonl_manifests.iter().chain(&jsonl_parts) {
        assert!(
            s3.head_object()
                .bucket(&settings.bucket_name)
                .key(key)
                .send()
                .await
                .is_ok(),
            "{key} is still there"
        );
    }
    for m in body["manifests"].as_array().unwrap() {
        let key = format!(
            "exports/projectId={p}/date={}/manifest.parquet.json",
            m["date"].as_str().unwrap()
        );
        assert!(
            s3.head_object()
                .bucket(&settings.bucket_name)
                .key(&key)
                .send()
                .await
                .is_ok(),
            "{key}"
        );
    }
    let out = std::process::Command::new(format!("{root}/.venv/bin/python"))
        .arg("-c")
        .arg(
            "import duckdb, json, sys\n\
             files = sys.argv[1] + '/*.parquet'\n\
             print(duckdb.execute('select kind, count(*) from read_parquet(?) group by kind order by kind', [files]).fetchall())\n\
             row = duckdb.execute(\"select runDuration, userId, output from read_parquet(?) where id = 'x07' and kind = 'execution'\", [files]).fetchone()\n\
             print(row[0], row[1], len(json.loads(row[2])['blob']))\n\
             odd = duckdb.execute(\"select id, textBodies, input from read_parquet(?) where textBodies is not null order by id\", [files]).fetchall()\n\
             print([(i, json.loads(t), len(json.loads(b))) for i, t, b in odd])",
        )
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed = String::from_utf8_lossy(&out.stdout);
    let x07 = listed.iter().find(|e| e["id"] == "x07").unwrap();
    assert_eq!(
        printed.trim(),
        format!(
            "[('execution', 33), ('log', 1), ('step', 30)]\n{} {} 30000\n[('odd0', ['input'], {}), ('odd1', ['input'], 5), ('odd2', ['input'], 8)]",
            x07["runDuration"],
            x07["userId"].as_str().unwrap(),
            odd[0].len()
        )
    );
    std::fs::remove_dir_all(&dir).ok();

    // A step of x05 arrives today: the scheduled run writes x05's day again, in both formats the
    // day holds, and the day's folder keeps only the new set.
    let x05_day = listed.iter().find(|e| e["id"] == "x05").unwrap()["dateStarted"]
        .as_str()
        .unwrap()[..10]
        .to_string();
    ingest_all(
        &api,
        &[step(&p, "x05", "late-step", "SUCCEEDED", &minutes_ago(1), json!({}))],
    )
    .await;
    // The scheduled run queues a unit per changed project day; the stack's export pump hands
    // each to the export worker, as the event source mapping does on AWS.
    let (err, run) = api.invoke("export", &json!({})).await;
    assert!(err.is_none(), "the scheduled run: {run}");
    assert!(run["queued"].as_u64().unwrap_or(0) >= 1, "{run}");
    assert_eq!(run["failures"], json!([]), "{run}");
    exports_delivered().await;
    let mut ours: Vec<Value> = Vec::new();
    for manifest in ["manifest.json", "manifest.parquet.json"] {
        let object = s3
            .get_object()
            .bucket(&settings.bucket_name)
            .key(format!("exports/projectId={p}/date={x05_day}/{manifest}"))
            .send()
            .await
            .unwrap();
        ours.push(serde_json::from_slice(&object.body.collect().await.unwrap().into_bytes()).unwrap());
    }
    let formats: Vec<&str> = ours.iter().map(|m| m["format"].as_str().unwrap()).collect();
    assert_eq!(formats, vec!["jsonl", "parquet"], "{run}");
    let mut expected = vec!["manifest.json".to_string(), "manifest.parquet.json".to_string()];
    for m in &ours {
        for part in m["parts"].as_array().unwrap() {
            expected.push(part["key"].as_str().unwrap().rsplit('/').next().unwrap().to_string());
        }
    }
    let jsonl = ours[0]["parts"][0]["key"].as_str().unwrap();
    let object = s3
        .get_object()
        .bucket(&settings.bucket_name)
        .key(jsonl)
        .send()
        .await
        .unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(&object.body.collect().await.unwrap().into_bytes()[..])
        .read_to_string(&mut text)
        .unwrap();
    assert!(
        text.lines().any(|l| l.contains(r#""id":"late-step""#)),
        "the late step is in its execution's day"
    );
    let folder = format!("exports/projectId={p}/date={x05_day}/");
    let listing = s3
        .list_objects_v2()
        .bucket(&settings.bucket_name)
        .prefix(&folder)
        .send()
        .await
        .unwrap();
    let mut names: Vec<String> = listing
        .contents()
        .iter()
        .map(|o| o.key().unwrap()[folder.len()..].to_string())
        .collect();
    names.sort();
    expected.sort();
    assert_eq!(names, expected, "no part of an earlier export is left");
}

/// Stats and exact totals through the local stack's stream: executions over several days, sent
/// again as they progress (and some twice), reach the `stats` function through the stream pump;
/// totals and stats equal what paging the listing counts.
#[tokio::test]
async fn stats_and_totals_from_the_stream_equal_what_paging_counts() {
    let api = Api::from_env();
    let project = project("stats");
    let key = create_key(&project).await;
    let integrations = ["salesforce", "hubspot"];
    let mut first = Vec::new();
    let mut last = Vec::new();
    for n in 0..80usize {
        let started = minutes_ago((n * 97 + 11) as i64);
        let e = id();
        let base = json!({"integration": integrations[n % 2], "userId": format!("user-{}", n % 3)});
        first.push(execution(&project, &e, "RUNNING", &started, base.clone()));
        let mut done = base.clone();
        done["runDuration"] = json!(100 + n * 37);
        last.push(execution(
            &project,
            &e,
            if n % 4 == 0 { "FAILED" } else { "SUCCEEDED" },
            &started,
            done,
        ));
    }
    ingest_all(&api, &first).await;
    ingest_all(&api, &last).await;
    let (err, body) = api.invoke("ingest", &json!({ "events": &last[..20] })).await;
    assert!(err.is_none() && body["duplicates"] == json!(20), "{body}");
    stream_delivered().await;

    let list = format!("/v1/projects/{project}/workflow-executions");
    for query in [
        "",
        "integration=salesforce",
        "status=FAILED",
        "userId=user-1&status=SUCCEEDED",
    ] {
        let (all, _) = follow(&api, &key, &format!("{list}?limit=7&{query}"), "workflowExecutions").await;
        let (status, page) = api.get(&format!("{list}?count=true&limit=1&{query}"), Some(&key)).await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(page["total"], json!(all.len()), "{query}");
        assert_eq!(page["totalExact"], json!(true), "{query}");
    }
    let (all, _) = follow(&api, &key, &format!("{list}?limit=50"), "workflowExecutions").await;
    let after = runledger::dates::format(chrono::Utc::now() - chrono::Duration::days(7));
    let (status, stats) = api
        .get(
            &format!("/v1/projects/{project}/stats?groupBy=integration&afterDate={after}"),
            Some(&key),
        )
        .await;
    assert_eq!(status, 200, "{stats}");
    for integration in integrations {
        let expected = all.iter().filter(|e| e["integration"] == integration).count();
        let failed = all
            .iter()
            .filter(|e| e["integration"] == integration && e["status"] == "FAILED")
            .count();
        let groups: Vec<&Value> = stats["buckets"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|b| b["groups"].as_array().unwrap())
            .filter(|g| g["key"] == integration)
            .collect();
        let sum = |f: &dyn Fn(&Value) -> u64| groups.iter().map(|g| f(g)).sum::<u64>();
        assert_eq!(
            sum(&|g| g["count"].as_u64().unwrap()) as usize,
            expected,
            "{integration}"
        );
        assert_eq!(
            sum(&|g| g["byStatus"]["FAILED"].as_u64().unwrap()) as usize,
            failed,
            "{integration}"
        );
        assert!(
            groups.iter().all(|g| g["duration"]["p50"].as_f64().unwrap() >= 97.0),
            "{stats}"
        );
    }
}
