//! Keyword search inside listings, as `Refine` steps: fingerprints first (one small read per
//! execution, nothing extra for an event log, which carries its own), then the bodies of the
//! candidates only, so a search is exact and reads bodies only where a match is likely.

use super::backend::{Backend, CollectionQuery};
use super::items::{self, Item};
use super::listing::Refine;
use super::{keys, log_items, StoreError};
use crate::bodies::StoredBody;
use crate::search::{Keywords, Matcher};
use futures::stream::{self, StreamExt, TryStreamExt};
use std::collections::HashMap;

/// Candidates whose bodies are read at once.
const VERIFY_CONCURRENCY: usize = 8;

/// Feeds a body to the matcher: inline bytes as stored, offloaded ones from S3 (one read each).
async fn feed_body<B: Backend>(
    backend: &B,
    m: &mut Matcher<'_>,
    project: &str,
    owner: Option<&str>,
    body: Option<&StoredBody>,
) -> Result<u64, StoreError> {
    let Some(body) = body else { return Ok(0) };
    if m.done() {
        return Ok(0);
    }
    match body.inline_bytes() {
        Some(Ok(bytes)) => {
            m.json(&bytes);
            Ok(0)
        }
        Some(Err(_)) => Ok(0),
        None => {
            let key = keys::body_object_key(project, owner, &body.sha256);
            if let Some(bytes) = backend.get_object(&key).await? {
                m.json(&bytes);
            }
            Ok(1)
        }
    }
}

/// Feeds an execution or step item: its error's code and message, then its bodies.
async fn feed_record<B: Backend>(
    backend: &B,
    m: &mut Matcher<'_>,
    project: &str,
    execution: &str,
    item: &Item,
) -> Result<u64, StoreError> {
    for text in items::error_texts(item) {
        m.text(text);
    }
    let bodies = items::bodies_of(item);
    let mut cost = 0;
    for body in [&bodies.input, &bodies.output, &bodies.error_details] {
        cost += feed_body(backend, m, project, Some(execution), body.as_ref()).await?;
    }
    Ok(cost)
}

/// Executions whose bodies, errors and steps hold every keyword.
pub struct ExecutionSearch<'a, B> {
    pub backend: &'a B,
    pub project: &'a str,
    pub keywords: &'a Keywords,
}

fn execution_of(lsk: &str) -> Option<&str> {
    keys::parse_listing_sk(lsk).map(|(_, id)| id)
}

impl<B: Backend> ExecutionSearch<'_, B> {
    /// Whether an execution matches, and the items it took to tell.
    async fn verify(&self, execution: &str, summary: Option<&Item>) -> Result<(bool, u64), StoreError> {
        let mut m = Matcher::new(self.keywords);
        let mut cost = 0;
        if let Some(item) = summary {
            cost += feed_record(self.backend, &mut m, self.project, execution, item).await?;
        }
        if m.done() {
            return Ok((true, cost));
        }
        let mut from = keys::STEP_PREFIX.to_string();
        loop {
            let (steps, more) = self
                .backend
                .query_collection(&CollectionQuery {
                    pk: keys::execution_pk(self.project, execution),
                    from: from.clone(),
                    to: keys::STEPS_END.into(),
                    limit: crate::model::limits::STEPS_ORDERED_MAX as u32,
                    consistent: false,
                })
                .await?;
            cost += steps.len().max(1) as u64;
            for step in &steps {
                if m.done() {
                    return Ok((true, cost));
                }
                cost += feed_record(self.backend, &mut m, self.project, execution, step).await?;
            }
            // A page ends at 1 MB or 1,000 steps: go on after its last step.
            match steps.last() {
                Some(last) if more && !m.done() => from = format!("{}\u{0}", items::sort_key(last)),
                _ => return Ok((m.done(), cost)),
            }
        }
    }
}

impl<B: Backend> Refine for ExecutionSearch<'_, B> {
    async fn refine(&self, entries: Vec<(String, Item)>) -> Result<(Vec<(String, Item)>, u64), StoreError> {
        let wanted: Vec<(String, String)> = entries
            .iter()
            .filter_map(|(k, _)| execution_of(k))
            .map(|id| items::tokens_key(self.project, id))
            .collect();
        let mut cost = wanted.len() as u64;
        let fingerprints: HashMap<String, crate::search::Fingerprints> = self
            .backend
            .batch_get(&wanted, false)
            .await?
            .iter()
            .filter_map(items::tokens_from_item)
            .map(|((_, execution), f, _, _)| (execution, f))
            .collect();
        // No fingerprints: the execution has no bodies and no error, so nothing to match.
        let candidates: Vec<(String, Item)> = entries
            .into_iter()
            .filter(|(k, _)| {
                execution_of(k)
                    .and_then(|id| fingerprints.get(id))
                    .is_some_and(|f| f.may_contain(self.keywords))
            })
            .collect();
        if candidates.is_empty() {
            return Ok((candidates, cost));
        }
        let summary_keys: Vec<(String, String)> = candidates
            .iter()
            .filter_map(|(k, _)| execution_of(k))
            .map(|id| (keys::execution_pk(self.project, id), keys::SUMMARY_SK.to_string()))
            .collect();
        cost += summary_keys.len() as u64;
        let summaries: HashMap<String, Item> = self
            .backend
            .batch_get(&summary_keys, false)
            .await?
            .into_iter()
            .filter_map(|it| Some((items::unit_key_of(&it)?.execution, it)))
            .collect();
        // Indexes, not references, into the stream: a closure over borrowed items would not be
        // general enough for the Send bound the capabilities promise.
        let (candidates_ref, summaries_ref) = (&candidates, &summaries);
        let checks: Vec<(bool, u64)> = stream::iter(0..candidates.len())
            .map(|i| {
                let id = execution_of(&candidates_ref[i].0).unwrap_or_default();
                self.verify(id, summaries_ref.get(id))
            })
            .buffered(VERIFY_CONCURRENCY)
            .try_collect()
            .await?;
        cost += checks.iter().map(|(_, c)| c).sum::<u64>();
        let kept: Vec<(String, Item)> = candidates
            .into_iter()
            .zip(checks)
            .filter(|(_, (matched, _))| *matched)
            .map(|(c, _)| c)
            .collect();
        crate::metrics::note_search(summary_keys.len() as u64, kept.len() as u64);
        Ok((kept, cost))
    }
}

/// Event logs from index entries: read whole from the table when the index projects only part of
/// them (`hydrate`), then, for a search, kept only when they hold every keyword.
pub struct LogRefine<'a, B> {
    pub backend: &'a B,
    pub project: &'a str,
    pub hydrate: bool,
    pub keywords: Option<&'a Keywords>,
}

impl<B: Backend> LogRefine<'_, B> {
    async fn verify(&self, item: &Item, keywords: &Keywords) -> Result<(bool, u64), StoreError> {
        let Some(record) = log_items::log_from_item(item) else {
            return Ok((false, 0));
        };
        if !record.tokens.may_contain(keywords) {
            return Ok((false, 0));
        }
        let candidate = self.verify_candidate(&record, keywords).await?;
        crate::metrics::note_search(1, u64::from(candidate.0));
        Ok(candidate)
    }

    async fn verify_candidate(
        &self,
        record: &super::LogRecord,
        keywords: &Keywords,
    ) -> Result<(bool, u64), StoreError> {
        let mut m = Matcher::new(keywords);
        m.text(&record.entry.message);
        if let Some(e) = &record.entry.error {
            m.text(&e.message);
            if let Some(code) = &e.code {
                m.text(code);
            }
        }
        let mut cost = 0;
        for body in [&record.error_details, &record.payload] {
            cost += feed_body(self.backend, &mut m, self.project, None, body.as_ref()).await?;
        }
        Ok((m.done(), cost))
    }
}

impl<B: Backend> Refine for LogRefine<'_, B> {
    async fn refine(&self, entries: Vec<(String, Item)>) -> Result<(Vec<(String, Item)>, u64), StoreError> {
        let mut cost = 0;
        let entries = if self.hydrate {
            let wanted: Vec<(String, String)> = entries
                .iter()
                .map(|(_, it)| {
                    let get = |n: &str| items::string_attr(it, n).unwrap_or("").to_string();
                    (get(items::PK), get(items::SK))
                })
                .collect();
            cost += wanted.len() as u64;
            let mut whole: HashMap<String, Item> = self
                .backend
                .batch_get(&wanted, false)
                .await?
                .into_iter()
                .map(|it| (items::listing_key(&it).to_string(), it))
                .collect();
            entries
                .into_iter()
                .filter_map(|(k, _)| whole.remove(&k).map(|it| (k, it)))
                .collect()
        } else {
            entries
        };
        let Some(keywords) = self.keywords else {
            return Ok((entries, cost));
        };
        let entries_ref = &entries;
        let checks: Vec<(bool, u64)> = stream::iter(0..entries.len())
            .map(|i| self.verify(&entries_ref[i].1, keywords))
            .buffered(VERIFY_CONCURRENCY)
            .try_collect()
            .await?;
        cost += checks.iter().map(|(_, c)| c).sum::<u64>();
        let kept = entries
            .into_iter()
            .zip(checks)
            .filter(|(_, (matched, _))| *matched)
            .map(|(e, _)| e)
            .collect();
        Ok((kept, cost))
    }
}
