//! `GET /v1/projects/{p}/workflow-executions`: picks the index that serves the filters in one
//! Query per partition, fans out over values, month buckets and shards, merges by the listing sort
//! key, and resumes from a signed cursor. See docs/data-model.md.

use crate::config::Settings;
use crate::cursor::{self, Position};
use crate::error::ApiError;
use crate::keys::{self, ListIndex};
use crate::params::ListParams;
use crate::store::items::{self, EXECUTION_FIELDS};
use crate::store::{AttributeFilter, Item, ListingReads, PartitionQuery};
use chrono::{DateTime, Duration, Utc};
use futures::future::try_join_all;
use serde::Serialize;
use serde_json::{Map, Value};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListResponse {
    pub workflow_executions: Vec<Map<String, Value>>,
    pub next_cursor: Option<String>,
    pub next_link: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
}

/// Which index serves a request, with which values, and what is left to filter.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub index: ListIndex,
    /// One partition per value; `[None]` for the project index.
    pub values: Vec<Option<String>>,
    pub filters: Vec<AttributeFilter>,
}

fn dimension_values(p: &ListParams, index: ListIndex) -> Vec<String> {
    let one = |v: &Option<String>| v.iter().cloned().collect::<Vec<_>>();
    match index {
        ListIndex::Trace => one(&p.trace_id),
        ListIndex::User => one(&p.user_id),
        ListIndex::Workflow => one(&p.workflow_id),
        ListIndex::Integration => p.integration.clone(),
        ListIndex::Trigger => one(&p.trigger_type),
        ListIndex::Status => p.status.iter().map(|s| s.as_str().to_string()).collect(),
        ListIndex::Project => Vec::new(),
    }
}

/// The most selective dimension present drives the Query; the others become a filter.
pub fn plan(p: &ListParams) -> Plan {
    let mut chosen: Option<(ListIndex, Vec<String>)> = None;
    let mut filters = Vec::new();
    for index in ListIndex::DIMENSIONS {
        let values = dimension_values(p, index);
        if values.is_empty() {
            continue;
        }
        if chosen.is_none() {
            chosen = Some((index, values));
        } else {
            filters.push((index.field().expect("dimension"), values));
        }
    }
    match chosen {
        Some((index, values)) => Plan {
            index,
            values: values.into_iter().map(Some).collect(),
            filters,
        },
        None => Plan {
            index: ListIndex::Project,
            values: vec![None],
            filters,
        },
    }
}

/// The inclusive listing-key range and month buckets a request covers.
struct Range {
    from: String,
    to: String,
    months: Vec<String>,
}

fn range(p: &ListParams, settings: &Settings, now: DateTime<Utc>, resume_after: Option<&str>) -> Range {
    // Expired records are hidden even before DynamoDB deletes them.
    let oldest = now - Duration::days(settings.retention_days);
    let lo = p.after.map_or(oldest, |a| a.max(oldest));
    // Events may be dated up to a day ahead of the clock (see ingest).
    let hi_time = p.before.unwrap_or(now + Duration::days(2));
    let mut from = keys::listing_sk_from(lo);
    let mut to = keys::listing_sk_before(hi_time);
    if let Some(last) = resume_after {
        // Inclusive bounds: the cursor's own item comes back once per partition and is skipped.
        if p.ascending {
            from = from.max(last.to_string());
        } else {
            to = to.min(last.to_string());
        }
    }
    let month_of = |k: &str| crate::dates::parse(k.get(..24).unwrap_or(k));
    let (first, last) = (month_of(&from).unwrap_or(lo), month_of(&to).unwrap_or(hi_time));
    let mut months = keys::month_buckets(first, last);
    if !p.ascending {
        months.reverse();
    }
    Range { from, to, months }
}

fn partitions(project: &str, month: &str, plan: &Plan, settings: &Settings) -> Vec<String> {
    let mut out = Vec::new();
    for value in &plan.values {
        for shard in 0..settings.list_shards {
            out.push(keys::listing_pk(
                project,
                month,
                shard,
                settings.list_shards,
                value.as_deref(),
            ));
        }
    }
    out
}

fn partition_query(plan: &Plan, range: &Range, partition: String, ascending: bool) -> PartitionQuery {
    PartitionQuery {
        index: plan.index,
        partition,
        from: range.from.clone(),
        to: range.to.clone(),
        ascending,
        limit: 0,
        filters: plan.filters.clone(),
        start: None,
    }
}

fn lsk(item: &Item) -> &str {
    items::string_attr(item, keys::LSK).unwrap_or("")
}

/// Reads up to `need` live matches from one partition, in order, skipping the cursor's own item.
async fn read_partition<R: ListingReads>(
    reads: &R,
    mut q: PartitionQuery,
    need: usize,
    skip: Option<&str>,
    now_epoch: i64,
) -> Result<Vec<Item>, ApiError> {
    let mut out = Vec::new();
    loop {
        q.limit = (need - out.len() + 1).min(1000) as i32;
        let page = reads.query_partition(&q).await.map_err(super::read_failed("listing"))?;
        out.extend(
            page.items
                .into_iter()
                .filter(|it| Some(lsk(it)) != skip && !items::is_expired(it, now_epoch)),
        );
        match page.next {
            Some(next) if !next.is_empty() && out.len() < need => q.start = Some(next),
            _ => return Ok(out),
        }
    }
}

pub async fn list<R: ListingReads>(
    reads: &R,
    settings: &Settings,
    project: &str,
    params: &ListParams,
    base_url: &str,
    now: DateTime<Utc>,
) -> Result<ListResponse, ApiError> {
    let fingerprint = params.fingerprint();
    let resume = match &params.cursor {
        None => None,
        Some(token) => Some(
            cursor::decode(&settings.cursor_secret, token, project, &fingerprint)
                .map_err(|e| ApiError::invalid_cursor(e.to_string()))?,
        ),
    };
    let last_key = resume.as_ref().map(|p| p.last_key.as_str());
    let plan = plan(params);
    let range = range(params, settings, now, last_key);
    let limit = params.limit as usize;
    // One more than the page, to know whether another page exists.
    let target = limit + 1;
    let now_epoch = now.timestamp();

    let mut found: Vec<Item> = Vec::new();
    if range.from <= range.to {
        for month in &range.months {
            let need = target - found.len();
            let queries = partitions(project, month, &plan, settings)
                .into_iter()
                .map(|partition| {
                    let q = partition_query(&plan, &range, partition, params.ascending);
                    read_partition(reads, q, need, last_key, now_epoch)
                });
            let mut month_items: Vec<Item> = try_join_all(queries).await?.into_iter().flatten().collect();
            month_items.sort_by(|a, b| {
                if params.ascending {
                    lsk(a).cmp(lsk(b))
                } else {
                    lsk(b).cmp(lsk(a))
                }
            });
            month_items.truncate(need);
            found.extend(month_items);
            if found.len() >= target {
                break;
            }
        }
    }

    let (next_cursor, next_link) = if found.len() > limit {
        found.truncate(limit);
        let position = Position {
            project: project.to_string(),
            filters: fingerprint,
            last_key: lsk(found.last().expect("non-empty page")).to_string(),
        };
        let token = cursor::encode(&settings.cursor_secret, &position);
        let base = settings.public_base_url.as_deref().unwrap_or(base_url);
        let link = format!(
            "{base}/v1/projects/{}/workflow-executions?{}",
            url::form_urlencoded::byte_serialize(project.as_bytes()).collect::<String>(),
            params.query_with_cursor(&token)
        );
        (Some(token), Some(link))
    } else {
        (None, None)
    };

    let total = if params.count {
        Some(count(reads, settings, project, params, &plan, now).await?)
    } else {
        None
    };
    Ok(ListResponse {
        workflow_executions: found
            .iter()
            .map(|it| items::summary_json(it, &["id", "projectId"], &EXECUTION_FIELDS))
            .collect(),
        next_cursor,
        next_link,
        total,
    })
}

/// Number of all matches, cursor ignored: one `Select COUNT` Query per partition.
async fn count<R: ListingReads>(
    reads: &R,
    settings: &Settings,
    project: &str,
    params: &ListParams,
    plan: &Plan,
    now: DateTime<Utc>,
) -> Result<u64, ApiError> {
    let range = range(params, settings, now, None);
    if range.from > range.to {
        return Ok(0);
    }
    let queries = range
        .months
        .iter()
        .flat_map(|month| partitions(project, month, plan, settings))
        .map(|partition| {
            let q = partition_query(plan, &range, partition, true);
            async move { reads.count_partition(&q).await }
        });
    let counts = try_join_all(queries).await.map_err(super::read_failed("count"))?;
    Ok(counts.into_iter().sum())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Status;

    #[test]
    fn one_dimension_uses_its_own_index_without_a_filter() {
        let p = ListParams {
            integration: vec!["a".into(), "b".into()],
            ..Default::default()
        };
        let plan = plan(&p);
        assert_eq!(plan.index, ListIndex::Integration);
        assert_eq!(plan.values, [Some("a".to_string()), Some("b".to_string())]);
        assert!(plan.filters.is_empty());
    }

    #[test]
    fn user_drives_failed_executions_of_one_user() {
        let p = ListParams {
            user_id: Some("u".into()),
            status: vec![Status::Failed],
            ..Default::default()
        };
        let plan = plan(&p);
        assert_eq!(plan.index, ListIndex::User);
        assert_eq!(plan.filters, [("status", vec!["FAILED".to_string()])]);
    }

    #[test]
    fn no_filter_uses_the_project_index() {
        let plan = plan(&ListParams::default());
        assert_eq!(plan.index, ListIndex::Project);
        assert_eq!(plan.values, [None]);
    }

    #[test]
    fn the_range_is_clamped_to_retention_and_walks_months_newest_first() {
        let now = crate::dates::parse("2026-11-25T00:00:00Z").unwrap();
        let p = ListParams {
            after: crate::dates::parse("2020-01-01"),
            ..Default::default()
        };
        let r = range(&p, &Settings::defaults(), now, None);
        assert_eq!(r.from, "2026-08-27T00:00:00.000Z");
        assert_eq!(r.months, ["2026-11", "2026-10", "2026-09", "2026-08"]);
        let resumed = range(&p, &Settings::defaults(), now, Some("2026-10-03T00:00:00.000Z#e"));
        assert_eq!(resumed.to, "2026-10-03T00:00:00.000Z#e");
        assert_eq!(resumed.months, ["2026-10", "2026-09", "2026-08"]);
    }
}
