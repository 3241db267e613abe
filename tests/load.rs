//! `make load N=...`: a realistic volume, ingested through the ingest logic the function runs,
//! into the stack named by the environment (make dev's, or make bench's volume table).
//!
//! Executions over the last 60 days, each arriving as one envelope (start, 3 steps with 1 KB
//! input and output, end); 50 workflows, 500 users, 4 integrations, 5 % FAILED; an event log for
//! every third execution, with its trace. Ids follow from the project and the execution's number,
//! so loading again adds only what is missing (the rest are duplicates) and `N` can grow.
//!
//! Usage: load <N> [--project P] [--from K] [--anchor EPOCH_SECONDS]
//! (progress on stderr, a summary on stdout). Execution `n` starts at a fixed point of the 60 days
//! before the anchor (default: now), so loading again with the same anchor sends the same events.

use futures::StreamExt;
use runledger::ingest::{ingest, Outcome};
use runledger_tests::volume::events_of;
use runledger_tests::*;
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Envelopes in flight at once, as that many ingest instances would send them.
const CONCURRENCY: usize = 12;
/// Executions per envelope (each of about 5 events).
const PER_ENVELOPE: u64 = 10;

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let total: u64 = match args.first().map(|a| a.replace(['_', ','], "").parse()) {
        Some(Ok(n)) if n > 0 => n,
        _ => {
            eprintln!("usage: load <N> [--project P] [--from K]  (N executions; needs the stack's environment)");
            std::process::exit(2);
        }
    };
    let project = arg(&args, "--project").unwrap_or_else(|| "volume".into());
    let from: u64 = arg(&args, "--from").and_then(|v| v.parse().ok()).unwrap_or(0);
    let anchor = arg(&args, "--anchor")
        .and_then(|v| v.parse().ok())
        .and_then(|secs| chrono::DateTime::from_timestamp(secs, 0))
        .unwrap_or_else(chrono::Utc::now);
    let settings = settings();
    let store = store_with(&settings).await;
    let started = Instant::now();
    let (done, accepted, duplicates) = (AtomicU64::new(from), AtomicU64::new(0), AtomicU64::new(0));
    let failed = AtomicU64::new(0);
    let chunks = (from..total).step_by(PER_ENVELOPE as usize);
    let work = chunks.map(|first| {
        let (store, settings, project) = (&store, &settings, &project);
        let (done, accepted, duplicates, failed) = (&done, &accepted, &duplicates, &failed);
        async move {
            let last = (first + PER_ENVELOPE).min(total);
            let events: Vec<Value> = (first..last).flat_map(|n| events_of(project, n, anchor)).collect();
            let mut pending = raw(&events);
            // A transient failure is sent again, as a producer does with what was reported failed.
            for attempt in 0..5 {
                let outcomes = ingest(store, settings, &pending, chrono::Utc::now()).await;
                let mut again = Vec::new();
                for (o, r) in outcomes.iter().zip(pending) {
                    match o {
                        Outcome::Accepted | Outcome::Noted { .. } => accepted.fetch_add(1, Ordering::Relaxed),
                        Outcome::Duplicate => duplicates.fetch_add(1, Ordering::Relaxed),
                        Outcome::Rejected { code, message } => {
                            if *code != "unavailable" || attempt == 4 {
                                eprintln!("\nexecutions {first}..{last}: rejected {code}: {message}");
                                failed.fetch_add(1, Ordering::Relaxed);
                            } else {
                                again.push(r);
                            }
                            0
                        }
                    };
                }
                if again.is_empty() {
                    break;
                }
                pending = again;
            }
            let before = done.fetch_add(last - first, Ordering::Relaxed);
            let d = before + last - first;
            if d / 500 != before / 500 || d == total {
                let rate = (d - from) as f64 / started.elapsed().as_secs_f64().max(0.001);
                let eta = (total - d) as f64 / rate.max(0.001);
                eprint!(
                    "\rloaded {d}/{total} executions of project {project}: {rate:.0}/s, {:.0} s left   ",
                    eta
                );
            }
        }
    });
    futures::stream::iter(work)
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<()>>()
        .await;
    eprintln!();
    let secs = started.elapsed().as_secs_f64();
    println!(
        "load: {} executions ({from}..{total}) of project {project} in {secs:.0} s ({:.0}/s): {} events accepted, {} duplicates, {} failed",
        total - from,
        (total - from) as f64 / secs.max(0.001),
        accepted.load(Ordering::Relaxed),
        duplicates.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed)
    );
    if failed.load(Ordering::Relaxed) > 0 {
        std::process::exit(1);
    }
}
