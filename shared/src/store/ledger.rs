//! The domain operations of the store, built on a backend.

use super::backend::{Backend, CollectionQuery, GuardedPut};
use super::items::{self, Item};
use super::keys;
use super::*;
use crate::bodies::Body;
use crate::model::limits::STEPS_ORDERED_MAX;
use crate::query::ReadBudget;

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

impl<B: Backend> ListExecutions for Ledger<B> {
    async fn list_executions(
        &self,
        query: &ListQuery,
        resume: Option<&Position>,
        budget: ReadBudget,
    ) -> Result<Page<ExecutionSummary>, StoreError> {
        super::listing::list(
            &self.backend,
            self.config.retention_days,
            self.config.list_shards,
            query,
            resume,
            budget,
        )
        .await
    }

    async fn count_executions(&self, query: &ListQuery, budget: ReadBudget) -> Result<Count, StoreError> {
        super::listing::count(
            &self.backend,
            self.config.retention_days,
            self.config.list_shards,
            query,
            budget,
        )
        .await
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
    async fn load_units(&self, keys: &[UnitKey], consistent: bool) -> Result<HashMap<UnitKey, StoredUnit>, StoreError> {
        let wanted: Vec<(String, String)> = keys.iter().map(items::unit_keys).collect();
        let found = self.backend.batch_get(&wanted, consistent).await?;
        Ok(found
            .iter()
            .filter_map(|it| Some((items::unit_key_of(it)?, items::unit_from_item(it))))
            .collect())
    }

    async fn put_body(&self, key: &UnitKey, body: &Body) -> Result<(), StoreError> {
        self.backend
            .put_object(
                &keys::body_object_key(&key.project, &key.execution, &body.sha256),
                body.raw.clone(),
            )
            .await
    }

    async fn commit(&self, unit: &UnitCommit) -> Result<(), StoreError> {
        self.backend
            .guarded_put(&GuardedPut {
                item: items::unit_item(unit, self.config.list_shards),
                expected_version: unit.expected_version,
            })
            .await
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
