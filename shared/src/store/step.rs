//! Step items: in their execution's partition under `S#{stepId}`, with the execution's record
//! layout (`execution`), read in `dateStarted` order.

use super::backend::{Backend, CollectionQuery};
use super::execution;
use super::execution::{bodies_of, fields_of, unit_key_of, STARTED};
use super::index::listing_sk;
use super::table;
use super::table::{number_attr, sort_key, Item};
use super::RecordBodies;
use super::{ExecutionRecord, Ledger, ReadExecution, ReadStep, StoreError};
use crate::model::limits::STEPS_ORDERED_MAX;
use crate::model::StepSummary;
use crate::query::Page;
use crate::query::Position;

#[derive(Clone, Debug, PartialEq)]
pub struct StepRecord {
    pub summary: StepSummary,
    pub execution_id: String,
    pub project_id: String,
    pub bodies: RecordBodies,
}

/// A page of one execution's steps.
#[derive(Clone, Debug)]
pub struct StepsQuery<'a> {
    pub project: &'a str,
    pub execution: &'a str,
    pub resume: Option<&'a Position>,
    pub limit: usize,
    pub now_epoch: i64,
}

/// Prefix of step sort keys.
pub const STEP_PREFIX: &str = "S#";

/// Above every step sort key (`$` sorts right after `#`).
pub const STEPS_END: &str = "S$";

pub fn step_sk(step_id: &str) -> String {
    format!("{STEP_PREFIX}{step_id}")
}

/// The step id of a step sort key.
pub fn step_id_of(sk: &str) -> Option<&str> {
    sk.strip_prefix(STEP_PREFIX)
}

/// Step order: `dateStarted` millis then id, the same shape as a listing key.
pub fn step_order_key(started_millis: i64, step_id: &str) -> String {
    listing_sk(started_millis, step_id)
}

/// A step's summary alone: its bodies stay untouched.
pub fn step_summary(item: &Item) -> Option<StepSummary> {
    let key = unit_key_of(item)?;
    StepSummary::from_fields(key.step.as_deref()?, &fields_of(item, None))
}

pub fn step_from_item(item: &Item) -> Option<(StepSummary, RecordBodies)> {
    Some((step_summary(item)?, bodies_of(item)))
}

/// A step's place in `dateStarted` order.
pub fn step_order(item: &Item) -> Option<String> {
    let id = step_id_of(sort_key(item))?;
    Some(step_order_key(number_attr(item, STARTED)?, id))
}

/// An execution's summary and its steps in order, as one read: the summary sorts first and the
/// steps right after it, up to the most steps an ordered read takes.
pub(super) fn with_steps(project: &str, execution: &str) -> CollectionQuery {
    CollectionQuery {
        pk: execution::execution_pk(project, execution),
        from: execution::SUMMARY_SK.into(),
        to: STEPS_END.into(),
        limit: 1 + STEPS_ORDERED_MAX as u32,
        consistent: false,
    }
}

fn live_summary(found: &[Item], now_epoch: i64) -> Option<&Item> {
    found
        .iter()
        .find(|it| table::sort_key(it) == execution::SUMMARY_SK && !table::is_expired(it, now_epoch))
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
        .filter(|it| step_id_of(table::sort_key(it)).is_some() && !table::is_expired(it, now_epoch))
        .filter_map(|it| Some((step_order(it)?, step_summary(it)?)))
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
        let (found, more) = self.backend.query_collection(&with_steps(project, execution)).await?;
        let Some(head) = live_summary(&found, now_epoch) else {
            return Ok(None);
        };
        let Some((summary, bodies)) = execution::execution_from_item(head) else {
            return Ok(None);
        };
        let steps = step_page(live_steps(&found, now_epoch), !more, None, steps);
        Ok(Some(ExecutionRecord { summary, bodies, steps }))
    }

    async fn steps(&self, q: &StepsQuery<'_>) -> Result<Option<Page<StepSummary>>, StoreError> {
        let (resume, limit, now_epoch) = (q.resume, q.limit, q.now_epoch);
        let by_id = resume.and_then(|p| p.0.strip_prefix(BY_ID));
        if let Some(after) = by_id {
            // Past the first ordered read: page on in sort-key order after the last id.
            let (found, more) = self
                .backend
                .query_collection(&CollectionQuery {
                    pk: execution::execution_pk(q.project, q.execution),
                    from: format!("{}\u{0}", step_sk(after)),
                    to: STEPS_END.into(),
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
            .query_collection(&with_steps(q.project, q.execution))
            .await?;
        if live_summary(&found, now_epoch).is_none() {
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
            .get_item(&execution::execution_pk(project, execution), &step_sk(step), false)
            .await?;
        Ok(item
            .filter(|it| !table::is_expired(it, now_epoch))
            .and_then(|it| step_from_item(&it))
            .map(|(summary, bodies)| StepRecord {
                summary,
                execution_id: execution.to_string(),
                project_id: project.to_string(),
                bodies,
            }))
    }
}

#[cfg(test)]
mod tests {
    use super::super::execution::SUMMARY_SK;
    use super::*;

    #[test]
    fn step_keys_sort_between_the_summary_and_the_end() {
        assert!(SUMMARY_SK < step_sk("0").as_str());
        assert!(step_sk("\u{10ffff}").as_str() < STEPS_END);
        assert_eq!(step_id_of(&step_sk("a#b")), Some("a#b"));
    }
}
