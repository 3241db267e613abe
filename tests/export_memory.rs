//! `make bench-export`: the peak memory of an export. Seeds N executions (one step each, 1 KB
//! bodies) spread over one day through ingest, resets this process's peak-RSS mark, exports the day
//! as the export function would (the same library call), and prints the peak RSS the export reached
//! and what it wrote. Runs against the emulator named by AWS_ENDPOINT_URL.

use runledger::export::{export, ExportRequest};
use runledger::ingest::{ingest, Report};
use runledger_tests::*;
use serde_json::json;

/// VmHWM (peak resident set) of this process, in KiB.
fn peak_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn body(n: usize) -> serde_json::Value {
    json!({"recordId": format!("00Q{n:012}"), "note": "x".repeat(950)})
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let settings = settings();
    let store = store().await;
    let p = project("export-memory");
    let started = std::time::Instant::now();
    for chunk in (0..n).collect::<Vec<_>>().chunks(250) {
        let mut events = Vec::with_capacity(chunk.len() * 2);
        for &i in chunk {
            let e = format!("e{i:07}");
            let at = minutes_ago(5 + (i * 1430 / n) as i64);
            events.push(execution(
                &p,
                &e,
                "SUCCEEDED",
                &at,
                json!({"dateEnded": at, "input": body(i)}),
            ));
            events.push(step(
                &p,
                &e,
                "s1",
                "SUCCEEDED",
                &at,
                json!({"dateEnded": at, "output": body(i)}),
            ));
        }
        let report = Report::from_outcomes(&ingest(&store, &settings, &raw(&events), chrono::Utc::now()).await);
        assert!(report.rejected.is_empty(), "{report:?}");
    }
    println!(
        "seeded {n} executions with a step each in {:.0} s",
        started.elapsed().as_secs_f64()
    );

    // Forget the seeding's peak: from here VmHWM is what the export reaches.
    std::fs::write("/proc/self/clear_refs", "5").expect("reset the peak RSS mark");
    let before = peak_kib();
    let started = std::time::Instant::now();
    let now = chrono::Utc::now();
    let req = ExportRequest {
        project_id: p.clone(),
        after_date: runledger::dates::format(now - chrono::Duration::days(2)),
        before_date: runledger::dates::format(now),
        format: std::env::var("EXPORT_FORMAT").ok(),
    };
    let manifests = export(&store, &req, now).await.expect("export");
    let rows: u64 = manifests.iter().map(|m| m.rows).sum();
    let parts: usize = manifests.iter().map(|m| m.parts.len()).sum();
    let bytes: u64 = manifests.iter().flat_map(|m| &m.parts).map(|p| p.bytes).sum();
    println!(
        "export of {n} executions ({rows} rows, {parts} parts, {:.1} MiB written) in {:.0} s: peak RSS {:.1} MiB (process at the start: {:.1} MiB)",
        bytes as f64 / 1048576.0,
        started.elapsed().as_secs_f64(),
        peak_kib() as f64 / 1024.0,
        before as f64 / 1024.0
    );
}
