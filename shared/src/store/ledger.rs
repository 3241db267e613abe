//! The domain operations of the store, built on a backend.

use super::backend::{Backend, GuardedPut, IndexQuery};
use super::body;
use super::counter;
use super::event_log;
use super::execution;
use super::index;
use super::index::{ListIndex, Source};
use super::listing::{self, Found, Keep, Plan, Refine, RESPONSE_MAX_BYTES};
use super::matching::{ExecutionSearch, LogRefine};
use super::shard_layout;
use super::table;
use super::table::Item;
use super::tokens;
use super::*;
use crate::bodies::Body;
use crate::model::counts::Family;
use crate::model::limits::TRACE_MAX_ITEMS;
use crate::query::ReadBudget;
use crate::query::Window;

/// What the store needs of the settings.
#[derive(Clone, Debug)]
pub struct StoreConfig {
    pub retention_days: i64,
}

impl StoreConfig {
    pub fn from_settings(s: &crate::config::Settings) -> Self {
        StoreConfig {
            retention_days: s.retention_days,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Ledger<B> {
    pub backend: B,
    pub config: StoreConfig,
    /// The shard layouts this process has read, shared by its clones.
    pub(super) layouts: std::sync::Arc<shard_layout::Copies>,
}

impl<B: Backend> Ledger<B> {
    pub fn new(backend: B, config: StoreConfig) -> Self {
        Ledger {
            backend,
            config,
            layouts: Default::default(),
        }
    }
}

impl<B: Backend> Ledger<B> {
    /// A total that only reading can tell (keyword search): pages read until the budget ends.
    async fn count_by_reading<R: Refine>(
        &self,
        plan: &Plan,
        w: &Window,
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
        let found = match &query.window.search {
            None => self.scan(&plan, &query.window, resume, budget, &Keep).await?,
            Some(keywords) => {
                let search = ExecutionSearch {
                    backend: &self.backend,
                    project: &query.window.project,
                    keywords,
                };
                self.scan(&plan, &query.window, resume, budget, &search).await?
            }
        };
        Ok(page_of(found, |it| {
            execution::summary_from_listing(&query.window.project, it)
        }))
    }

    async fn count_executions(&self, query: &ListQuery, budget: ReadBudget) -> Result<Count, StoreError> {
        let Some(selection) = counter::execution_selection(query) else {
            return self.count_executions_by_reading(query, budget).await;
        };
        let read_edge = |after, before, budget| {
            let mut edge = query.clone();
            (edge.window.after, edge.window.before) = (Some(after), Some(before));
            async move { self.count_executions_by_reading(&edge, budget).await }
        };
        let range = self.total_range(query.window.after, query.window.before, query.window.now);
        counter::total(
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
    ) -> counter::TotalRange {
        counter::TotalRange {
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
        match &query.window.search {
            None => self.count(&plan, &query.window, budget).await,
            Some(keywords) => {
                let search = ExecutionSearch {
                    backend: &self.backend,
                    project: &query.window.project,
                    keywords,
                };
                self.count_by_reading(&plan, &query.window, budget, &search).await
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
        let found = self
            .scan(&plan, &query.window, resume, budget, &self.log_refine(&plan, query))
            .await?;
        Ok(page_of(found, event_log::log_from_item))
    }

    async fn count_logs(&self, query: &LogQuery, budget: ReadBudget) -> Result<Count, StoreError> {
        let Some(selection) = counter::log_selection(query) else {
            return self.count_logs_by_reading(query, budget).await;
        };
        let read_edge = |after, before, budget| {
            let mut edge = query.clone();
            (edge.window.after, edge.window.before) = (Some(after), Some(before));
            async move { self.count_logs_by_reading(&edge, budget).await }
        };
        let range = self.total_range(query.window.after, query.window.before, query.window.now);
        counter::total(self, &selection, Family::Logs, &[], range, budget, read_edge).await
    }
}

impl<B: Backend> Ledger<B> {
    async fn count_logs_by_reading(&self, query: &LogQuery, budget: ReadBudget) -> Result<Count, StoreError> {
        let plan = listing::plan_logs(query);
        if query.window.search.is_some() {
            return self
                .count_by_reading(&plan, &query.window, budget, &self.log_refine(&plan, query))
                .await;
        }
        self.count(&plan, &query.window, budget).await
    }
}

impl<B: Backend> ReadTrace for Ledger<B> {
    async fn trace(&self, project: &str, trace: &str, now: DateTime<Utc>) -> Result<TraceRecord, StoreError> {
        let oldest = now - chrono::Duration::days(self.config.retention_days);
        let newest = now + chrono::Duration::hours(crate::model::limits::MAX_CLOCK_SKEW_HOURS);
        let layout = self.read_layout(project, newest.timestamp_millis()).await?;
        // One Query per shard of each epoch while the trace fits a page (1 MB); a larger one pages
        // on. Each shard is read in time order up to the trace's limit, then all are merged.
        let mut reads = Vec::new();
        for span in layout.spans(oldest.timestamp_millis(), newest.timestamp_millis() - 1) {
            for shard in 0..span.shards {
                reads.push(IndexQuery {
                    index: ListIndex::Trace,
                    partition: index::trace_pk(project, trace, shard, span.shards),
                    from: index::listing_sk_from_millis(span.from_ms),
                    to: index::listing_sk_through_millis(span.to_ms),
                    ascending: true,
                    limit: TRACE_MAX_ITEMS as u32 + 1,
                    filters: Vec::new(),
                    start: None,
                });
            }
        }
        let shard_reads = reads
            .into_iter()
            .map(|query| self.trace_partition(project, query, &layout, now));
        let mut entries: Vec<(String, Source, Item)> = futures::future::try_join_all(shard_reads)
            .await?
            .into_iter()
            .flatten()
            .collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let mut record = TraceRecord::default();
        let mut bytes = 0;
        for (_, source, it) in entries {
            bytes += table::response_size(&it);
            if record.executions.len() + record.logs.len() == TRACE_MAX_ITEMS || bytes > RESPONSE_MAX_BYTES {
                record.truncated = true;
                break;
            }
            match source {
                Source::Executions => record.executions.extend(execution::summary_from_listing(project, &it)),
                Source::Logs => record.logs.extend(event_log::log_from_item(&it)),
            }
        }
        Ok(record)
    }
}

impl<B: Backend> Ledger<B> {
    /// A trace partition's entries in time order, each with its family, up to what a trace can
    /// show (one more than its item limit, or its bytes).
    async fn trace_partition(
        &self,
        project: &str,
        mut query: IndexQuery,
        layout: &shard_layout::ShardLayout,
        now: DateTime<Utc>,
    ) -> Result<Vec<(String, Source, Item)>, StoreError> {
        let mut out = Vec::new();
        let mut bytes = 0;
        loop {
            let page = self.backend.query_index(&query).await?;
            for it in page
                .items
                .into_iter()
                .filter(|it| !table::is_expired(it, now.timestamp()))
            {
                let inside =
                    |source| index::in_partition(source, project, ListIndex::Trace, &query.partition, &it, layout);
                let source = if inside(Source::Executions) {
                    Source::Executions
                } else if inside(Source::Logs) {
                    Source::Logs
                } else {
                    continue;
                };
                bytes += table::response_size(&it);
                out.push((table::listing_key(&it).to_string(), source, it));
                if out.len() > TRACE_MAX_ITEMS || bytes > RESPONSE_MAX_BYTES {
                    return Ok(out);
                }
            }
            match page.last {
                Some(last) if !last.is_empty() => query.start = Some(last),
                _ => return Ok(out),
            }
        }
    }
}

impl<B: Backend> LinkBodies for Ledger<B> {
    async fn presign(&self, body: &BodyLocation<'_>) -> Result<String, StoreError> {
        self.backend
            .presign(&body::body_object_key(body.project, body.execution, body.sha256))
            .await
    }
}

impl<B: Backend> CommitUnits for Ledger<B> {
    async fn load_units(
        &self,
        keys: &[UnitKey],
        tokens: &[(String, String)],
        consistent: bool,
    ) -> Result<Loaded, StoreError> {
        let mut wanted: Vec<(String, String)> = keys.iter().map(execution::unit_keys).collect();
        wanted.extend(tokens.iter().map(|(p, e)| tokens::tokens_key(p, e)));
        let found = self.backend.batch_get(&wanted, consistent).await?;
        let mut loaded = Loaded::default();
        for it in &found {
            if let Some((key, fingerprints, version, expires_at)) = tokens::tokens_from_item(it) {
                loaded.tokens.insert(
                    key,
                    StoredTokens {
                        fingerprints,
                        version,
                        expires_at,
                    },
                );
            } else if let Some(key) = execution::unit_key_of(it) {
                loaded.units.insert(key, execution::unit_from_item(it));
            }
        }
        Ok(loaded)
    }

    async fn commit_tokens(&self, t: &TokensCommit) -> Result<(), StoreError> {
        let version = t.expected_version.unwrap_or(0) + 1;
        self.backend
            .guarded_put(&GuardedPut::new(
                tokens::tokens_item(&t.project, &t.execution, &t.fingerprints, version, t.expires_at),
                t.expected_version,
            ))
            .await
    }

    async fn put_body(&self, key: &UnitKey, body: &Body) -> Result<(), StoreError> {
        self.backend
            .put_object(
                &body::body_object_key(&key.project, Some(&key.execution), &body.sha256),
                body.raw.clone(),
            )
            .await
    }

    async fn commit(&self, unit: &UnitCommit) -> Result<(), StoreError> {
        // A summary's listing entries are sharded by the epoch of its own start.
        let shards = match execution::listing_millis(unit) {
            Some(started) => self.write_shards(&unit.key.project, started).await?,
            None => 1,
        };
        self.backend
            .guarded_put(&GuardedPut::new(
                execution::unit_item(unit, shards),
                unit.expected_version,
            ))
            .await
    }
}

impl<B: Backend> AppendLogs for Ledger<B> {
    async fn put_log_body(&self, project: &str, body: &Body) -> Result<(), StoreError> {
        self.backend
            .put_object(&body::body_object_key(project, None, &body.sha256), body.raw.clone())
            .await
    }

    async fn append_log(&self, log: &LogWrite) -> Result<bool, StoreError> {
        let invalid = || StoreError::Permanent("an event log needs a valid timestamp".into());
        let millis = event_log::millis_of(log).ok_or_else(invalid)?;
        let shards = self.write_shards(&log.entry.project_id, millis).await?;
        let item = event_log::log_item(log, shards).ok_or_else(invalid)?;
        match self.backend.guarded_put(&GuardedPut::new(item, None)).await {
            Ok(()) => Ok(true),
            Err(StoreError::Conflict) => Ok(false),
            Err(e) => Err(e),
        }
    }
}
