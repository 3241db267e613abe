//! `runledger scale` (`make scale`): the capacity model of a target workload. A sample of the
//! workload's events goes through the real ingest path (merge, bodies, fingerprints, commit, the
//! register of days, the puts noted) and the stats function (counters from the stream) over the
//! in-memory tables, recorded key by key (`store::scale::Recorder`); the model scales the counts by
//! the rates each sample stands for and sets them next to the limits. The export, the archive and
//! the listings run on the same tables to time them and count their Queries.

use crate::config::Settings;
use crate::model::Field;
use crate::query::{ListQuery, ReadBudget, Window};
use crate::store::memory::Memory;
use crate::store::scale::{balanced_ids, Measured, Names, Recorder, Report};
use crate::store::{AdminShards, Ledger, ListExecutions, MemoryStore, StoreConfig, MAX_SHARDS};
use crate::streams::StreamEvent;
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, value::RawValue, Value};
use std::time::Instant;

/// The workload at its target.
#[derive(Clone, Debug)]
pub struct Target {
    pub events_per_s: f64,
    pub projects: u32,
    pub hot_events_per_s: f64,
    pub hot_workflow_events_per_s: f64,
    /// One user and one integration value of the hot workflow, each at this rate.
    pub hot_value_events_per_s: f64,
    /// Steps per execution (each execution sends start, its steps, end).
    pub steps: u32,
    pub body_bytes: usize,
    /// Events per ingest invocation (a quiet project sends what it has in a second, when fewer).
    pub batch: usize,
    /// The listing shards (`LIST_SHARDS`); `None`: the fewest that keep every listing partition
    /// within its limits.
    pub list_shards: Option<u32>,
    /// A DynamoDB or S3 round trip in AWS, ms.
    pub call_ms: f64,
    /// Executions sampled per hot population.
    pub sample: usize,
}

impl Default for Target {
    fn default() -> Self {
        Target {
            events_per_s: 100_000.0,
            projects: 10_000,
            hot_events_per_s: 10_000.0,
            hot_workflow_events_per_s: 5_000.0,
            hot_value_events_per_s: 2_500.0,
            steps: 5,
            body_bytes: 1024,
            batch: 100,
            list_shards: None,
            call_ms: 10.0,
            sample: 200,
        }
    }
}

/// Sample projects standing for the quiet ones: enough that a key they share shows as shared.
const QUIET_SAMPLES: usize = 16;

/// The clock of the model: mid-hour, so a sample's records share their hour and day.
fn clock() -> DateTime<Utc> {
    crate::dates::parse("2026-12-08T12:30:00Z").unwrap_or_else(Utc::now)
}

fn id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// `bytes` of text that compresses as prose does, not as a run of one letter.
fn body(bytes: usize, seed: u64) -> Value {
    let mut x = seed.wrapping_add(1);
    let text: String = (0..bytes.saturating_sub(8))
        .map(|_| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            char::from(b'a' + ((x >> 33) % 26) as u8)
        })
        .collect();
    json!({ "t": text })
}

/// One population of executions alike: its project, how it picks its dimension values, its rate.
struct Population {
    project: String,
    executions_per_s: f64,
    /// Real projects alike it stands for.
    copies: f64,
    workflows: Vec<String>,
    /// Empty: a user of its own per execution.
    users: Vec<String>,
    integrations: Vec<String>,
    sample: usize,
    batch: usize,
}

/// The events of one execution, start, steps and end, each sent on its own (they happen apart).
fn lifecycle(p: &Population, n: usize, execution: &str, t: &Target, now: DateTime<Utc>) -> Vec<Value> {
    let pick = |values: &[String]| {
        if values.is_empty() {
            id()
        } else {
            values[n % values.len()].clone()
        }
    };
    let started = now - Duration::minutes(2);
    let ts = |d: Duration| crate::dates::format(started + d);
    // Durations spread over a few hundred histogram buckets, as a real day's do.
    let duration_ms = (100.0 * (1.0 + n as f64 * 0.37).powf(1.6)) as i64 % 600_000 + 1;
    let workflow = pick(&p.workflows);
    let mut events = vec![json!({
        "kind": "execution", "projectId": p.project, "id": execution, "status": "RUNNING",
        "dateStarted": ts(Duration::zero()), "workflowId": workflow, "workflowName": "Sync leads",
        "userId": pick(&p.users), "integration": pick(&p.integrations), "triggerType": "webhook",
        "traceId": id(), "input": body(t.body_bytes, n as u64),
    })];
    for k in 0..t.steps {
        events.push(json!({
            "kind": "step", "projectId": p.project, "executionId": execution, "id": id(),
            "stepName": "Fetch lead", "stepType": "http", "status": "SUCCEEDED",
            "dateStarted": ts(Duration::milliseconds(1)), "dateEnded": ts(Duration::milliseconds(duration_ms)),
            "input": body(t.body_bytes, 1000 + n as u64 * 10 + k as u64),
            "output": body(t.body_bytes, 2000 + n as u64 * 10 + k as u64),
        }));
    }
    events.push(json!({
        "kind": "execution", "projectId": p.project, "id": execution, "status": "SUCCEEDED",
        "dateStarted": ts(Duration::zero()), "workflowId": workflow,
        "dateEnded": ts(Duration::milliseconds(duration_ms)), "taskCount": t.steps,
        "output": body(t.body_bytes, 3000 + n as u64),
    }));
    events
}

fn raw(events: &[Value]) -> Vec<Box<RawValue>> {
    events
        .iter()
        .filter_map(|e| RawValue::from_string(e.to_string()).ok())
        .collect()
}

fn stream_event(records: Vec<Value>, shard: &str) -> Option<StreamEvent> {
    StreamEvent::parse(json!({ "Records": records, "shardId": shard })).ok()
}

/// The workload's populations: the hot project's three (its workflow with its user and
/// integration, the rest of that workflow, the rest of the project) and the quiet projects'.
fn populations(t: &Target, shards: u32, names: &mut Names) -> Vec<(Population, Vec<String>)> {
    let per_execution = (t.steps + 2) as f64;
    let hot = id();
    let (workflow, user, integration) = (id(), id(), id());
    names.projects.push((hot.clone(), "hot".into()));
    names.values.extend([
        (workflow.clone(), "W0".into()),
        (user.clone(), "U0".into()),
        (integration.clone(), "I0".into()),
    ]);
    let pool = |n: usize, name: &str, names: &mut Names| -> Vec<String> {
        (0..n)
            .map(|k| {
                let v = id();
                names.values.push((v.clone(), format!("{name}{}", k + 1)));
                v
            })
            .collect()
    };
    let other_workflows = pool(20, "W", names);
    let other_integrations = pool(10, "I", names);
    // Whole invocations only: a sample is a number of full batches, or the register's and the
    // noted puts' writes per invocation would be off.
    let whole = |n: usize| n.max(t.batch).div_ceil(t.batch.max(1)) * t.batch.max(1);
    let hot_pop =
        |rate: f64, workflows: Vec<String>, users: Vec<String>, integrations: Vec<String>, sample| Population {
            project: hot.clone(),
            executions_per_s: rate / per_execution,
            copies: 1.0,
            workflows,
            users,
            integrations,
            sample,
            batch: t.batch,
        };
    let mut out = vec![
        hot_pop(
            t.hot_value_events_per_s,
            vec![workflow.clone()],
            vec![user],
            vec![integration],
            whole(t.sample),
        ),
        hot_pop(
            t.hot_workflow_events_per_s - t.hot_value_events_per_s,
            vec![workflow],
            Vec::new(),
            other_integrations.clone(),
            whole(t.sample),
        ),
        hot_pop(
            t.hot_events_per_s - t.hot_workflow_events_per_s,
            other_workflows,
            Vec::new(),
            other_integrations,
            whole(2 * t.sample),
        ),
    ];
    let quiet = f64::from(t.projects.saturating_sub(1).max(1));
    let quiet_events = (t.events_per_s - t.hot_events_per_s) / quiet;
    let quiet_batch = (quiet_events.ceil() as usize).clamp(1, t.batch);
    for q in 0..QUIET_SAMPLES {
        let project = id();
        names.projects.push((project.clone(), format!("quiet{q}")));
        out.push(Population {
            project,
            executions_per_s: quiet_events / per_execution,
            copies: quiet / QUIET_SAMPLES as f64,
            workflows: (0..5).map(|_| id()).collect(),
            users: Vec::new(),
            integrations: (0..3).map(|_| id()).collect(),
            sample: quiet_batch,
            batch: quiet_batch,
        });
    }
    out.into_iter()
        .map(|p| {
            let ids = balanced_ids(p.sample, shards);
            (p, ids)
        })
        .collect()
}

/// The model at a given listing shard count.
pub async fn model_at(t: &Target, shards: u32) -> Report {
    let now = clock();
    let settings = Settings::defaults();
    let config = StoreConfig::from_settings(&settings);
    let store = Ledger::new(Recorder::new(Memory::default()), config.clone());
    let mut names = Names::default();
    let pops = populations(t, shards, &mut names);
    // The hot project's layout, from long before its records (as `runledger shards set` leaves it
    // once its epoch has begun); the quiet projects keep one shard. Not billed: no weight yet.
    if let Some((hot, _)) = pops.first() {
        if let Err(e) = store.set_shards(&hot.project, shards, 0).await {
            panic!("the hot project's layout: {e}");
        }
    }
    let mut m = Measured {
        list_shards: shards,
        retention_days: settings.retention_days,
        call_ms: t.call_ms,
        register_lease_s: crate::ingest::DAY_LEASE.num_milliseconds() as f64 / 1000.0,
        ..Measured::default()
    };
    let (mut hot_invocations, mut hot_calls, mut hot_puts, mut hot_cpu) = (0u64, 0u64, 0u64, 0.0);
    let mut hot_records: Vec<Value> = Vec::new();
    let (mut hot_rate, mut all_rate) = (0.0, 0.0);
    for (p, ids) in &pops {
        store.backend.begin(p.copies, p.executions_per_s / p.sample as f64);
        let from = store.backend.inner.stream_records(0).len();
        let lifecycles: Vec<Vec<Value>> = ids
            .iter()
            .enumerate()
            .map(|(n, e)| lifecycle(p, n, e, t, now))
            .collect();
        let phases = lifecycles.first().map_or(0, Vec::len);
        store.backend.take_calls();
        let started = Instant::now();
        let mut invocations = 0;
        for phase in 0..phases {
            let events: Vec<Value> = lifecycles.iter().map(|l| l[phase].clone()).collect();
            for chunk in events.chunks(p.batch.max(1)) {
                crate::ingest::ingest(&store, &settings, &raw(chunk), now).await;
                invocations += 1;
            }
        }
        let calls = store.backend.take_calls();
        // The stream, record by record: each record's counters, later batched by the model.
        let records = store.backend.inner.stream_records(from);
        for r in &records {
            if let Some(batch) = stream_event(vec![r.clone()], "shardId-00000001700000000000-0000") {
                crate::stats::feed::count_batch(&store, &batch).await;
            }
        }
        let events_per_s = p.executions_per_s * phases as f64 * p.copies;
        m.ingest_invocations_per_s += events_per_s / p.batch.max(1) as f64;
        all_rate += events_per_s;
        if p.copies <= 1.0 {
            hot_rate += events_per_s;
            hot_invocations += invocations;
            hot_calls += calls.calls;
            hot_puts += calls.puts;
            hot_cpu += started.elapsed().as_secs_f64() * 1000.0;
            hot_records.extend(records);
        }
    }
    store.backend.pause();
    let per = |x: f64| x / hot_invocations.max(1) as f64;
    m.ingest_calls_per_invocation = per(hot_calls as f64);
    m.ingest_puts_per_invocation = per(hot_puts as f64);
    m.ingest_cpu_ms = per(hot_cpu);
    m.hot_share = hot_rate / all_rate.max(1e-9);
    m.projects = f64::from(t.projects);

    // A stats batch and an archive batch of 100 of the hot project's records, timed on tables of
    // their own.
    let batch: Vec<Value> = hot_records.iter().take(100).cloned().collect();
    let scratch = MemoryStore::memory(config.clone());
    if let Some(ev) = stream_event(batch.clone(), "shardId-00000001700000000000-0001") {
        let started = Instant::now();
        crate::stats::feed::count_batch(&scratch, &ev).await;
        m.stats_batch_cpu_ms = started.elapsed().as_secs_f64() * 1000.0;
    }
    let removes: Vec<Value> = batch
        .iter()
        .map(|r| {
            let mut r = r.clone();
            r["eventName"] = json!("REMOVE");
            if let Some(d) = r["dynamodb"].as_object_mut() {
                if let Some(image) = d.remove("NewImage") {
                    d.insert("OldImage".into(), image);
                }
            }
            r
        })
        .collect();
    if let Some(ev) = stream_event(removes, "shardId-00000001700000000000-0001") {
        let started = Instant::now();
        crate::archive::archive_batch(&store, &ev).await;
        m.archive_batch_cpu_ms = started.elapsed().as_secs_f64() * 1000.0;
    }

    // The hot project's day exported, timed.
    let hot = names.projects[0].0.clone();
    let day = now.format("%Y-%m-%d").to_string();
    let next = (now + Duration::days(1)).format("%Y-%m-%d").to_string();
    let request = crate::export::ExportRequest {
        project_id: hot.clone(),
        after_date: day,
        before_date: next,
        format: None,
    };
    let started = Instant::now();
    if let Ok(done) = crate::export::export(&store, &request, now).await {
        let rows: u64 = done.manifests.iter().map(|x| x.rows).sum();
        let executions: usize = pops
            .iter()
            .filter(|(p, _)| p.project == hot)
            .map(|(p, _)| p.sample)
            .sum();
        m.export_rows_per_s = rows as f64 / started.elapsed().as_secs_f64().max(1e-9);
        m.export_rows_per_execution = rows as f64 / executions.max(1) as f64;
    }

    // Queries per 100-item page.
    let workflow = names.values[0].0.clone();
    let pages = [
        ("list, the hot project".to_string(), hot.clone(), None),
        (
            "list, the hot project's workflow W0".to_string(),
            hot.clone(),
            Some(workflow),
        ),
        ("list, a quiet project".to_string(), names.projects[1].0.clone(), None),
    ];
    for (what, project, workflow) in pages {
        let query = ListQuery {
            window: Window {
                project,
                after: None,
                before: None,
                ascending: false,
                limit: 100,
                now,
                search: None,
            },
            dimensions: workflow.map(|w| vec![(Field::WorkflowId, vec![w])]).unwrap_or_default(),
            statuses: Vec::new(),
        };
        store.backend.take_calls();
        let budget = ReadBudget {
            items: settings.read_budget_items,
        };
        let _ = store.list_executions(&query, None, budget).await;
        m.fanout.push((what, store.backend.take_calls().queries));
    }
    store.backend.model(&names, &crate::store::scale::bucket(now), &m)
}

/// The share of a partition's write limit the chosen shard count leaves the busiest listing
/// partition at most: ids hash unevenly over a few shards, and bursts come on top of the average.
pub const LISTING_HEADROOM: f64 = 0.8;

/// The model at the given shard count for the hot project, or at the fewest that keep every
/// listing partition within `LISTING_HEADROOM` of its limit.
pub async fn model(t: &Target) -> Report {
    if let Some(n) = t.list_shards {
        return model_at(t, n.clamp(1, MAX_SHARDS)).await;
    }
    let roomy = |r: &Report| {
        r.busiest_listing()
            .is_none_or(|k| k.wcu <= crate::store::scale::PARTITION_WCU * LISTING_HEADROOM)
    };
    let one = model_at(t, 1).await;
    if roomy(&one) {
        return one;
    }
    let busiest = one.busiest_listing().map_or(0.0, |k| k.wcu);
    let mut n =
        ((busiest / (crate::store::scale::PARTITION_WCU * LISTING_HEADROOM)).ceil() as u32).clamp(2, MAX_SHARDS);
    loop {
        let report = model_at(t, n).await;
        if n >= MAX_SHARDS || roomy(&report) {
            return report;
        }
        n += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Target {
        Target {
            batch: 10,
            sample: 30,
            ..Target::default()
        }
    }

    #[tokio::test]
    async fn the_model_picks_the_fewest_listing_shards_that_keep_the_hot_project_within_limits() {
        let t = small();
        let report = model(&t).await;
        // Start and end write the project entry: 2 x 1,429 executions a second need 3 partitions,
        // and 4 to leave a fifth of each partition's limit spare.
        assert_eq!(report.list_shards, 4);
        let busiest = report.busiest_listing().expect("listing partitions");
        assert!(busiest.wcu <= 800.0 && busiest.wcu > 650.0, "{busiest:?}");
        let edge = model_at(&t, 3).await;
        assert!(edge.busiest_listing().is_some_and(|k| !k.over() && k.wcu > 900.0));
        let fewer = model_at(&t, 2).await;
        assert!(fewer.busiest_listing().is_some_and(|k| k.over()));
        assert!(fewer.limits_passed().iter().any(|c| c.what.contains("byProject")));
    }

    #[tokio::test]
    async fn the_register_spreads_over_its_partitions_and_the_hot_counters_are_over() {
        let report = model_at(&small(), 3).await;
        let register = report
            .keys
            .iter()
            .filter(|k| k.key.starts_with("DAY#"))
            .max_by(|a, b| a.wcu.total_cmp(&b.wcu))
            .expect("the register");
        // The fullest of 256 partitions, and the hot project's leased notes: far from the limit.
        assert!(!register.over() && register.wcu > 10.0, "{register:?}");
        assert!(report
            .keys
            .iter()
            .any(|k| k.counter && k.key.starts_with("ST#hot#") && k.over()));
        assert!(!report.limits_passed().is_empty());
        // A page of the hot project reads its 3 shards once; a quiet one, with fewer than a page of
        // executions, reads its one partition of each of the 4 months of retention.
        assert_eq!(report.fanout[0].1, 3, "{:?}", report.fanout);
        assert_eq!(report.fanout[2].1, 4, "{:?}", report.fanout);
    }
}
