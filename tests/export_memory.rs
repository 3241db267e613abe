//! `make bench-export`: the peak memory of an export. Seeds N executions (one step each, 1 KB
//! bodies) spread over one day through ingest, resets this process's peak-RSS mark, exports the day
//! as the export function would (the same library call), and prints how far the export raised the
//! peak RSS and what it wrote.
//!
//! Seeding 100,000 executions into DynamoDB Local takes about an hour (make load), so `--memory`
//! runs the same ingest and export on the in-memory store: the table then lives in this process,
//! so the figure is the growth of the peak during the export, less the parts the in-memory bucket
//! keeps (a real bucket keeps them elsewhere). Without `--memory` it runs against the emulators
//! the environment's endpoint variables name.

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

/// About 1 KB that compresses like real text, not like a run of one letter.
fn body(n: usize) -> serde_json::Value {
    let mut x = n as u64 + 1;
    let words: Vec<String> = (0..120)
        .map(|_| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            format!("{:07x}", x >> 37)
        })
        .collect();
    json!({"recordId": format!("00Q{n:012}"), "note": words.join(" ")})
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args.iter().find_map(|a| a.parse().ok()).unwrap_or(100_000);
    if args.iter().any(|a| a == "--memory") {
        let store = runledger::store::MemoryStore::memory(runledger::store::StoreConfig { retention_days: 90 });
        run(&store, &runledger::config::Settings::defaults(), n, true).await;
    } else {
        run(&store().await, &settings(), n, false).await;
    }
}

async fn run<S>(store: &S, settings: &runledger::config::Settings, n: usize, in_memory: bool)
where
    S: runledger::store::Ingests
        + runledger::store::ListExecutions
        + runledger::store::ListLogs
        + runledger::store::ExportRecords,
{
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
        let report = Report::from_outcomes(&ingest(store, settings, &raw(&events), chrono::Utc::now()).await);
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
    let manifests = export(store, &req, now).await.expect("export").manifests;
    let rows: u64 = manifests.iter().map(|m| m.rows).sum();
    let parts: usize = manifests.iter().map(|m| m.parts.len()).sum();
    let bytes: u64 = manifests.iter().flat_map(|m| &m.parts).map(|p| p.bytes).sum();
    let peak = peak_kib();
    let kept = if in_memory { bytes / 1024 } else { 0 };
    println!(
        "export of {n} executions ({rows} rows, {parts} parts, {:.1} MiB written) in {:.0} s: peak RSS {:.1} MiB, {:.1} MiB at the start{}; the export's own peak working set: {:.1} MiB",
        bytes as f64 / 1048576.0,
        started.elapsed().as_secs_f64(),
        peak as f64 / 1024.0,
        before as f64 / 1024.0,
        if in_memory { " (the in-memory table), less the parts the in-memory bucket keeps" } else { "" },
        (peak.saturating_sub(before).saturating_sub(kept)) as f64 / 1024.0,
    );
}
