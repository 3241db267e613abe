//! The domain operations of the store, built on a backend.

use super::backend::{Backend, CollectionQuery, GuardedPut, IndexQuery};
use super::counters;
use super::items::{self, Item};
use super::keys::{self, ListIndex, Source};
use super::listing::{self, Found, Keep, Plan, Refine, Window, RESPONSE_MAX_BYTES};
use super::log_items;
use super::matching::{ExecutionSearch, LogRefine};
use super::*;
use crate::bodies::Body;
use crate::model::limits::{STEPS_ORDERED_MAX, TRACE_MAX_ITEMS};
use crate::query::ReadBudget;
use crate::stats::Family;

/// What the store needs of the settings.
#[derive(Clone, Debug)]
pub struct StoreConfig {
    pub retention_days: i64,
    pub list_shards: u32,
}

impl StoreConfig {
    pub fn from_settings(s: &crate::config::Settings) -> Self {
        StoreConfig {
            retention_days: s.retention_days,
            list_shards: s.list_shards,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Ledger<B> {
    pub backend: B,
    pub config: StoreConfig,
}

impl<B: Backend> Ledger<B> {
    pub fn new(backend: B, config: StoreConfig) -> Self {
        Ledger { backend, config }
    }
}

impl<B: Backend> Ledger<B> {
    async fn scan<R: Refine>(
        &self,
        plan: &Plan,
        w: &Window<'_>,
        resume: Option<&Position>,
        budget: ReadBudget,
        refine: &R,
    ) -> Result<Found, StoreError> {
        let c = &self.config;
        listing::scan(
            &self.backend,
            c.retention_days,
            c.list_shards,
            plan,
            w,
            resume,
            budget,
            refine,
        )
        .await
    }

    /// A total that only reading can tell (keyword search): pages read until the budget ends.
    async fn count_by_reading<R: Refine>(
        &self,
        plan: &Plan,
        w: &Window<'_>,
        budget: ReadBudget,
        refine: &R,
    ) -> Result<Count, StoreError> {
        let mut w = w.clone();
        w.limit = crate::model::limits::MAX_LIMIT as usize;
        let (mut total, mut left, mut resume) = (0, budget.items.max(1), None);
        loop {
            let found = self
                .scan(plan, &w, resume.as_ref(), ReadBudget { items: left }, refine)
                .await?;
            total += found.entries.len() as u64;
            left = left.saturating_sub(found.used.max(1));
            match found.next {
                None => return Ok(Count { total, exact: true }),
                Some(_) if left == 0 => return Ok(Count { total, exact: false }),
                next => resume = next,
            }
        }
    }

    fn log_refine<'a>(&'a self, plan: &Plan, q: &'a LogQuery) -> LogRefine<'a, B> {
        LogRefine {
            backend: &self.backend,
            project: &q.window.project,
            hydrate: plan.index != ListIndex::Table,
            keywords: q.window.search.as_ref(),
        }
    }
}

fn page_of<T>(found: Found, map: impl Fn(&Item) -> Option<T>) -> Page<T> {
    Page {
        items: found.entries.iter().filter_map(map).collect(),
        next: found.next,
        partial: found.partial,
        reached: found.reached,
    }
}

impl<B: Backend> ListExecutions for Ledger<B> {
    async fn list_executions(
        &self,
        query: &ListQuery,
        resume: Option<&Position>,
        budget: ReadBudget,
    ) -> Result<Page<ExecutionSummary>, StoreError> {
        let plan = listing::plan(query);
        let w = Window::of_executions(query);
        let found = match &query.window.search {
            None => self.scan(&plan, &w, resume, budget, &Keep).await?,
            Some(keywords) => {
                let search = ExecutionSearch {
                    backend: &self.backend,
                    project: &query.window.project,
                    keywords,
                };
                self.scan(&plan, &w, resume, budget, &search).await?
            }
        };
        Ok(page_of(found, |it| {
            items::summary_from_listing(&query.window.project, it)
        }))
    }

    async fn count_executions(&self, query: &ListQuery, budget: ReadBudget) -> Result<Count, StoreError> {
        let Some(selection) = counters::execution_selection(query) else {
            return self.count_executions_by_reading(query, budget).await;
        };
        let read_edge = |after, before, budget| {
            let mut edge = query.clone();
            (edge.window.after, edge.window.before) = (Some(after), Some(before));
            async move { self.count_executions_by_reading(&edge, budget).await }
        };
        let range = self.total_range(query.window.after, query.window.before, query.window.now);
        counters::total(
            self,
            &selection,
            Family::Executions,
            &query.statuses,
            range,
            budget,
            read_edge,
        )
        .await
    }
}

impl<B: Backend> Ledger<B> {
    fn total_range(
        &self,
        after: Option<DateTime<Utc>>,
        before: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> counters::TotalRange {
        counters::TotalRange {
            after,
            before,
            now,
            retention_days: self.config.retention_days,
        }
    }

    /// The total by reading the listing alone, within `budget`: what every `count=true` cost before
    /// counters, and still costs for combinations they do not cover (`make bench` compares).
    pub async fn count_executions_by_reading(
        &self,
        query: &ListQuery,
        budget: ReadBudget,
    ) -> Result<Count, StoreError> {
        let plan = listing::plan(query);
        let w = Window::of_executions(query);
        match &query.window.search {
            None => {
                let c = &self.config;
                listing::count(&self.backend, c.retention_days, c.list_shards, &plan, &w, budget).await
            }
            Some(keywords) => {
                let search = ExecutionSearch {
                    backend: &self.backend,
                    project: &query.window.project,
                    keywords,
                };
                self.count_by_reading(&plan, &w, budget, &search).await
            }
        }
    }
}

impl<B: Backend> ListLogs for Ledger<B> {
    async fn list_logs(
        &self,
        query: &LogQuery,
        resume: Option<&Position>,
        budget: ReadBudget,
    ) -> Result<Page<LogRecord>, StoreError> {
        let plan = listing::plan_logs(query);
        let w = Window::of_logs(query);
        let found = self
            .scan(&plan, &w, resume, budget, &self.log_refine(&plan, query))
            .await?;
        Ok(page_of(found, log_items::log_from_item))
    }

    async fn count_logs(&self, query: &LogQuery, budget: ReadBudget) -> Result<Count, StoreError> {
        let Some(selection) = counters::log_selection(query) else {
            return self.count_logs_by_reading(query, budget).await;
        };
        let read_edge = |after, before, budget| {
            let mut edge = query.clone();
            (edge.window.after, edge.window.before) = (Some(after), Some(before));
            async move { self.count_logs_by_reading(&edge, budget).await }
        };
        let range = self.total_range(query.window.after, query.window.before, query.window.now);
        counters::total(self, &selection, Family::Logs, &[], range, budget, read_edge).await
    }
}

impl<B: Backend> Ledger<B> {
    async fn count_logs_by_reading(&self, query: &LogQuery, budget: ReadBudget) -> Result<Count, StoreError> {
        let plan = listing::plan_logs(query);
        let w = Window::of_logs(query);
        if query.window.search.is_some() {
            return self
                .count_by_reading(&plan, &w, budget, &self.log_refine(&plan, query))
                .await;
        }
        let c = &self.config;
        listing::count(&self.backend, c.retention_days, c.list_shards, &plan, &w, budget).await
    }
}

impl<B: Backend> ReadTrace for Ledger<B> {
    async fn trace(&self, project: &str, trace: &str, now: DateTime<Utc>) -> Result<TraceRecord, StoreError> {
        let partition = keys::trace_pk(project, trace);
        let oldest = now - chrono::Duration::days(self.config.retention_days);
        let newest = now + chrono::Duration::hours(crate::model::limits::MAX_CLOCK_SKEW_HOURS);
        let mut query = IndexQuery {
            index: ListIndex::Trace,
            partition,
            from: keys::listing_sk_from(oldest),
            to: keys::listing_sk_before(newest),
            ascending: true,
            limit: TRACE_MAX_ITEMS as u32 + 1,
            filters: Vec::new(),
            start: None,
        };
        let mut record = TraceRecord::default();
        let shards = self.config.list_shards;
        let mut bytes = 0;
        loop {
            // One Query while the trace fits a page (1 MB); a larger one pages on.
            let page = self.backend.query_index(&query).await?;
            for it in page.items.iter().filter(|it| !items::is_expired(it, now.timestamp())) {
                bytes += items::response_size(it);
                if record.executions.len() + record.logs.len() == TRACE_MAX_ITEMS || bytes > RESPONSE_MAX_BYTES {
                    record.truncated = true;
                    return Ok(record);
                }
                let inside =
                    |source| items::in_partition(source, project, ListIndex::Trace, &query.partition, it, shards);
                if inside(Source::Executions) {
                    record.executions.extend(items::summary_from_listing(project, it));
                } else if inside(Source::Logs) {
                    record.logs.extend(log_items::log_from_item(it));
                }
            }
            match page.last {
                Some(last) if !last.is_empty() => query.start = Some(last),
                _ => return Ok(record),
            }
        }
    }
}

/// Step positions: `d:{order key}` while an execution's steps fit one ordered read, otherwise
/// `i:{step id}` (id order, each page sorted by `dateStarted`).
const ORDERED: &str = "d:";
const BY_ID: &str = "i:";

fn step_page(
    mut steps: Vec<(String, StepSummary)>,
    complete: bool,
    after: Option<&str>,
    limit: usize,
) -> Page<StepSummary> {
    if complete {
        steps.sort_by(|a, b| a.0.cmp(&b.0));
        let start = after.map_or(0, |a| steps.partition_point(|(k, _)| k.as_str() <= a));
        let rest = &steps[start..];
        let page: Vec<(String, StepSummary)> = rest.iter().take(limit).cloned().collect();
        let next = (rest.len() > limit).then(|| Position(format!("{ORDERED}{}", page[page.len() - 1].0)));
        Page {
            items: page.into_iter().map(|(_, s)| s).collect(),
            next,
            partial: false,
            reached: None,
        }
    } else {
        // Sort-key (id) order: take the first `limit`, then order the page by dateStarted.
        let mut page: Vec<(String, StepSummary)> = steps.into_iter().take(limit).collect();
        let last_id = page.last().map(|(_, s)| s.id.clone());
        page.sort_by(|a, b| a.0.cmp(&b.0));
        Page {
            items: page.into_iter().map(|(_, s)| s).collect(),
            next: last_id.map(|id| Position(format!("{BY_ID}{id}"))),
            partial: false,
            reached: None,
        }
    }
}

fn live_steps(found: &[Item], now_epoch: i64) -> Vec<(String, StepSummary)> {
    found
        .iter()
        .filter(|it| keys::step_id_of(items::sort_key(it)).is_some() && !items::is_expired(it, now_epoch))
        .filter_map(|it| Some((items::step_order(it)?, items::step_summary(it)?)))
        .collect()
}

impl<B: Backend> ReadExecution for Ledger<B> {
    async fn execution(
        &self,
        project: &str,
        execution: &str,
        steps: usize,
        now_epoch: i64,
    ) -> Result<Option<ExecutionRecord>, StoreError> {
        // The summary sorts first and the steps right after it: one Query reads both.
        let (found, more) = self
            .backend
            .query_collection(&CollectionQuery {
                pk: keys::execution_pk(project, execution),
                from: keys::SUMMARY_SK.into(),
                to: keys::STEPS_END.into(),
                limit: 1 + STEPS_ORDERED_MAX as u32,
                consistent: false,
            })
            .await?;
        let Some(head) = found
            .iter()
            .find(|it| items::sort_key(it) == keys::SUMMARY_SK && !items::is_expired(it, now_epoch))
        else {
            return Ok(None);
        };
        let Some((summary, bodies)) = items::execution_from_item(head) else {
            return Ok(None);
        };
        let steps = step_page(live_steps(&found, now_epoch), !more, None, steps);
        Ok(Some(ExecutionRecord { summary, bodies, steps }))
    }

    async fn steps(&self, q: &StepsQuery<'_>) -> Result<Option<Page<StepSummary>>, StoreError> {
        let (resume, limit, now_epoch) = (q.resume, q.limit, q.now_epoch);
        let pk = keys::execution_pk(q.project, q.execution);
        let by_id = resume.and_then(|p| p.0.strip_prefix(BY_ID));
        if let Some(after) = by_id {
            // Past the first ordered read: page on in sort-key order after the last id.
            let (found, more) = self
                .backend
                .query_collection(&CollectionQuery {
                    pk,
                    from: format!("{}\u{0}", keys::step_sk(after)),
                    to: keys::STEPS_END.into(),
                    limit: limit as u32,
                    consistent: false,
                })
                .await?;
            let mut page = step_page(live_steps(&found, now_epoch), false, None, limit);
            if !more {
                page.next = None;
            }
            return Ok(Some(page));
        }
        let (found, more) = self
            .backend
            .query_collection(&CollectionQuery {
                pk,
                from: keys::SUMMARY_SK.into(),
                to: keys::STEPS_END.into(),
                limit: 1 + STEPS_ORDERED_MAX as u32,
                consistent: false,
            })
            .await?;
        let exists = found
            .iter()
            .any(|it| items::sort_key(it) == keys::SUMMARY_SK && !items::is_expired(it, now_epoch));
        if !exists {
            return Ok(None);
        }
        let after = resume.and_then(|p| p.0.strip_prefix(ORDERED));
        Ok(Some(step_page(live_steps(&found, now_epoch), !more, after, limit)))
    }
}

impl<B: Backend> ReadStep for Ledger<B> {
    async fn step(
        &self,
        project: &str,
        execution: &str,
        step: &str,
        now_epoch: i64,
    ) -> Result<Option<StepRecord>, StoreError> {
        let item = self
            .backend
            .get_item(&keys::execution_pk(project, execution), &keys::step_sk(step), false)
            .await?;
        Ok(item
            .filter(|it| !items::is_expired(it, now_epoch))
            .and_then(|it| items::step_from_item(&it))
            .map(|(summary, bodies)| StepRecord {
                summary,
                execution_id: execution.to_string(),
                project_id: project.to_string(),
                bodies,
            }))
    }
}

impl<B: Backend> LinkBodies for Ledger<B> {
    async fn presign(&self, body: &BodyLocation<'_>) -> Result<String, StoreError> {
        self.backend
            .presign(&keys::body_object_key(body.project, body.execution, body.sha256))
            .await
    }
}

impl<B: Backend> Ledger<B> {
    async fn key_record(&self, key_id: &str, consistent: bool) -> Result<Option<KeyRecord>, StoreError> {
        let (pk, sk) = items::key_lookup(key_id);
        let item = self.backend.get_item(&pk, &sk, consistent).await?;
        Ok(item.as_ref().and_then(items::key_record))
    }
}

impl<B: Backend> ReadKeys for Ledger<B> {
    async fn api_key(&self, key_id: &str) -> Result<Option<KeyRecord>, StoreError> {
        self.key_record(key_id, false).await
    }
}

impl<B: Backend> CommitUnits for Ledger<B> {
    async fn load_units(
        &self,
        keys: &[UnitKey],
        tokens: &[(String, String)],
        consistent: bool,
    ) -> Result<Loaded, StoreError> {
        let mut wanted: Vec<(String, String)> = keys.iter().map(items::unit_keys).collect();
        wanted.extend(tokens.iter().map(|(p, e)| items::tokens_key(p, e)));
        let found = self.backend.batch_get(&wanted, consistent).await?;
        let mut loaded = Loaded::default();
        for it in &found {
            if let Some((key, fingerprints, version, expires_at)) = items::tokens_from_item(it) {
                loaded.tokens.insert(
                    key,
                    StoredTokens {
                        fingerprints,
                        version,
                        expires_at,
                    },
                );
            } else if let Some(key) = items::unit_key_of(it) {
                loaded.units.insert(key, items::unit_from_item(it));
            }
        }
        Ok(loaded)
    }

    async fn commit_tokens(&self, t: &TokensCommit) -> Result<(), StoreError> {
        let version = t.expected_version.unwrap_or(0) + 1;
        self.backend
            .guarded_put(&GuardedPut::new(
                items::tokens_item(&t.project, &t.execution, &t.fingerprints, version, t.expires_at),
                t.expected_version,
            ))
            .await
    }

    async fn put_body(&self, key: &UnitKey, body: &Body) -> Result<(), StoreError> {
        self.backend
            .put_object(
                &keys::body_object_key(&key.project, Some(&key.execution), &body.sha256),
                body.raw.clone(),
            )
            .await
    }

    async fn commit(&self, unit: &UnitCommit) -> Result<(), StoreError> {
        self.backend
            .guarded_put(&GuardedPut::new(
                items::unit_item(unit, self.config.list_shards),
                unit.expected_version,
            ))
            .await
    }
}

impl<B: Backend> AppendLogs for Ledger<B> {
    async fn put_log_body(&self, project: &str, body: &Body) -> Result<(), StoreError> {
        self.backend
            .put_object(&keys::body_object_key(project, None, &body.sha256), body.raw.clone())
            .await
    }

    async fn append_log(&self, log: &LogWrite) -> Result<bool, StoreError> {
        let item = log_items::log_item(log, self.config.list_shards)
            .ok_or_else(|| StoreError::Permanent("an event log needs a valid timestamp".into()))?;
        match self.backend.guarded_put(&GuardedPut::new(item, None)).await {
            Ok(()) => Ok(true),
            Err(StoreError::Conflict) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

impl<B: Backend> AdminKeys for Ledger<B> {
    async fn create_key(&self, record: &KeyRecord) -> Result<(), StoreError> {
        self.backend.put_all_new(&items::key_items(record)).await
    }

    async fn key(&self, key_id: &str) -> Result<Option<KeyRecord>, StoreError> {
        // The CLI reads its own writes.
        self.key_record(key_id, true).await
    }

    async fn project_keys(&self, project: &str) -> Result<Vec<KeyRecord>, StoreError> {
        let (pk, prefix) = items::project_keys(project);
        let found = self.backend.query_prefix(&pk, prefix).await?;
        Ok(found.iter().filter_map(items::key_record).collect())
    }

    async fn revoke_key(&self, record: &KeyRecord, now_epoch: i64) -> Result<(), StoreError> {
        self.backend
            .set_once(&items::key_entries(record), items::REVOKED_AT, now_epoch)
            .await
    }
}
