//! Keyword search inside listings, as `Refine` steps: fingerprints first (one small read per
//! execution, nothing extra for an event log, which carries its own), then the bodies of the
//! candidates only, so a search is exact and reads bodies only where a match is likely.

use super::backend::{Backend, CollectionQuery};
use super::body;
use super::event_log;
use super::execution;
use super::index;
use super::listing::{Batch, Refine, Refined};
use super::record_error;
use super::step;
use super::table;
use super::table::Item;
use super::tokens;
use super::StoreError;
use crate::bodies::StoredBody;
use crate::search::{Keywords, Matcher};
use futures::stream::{self, StreamExt, TryStreamExt};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// Bytes a refine may still read, shared by the candidates checked at once.
struct Allowance {
    left: AtomicU64,
    /// Whether the first candidate must be decided however much it reads.
    progress: bool,
}

impl Allowance {
    fn new(bytes: u64, progress: bool) -> Self {
        Allowance {
            left: AtomicU64::new(bytes),
            progress,
        }
    }

    /// Whether candidate `i` must stop before its next read: the allowance is spent (the first
    /// candidate goes on when it must make progress).
    fn spent(&self, i: usize) -> bool {
        self.left.load(Ordering::Relaxed) == 0 && !(self.progress && i == 0)
    }

    /// Counts `n` bytes read.
    fn take(&self, n: u64) {
        let _ = self
            .left
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |l| Some(l.saturating_sub(n)));
    }

    fn spent_from(&self, start: u64) -> u64 {
        start.saturating_sub(self.left.load(Ordering::Relaxed))
    }
}

/// Candidates whose bodies are read at once.
const VERIFY_CONCURRENCY: usize = 8;

/// Feeds a body to the matcher: inline bytes as stored, offloaded ones from S3 (one read each).
/// Answers the items read and the bytes fed.
async fn feed_body<B: Backend>(
    backend: &B,
    m: &mut Matcher<'_>,
    project: &str,
    owner: Option<&str>,
    body: Option<&StoredBody>,
) -> Result<(u64, u64), StoreError> {
    let Some(body) = body else { return Ok((0, 0)) };
    if m.done() {
        return Ok((0, 0));
    }
    match body.inline_bytes() {
        Some(Ok(bytes)) => {
            m.json(&bytes);
            Ok((0, bytes.len() as u64))
        }
        Some(Err(_)) => Ok((0, 0)),
        None => {
            let key = body::body_object_key(project, owner, &body.sha256);
            let mut read = 0;
            // A body gone before its record (denied: the role may not list the bucket) holds
            // nothing to match.
            if let super::backend::ObjectRead::Found(bytes) = backend.read_object(&key).await? {
                read = bytes.len() as u64;
                m.json(&bytes);
            }
            Ok((1, read))
        }
    }
}

/// Feeds an execution or step item: its error's code and message, then its bodies. Stops between
/// bodies when the allowance is spent (`None`: undecided).
async fn feed_record<B: Backend>(
    backend: &B,
    m: &mut Matcher<'_>,
    project: &str,
    execution: &str,
    item: &Item,
    allowance: (&Allowance, usize),
) -> Result<Option<u64>, StoreError> {
    for text in record_error::error_texts(item) {
        m.text(text);
    }
    let bodies = execution::bodies_of(item);
    feed_bodies(
        backend,
        m,
        project,
        Some(execution),
        [&bodies.input, &bodies.output, &bodies.error_details],
        allowance,
    )
    .await
}

/// Feeds bodies in order until the matcher is done, stopping before a read once the allowance is
/// spent (`None`: undecided). Answers the items read.
async fn feed_bodies<B: Backend>(
    backend: &B,
    m: &mut Matcher<'_>,
    project: &str,
    owner: Option<&str>,
    bodies: impl IntoIterator<Item = &Option<StoredBody>>,
    allowance: (&Allowance, usize),
) -> Result<Option<u64>, StoreError> {
    let mut cost = 0;
    for body in bodies {
        if m.done() {
            break;
        }
        if body.is_some() && allowance.0.spent(allowance.1) {
            return Ok(None);
        }
        let (items, bytes) = feed_body(backend, m, project, owner, body.as_ref()).await?;
        cost += items;
        allowance.0.take(bytes);
    }
    Ok(Some(cost))
}

/// Executions whose bodies, errors and steps hold every keyword.
pub struct ExecutionSearch<'a, B> {
    pub backend: &'a B,
    pub project: &'a str,
    pub keywords: &'a Keywords,
}

fn execution_of(lsk: &str) -> Option<&str> {
    index::parse_listing_sk(lsk).map(|(_, id)| id)
}

impl<B: Backend> ExecutionSearch<'_, B> {
    /// Whether an execution matches, and the items it took to tell; `None` when the allowance
    /// ran out first.
    async fn verify(
        &self,
        execution: &str,
        summary: Option<&Item>,
        allowance: (&Allowance, usize),
    ) -> Result<Option<(bool, u64)>, StoreError> {
        let mut m = Matcher::new(self.keywords);
        let mut cost = 0;
        if let Some(item) = summary {
            match feed_record(self.backend, &mut m, self.project, execution, item, allowance).await? {
                Some(c) => cost += c,
                None => return Ok(None),
            }
        }
        if m.done() {
            return Ok(Some((true, cost)));
        }
        let mut from = step::STEP_PREFIX.to_string();
        loop {
            if allowance.0.spent(allowance.1) {
                return Ok(None);
            }
            let (steps, more) = self
                .backend
                .query_collection(&CollectionQuery {
                    pk: execution::execution_pk(self.project, execution),
                    from: from.clone(),
                    to: step::STEPS_END.into(),
                    limit: crate::model::limits::STEPS_ORDERED_MAX as u32,
                    consistent: false,
                })
                .await?;
            cost += steps.len().max(1) as u64;
            allowance
                .0
                .take(steps.iter().map(|s| table::response_size(s) as u64).sum());
            for step in &steps {
                if m.done() {
                    return Ok(Some((true, cost)));
                }
                match feed_record(self.backend, &mut m, self.project, execution, step, allowance).await? {
                    Some(c) => cost += c,
                    None => return Ok(None),
                }
            }
            // A page ends at 1 MB or 1,000 steps: go on after its last step.
            match steps.last() {
                Some(last) if more && !m.done() => from = format!("{}\u{0}", table::sort_key(last)),
                _ => return Ok(Some((m.done(), cost))),
            }
        }
    }
}

impl<B: Backend> Refine for ExecutionSearch<'_, B> {
    async fn refine(&self, batch: Batch) -> Result<Refined, StoreError> {
        let Batch {
            entries,
            bytes_left,
            progress,
        } = batch;
        let n = entries.len();
        let wanted: Vec<(String, String)> = entries
            .iter()
            .filter_map(|(k, _)| execution_of(k))
            .map(|id| tokens::tokens_key(self.project, id))
            .collect();
        let mut cost = wanted.len() as u64;
        let fingerprints: HashMap<String, crate::search::Fingerprints> = self
            .backend
            .batch_get(&wanted, false)
            .await?
            .iter()
            .filter_map(tokens::tokens_from_item)
            .map(|((_, execution), f, _, _)| (execution, f))
            .collect();
        // No fingerprints: the execution has no bodies and no error, so nothing to match.
        let (positions, candidates): (Vec<usize>, Vec<(String, Item)>) = entries
            .into_iter()
            .enumerate()
            .filter(|(_, (k, _))| {
                execution_of(k)
                    .and_then(|id| fingerprints.get(id))
                    .is_some_and(|f| f.may_contain(self.keywords))
            })
            .unzip();
        if candidates.is_empty() {
            return Ok(Refined {
                kept: candidates,
                cost,
                bytes: 0,
                decided: n,
            });
        }
        let summary_keys: Vec<(String, String)> = candidates
            .iter()
            .filter_map(|(k, _)| execution_of(k))
            .map(|id| {
                (
                    execution::execution_pk(self.project, id),
                    execution::SUMMARY_SK.to_string(),
                )
            })
            .collect();
        cost += summary_keys.len() as u64;
        let summaries: HashMap<String, Item> = self
            .backend
            .batch_get(&summary_keys, false)
            .await?
            .into_iter()
            .filter_map(|it| Some((execution::unit_key_of(&it)?.execution, it)))
            .collect();
        // Indexes, not references, into the stream: a closure over borrowed items would not be
        // general enough for the Send bound the capabilities promise.
        let allowance = Allowance::new(bytes_left, progress);
        let (candidates_ref, summaries_ref, allowance_ref) = (&candidates, &summaries, &allowance);
        let checks: Vec<Option<(bool, u64)>> = stream::iter(0..candidates.len())
            .map(|i| {
                let id = execution_of(&candidates_ref[i].0).unwrap_or_default();
                // Only the first candidate may pass a spent allowance, and only for progress.
                self.verify(id, summaries_ref.get(id), (allowance_ref, i))
            })
            .buffered(VERIFY_CONCURRENCY)
            .try_collect()
            .await?;
        // Decided up to the first candidate left undecided.
        let undecided = checks.iter().position(Option::is_none);
        let decided = undecided.map_or(n, |c| positions[c]);
        cost += checks.iter().flatten().map(|(_, c)| c).sum::<u64>();
        let kept: Vec<(String, Item)> = candidates
            .into_iter()
            .zip(checks)
            .take(undecided.unwrap_or(usize::MAX))
            .filter(|(_, check)| check.is_some_and(|(matched, _)| matched))
            .map(|(c, _)| c)
            .collect();
        crate::metrics::note_search(summary_keys.len() as u64, kept.len() as u64);
        Ok(Refined {
            kept,
            cost,
            bytes: allowance.spent_from(bytes_left),
            decided,
        })
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
    async fn verify(
        &self,
        item: &Item,
        keywords: &Keywords,
        allowance: (&Allowance, usize),
    ) -> Result<Option<(bool, u64)>, StoreError> {
        let Some(record) = event_log::log_from_item(item) else {
            return Ok(Some((false, 0)));
        };
        if !record.tokens.may_contain(keywords) {
            return Ok(Some((false, 0)));
        }
        let candidate = self.verify_candidate(&record, keywords, allowance).await?;
        if let Some((matched, _)) = candidate {
            crate::metrics::note_search(1, u64::from(matched));
        }
        Ok(candidate)
    }

    async fn verify_candidate(
        &self,
        record: &super::LogRecord,
        keywords: &Keywords,
        allowance: (&Allowance, usize),
    ) -> Result<Option<(bool, u64)>, StoreError> {
        let mut m = Matcher::new(keywords);
        m.text(&record.entry.message);
        if let Some(e) = &record.entry.error {
            m.text(&e.message);
            if let Some(code) = &e.code {
                m.text(code);
            }
        }
        let bodies = [&record.error_details, &record.payload];
        let cost = feed_bodies(self.backend, &mut m, self.project, None, bodies, allowance).await?;
        Ok(cost.map(|cost| (m.done(), cost)))
    }
}

impl<B: Backend> Refine for LogRefine<'_, B> {
    async fn refine(&self, batch: Batch) -> Result<Refined, StoreError> {
        let (bytes_left, progress) = (batch.bytes_left, batch.progress);
        let mut cost = 0;
        let entries = if self.hydrate {
            let wanted: Vec<(String, String)> = batch
                .entries
                .iter()
                .map(|(_, it)| {
                    let get = |n: &str| table::string_attr(it, n).unwrap_or("").to_string();
                    (get(table::PK), get(table::SK))
                })
                .collect();
            cost += wanted.len() as u64;
            let mut whole: HashMap<String, Item> = self
                .backend
                .batch_get(&wanted, false)
                .await?
                .into_iter()
                .map(|it| (table::listing_key(&it).to_string(), it))
                .collect();
            batch
                .entries
                .into_iter()
                .filter_map(|(k, _)| whole.remove(&k).map(|it| (k, it)))
                .collect()
        } else {
            batch.entries
        };
        let Some(keywords) = self.keywords else {
            let decided = entries.len();
            return Ok(Refined {
                kept: entries,
                cost,
                bytes: 0,
                decided,
            });
        };
        let allowance = Allowance::new(bytes_left, progress);
        let (entries_ref, allowance_ref) = (&entries, &allowance);
        let checks: Vec<Option<(bool, u64)>> = stream::iter(0..entries.len())
            .map(|i| self.verify(&entries_ref[i].1, keywords, (allowance_ref, i)))
            .buffered(VERIFY_CONCURRENCY)
            .try_collect()
            .await?;
        let decided = checks.iter().position(Option::is_none).unwrap_or(entries.len());
        cost += checks.iter().flatten().map(|(_, c)| c).sum::<u64>();
        let kept = entries
            .into_iter()
            .zip(checks)
            .take(decided)
            .filter(|(_, check)| check.is_some_and(|(matched, _)| matched))
            .map(|(e, _)| e)
            .collect();
        Ok(Refined {
            kept,
            cost,
            bytes: allowance.spent_from(bytes_left),
            decided,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Settings;
    use crate::ingest::ingest;
    use crate::query::{ListQuery, ReadBudget};
    use crate::search::Keywords;
    use crate::store::{ListExecutions, MemoryStore, StoreConfig};
    use serde_json::json;

    #[tokio::test]
    async fn a_search_page_stops_at_the_byte_budget_and_paging_finds_every_match() {
        let settings = Settings::defaults();
        let store = MemoryStore::memory(StoreConfig::from_settings(&settings));
        let now = chrono::Utc::now();
        // 30 executions with a 1 MB input each (offloaded to S3), the keyword at its very end.
        let filler = "x ".repeat(512 * 1024);
        for n in 0..30 {
            let started = crate::dates::format(now - chrono::Duration::minutes(10 + n));
            let e = json!({"kind": "execution", "projectId": "big", "id": format!("e{n}"), "workflowId": "w",
                "status": "SUCCEEDED", "dateStarted": started, "input": {"text": format!("{filler} needle")}});
            let raw = serde_json::value::RawValue::from_string(e.to_string()).unwrap();
            ingest(&store, &settings, &[raw], now).await;
        }
        let query = ListQuery {
            window: crate::query::Window {
                project: "big".into(),
                limit: 100,
                now,
                search: Some(Keywords::parse("needle").unwrap()),
                ..Default::default()
            },
            ..Default::default()
        };
        let budget = ReadBudget { items: 100_000 };
        let (mut seen, mut resume, mut pages) = (Vec::new(), None, 0);
        loop {
            let page = store.list_executions(&query, resume.as_ref(), budget).await.unwrap();
            pages += 1;
            let bound = (super::super::listing::READ_BUDGET_BYTES / (1024 * 1024)) as usize + super::VERIFY_CONCURRENCY;
            assert!(
                page.items.len() <= bound,
                "a page checks about 16 MB of bodies, not {}",
                page.items.len()
            );
            if page.next.is_some() {
                assert!(page.partial, "a page cut by the byte budget says so");
            }
            seen.extend(page.items.into_iter().map(|e| e.id));
            resume = page.next;
            if resume.is_none() || pages > 40 {
                break;
            }
        }
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 30, "every match once, in {pages} pages");
        assert!(pages >= 2);
    }
}
