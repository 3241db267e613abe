//! The shape of the volume `make load` writes (tests/load.rs) and `make bench` reads
//! (tests/bench_volume.rs): which execution `n` is, its ids, and its events.

use crate::{execution, step};
use serde_json::{json, Value};

pub const WORKFLOWS: u64 = 50;
pub const USERS: u64 = 500;
pub const INTEGRATIONS: [&str; 4] = ["salesforce", "hubspot", "slack", "netsuite"];
pub const DAYS: i64 = 60;

pub fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51afd7ed558ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ceb9fe1a85ec53);
    x ^ (x >> 33)
}

/// 1 KB of text that compresses like text, different for every seed.
pub fn kib_body(seed: u64) -> Value {
    const WORDS: [&str; 16] = [
        "lead", "account", "owner", "synced", "contact", "invoice", "status", "updated", "record", "field", "mapping",
        "batch", "retry", "region", "queue", "webhook",
    ];
    let mut text = String::with_capacity(1024);
    let mut x = seed;
    while text.len() < 1000 {
        x = mix(x.wrapping_add(1));
        text.push_str(WORDS[(x % 16) as usize]);
        text.push(' ');
        if x.is_multiple_of(7) {
            text.push_str(&format!("{:x} ", x >> 40));
        }
    }
    json!({ "text": text })
}

/// What a stable id names: an execution, its event log, its trace.
pub const EXECUTION: u64 = 1;
pub const EVENT_LOG: u64 = 2;
pub const TRACE: u64 = 3;

/// A stable id of the form of a UUID for (project, kind, n).
pub fn stable_id(project: &str, kind: u64, n: u64) -> String {
    let h = project
        .bytes()
        .fold(0xcbf29ce484222325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100000001b3));
    let (a, b) = (
        mix(h ^ kind.wrapping_mul(0x9e37) ^ n),
        mix(h.rotate_left(17) ^ n ^ kind),
    );
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        b >> 52,
        b & 0xffff_ffff_ffff
    )
}

pub struct Shape {
    pub workflow: String,
    pub user: String,
    pub integration: &'static str,
    pub failed: bool,
}

/// What execution `n` of a volume is: workflow, user, integration and outcome.
pub fn shape(n: u64) -> Shape {
    let x = mix(n ^ 0x5eed);
    Shape {
        workflow: format!("wf-{:02}", x % WORKFLOWS),
        user: format!("user-{:03}", (x >> 8) % USERS),
        integration: INTEGRATIONS[((x >> 20) % 4) as usize],
        failed: (x >> 32).is_multiple_of(20),
    }
}

pub fn events_of(project: &str, n: u64, anchor: chrono::DateTime<chrono::Utc>) -> Vec<Value> {
    let s = shape(n);
    let e = stable_id(project, EXECUTION, n);
    // Uniformly over the 60 days before the anchor, whatever N is.
    let back = (mix(n ^ 0xd1ce) % (DAYS as u64 * 86_400_000)) as i64;
    let started = anchor - chrono::Duration::milliseconds(back + 60_000);
    let at = |ms: i64| runledger::dates::format(started + chrono::Duration::milliseconds(ms));
    let trace = stable_id(project, TRACE, n);
    let status = if s.failed { "FAILED" } else { "SUCCEEDED" };
    let mut events = vec![execution(
        project,
        &e,
        "RUNNING",
        &at(0),
        json!({"workflowId": s.workflow, "workflowName": format!("Sync {}", s.workflow), "userId": s.user,
               "integration": s.integration, "triggerType": if n.is_multiple_of(3) {"webhook"} else {"cron"},
               "traceId": trace, "input": {"record": format!("rec-{n}")}}),
    )];
    for k in 0..3u64 {
        let step_status = if s.failed && k == 2 { "FAILED" } else { "SUCCEEDED" };
        let name = ["Fetch", "Transform", "Push"][k as usize];
        events.push(step(
            project,
            &e,
            &format!("step-{k}"),
            step_status,
            &at(100 + k as i64 * 1000),
            json!({"stepName": name, "stepType": "http",
                   "dateEnded": at(900 + k as i64 * 1000),
                   "input": kib_body(n * 8 + k), "output": kib_body(n * 8 + 4 + k)}),
        ));
    }
    // The end names the workflow too: an event without it would take the helper's default.
    let mut end = json!({"workflowId": s.workflow, "dateEnded": at(3_100), "taskCount": 3,
                         "output": {"ok": !s.failed}});
    if s.failed {
        end["error"] = json!({"code": "UPSTREAM_429", "message": "Upstream API rate limit exceeded",
                              "details": {"retryAfter": 30}});
    }
    events.push(execution(project, &e, status, &at(0), end));
    if n.is_multiple_of(3) {
        events.push(
            json!({"kind": "log", "projectId": project, "id": stable_id(project, EVENT_LOG, n),
                           "timestamp": at(-50), "level": if s.failed {"ERROR"} else {"INFO"},
                           "type": "WEBHOOK_TRIGGER", "message": format!("webhook received for {}", s.workflow),
                           "workflowId": s.workflow, "traceId": trace, "endUserId": s.user,
                           "integrationId": s.integration, "payload": {"event": "record.updated", "n": n}}),
        );
    }
    events
}
