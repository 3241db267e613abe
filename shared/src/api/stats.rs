//! `GET /v1/projects/{p}/stats`: executions per hour or day, grouped by status or by one listing
//! dimension, with counts by status and duration percentiles, read from the counters the `stats`
//! function keeps: a 90-day range costs a few reads whatever number of executions it covers.

use crate::error::ApiError;
use crate::model::counts::histogram::{Histogram, RELATIVE_ERROR};
use crate::model::counts::{CounterSelection, Dimension, Family, Tally, FINISHED};
use crate::model::Status;
use crate::params::StatsParams;
use crate::store::ReadStats;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatsResponse {
    pub interval: &'static str,
    pub group_by: &'static str,
    /// The whole intervals covered: `[afterDate, beforeDate)`.
    pub after_date: String,
    pub before_date: String,
    pub buckets: Vec<Bucket>,
}

#[derive(Debug, Serialize)]
pub struct Bucket {
    pub start: String,
    pub groups: Vec<Group>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    /// The status or dimension value; `null` for executions without a value.
    pub key: Option<String>,
    pub count: u64,
    pub by_status: BTreeMap<&'static str, u64>,
    /// Percentiles of finished executions' `runDuration` (ms); `null` when none finished.
    pub duration: Option<Durations>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Durations {
    pub count: u64,
    pub p50: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
    pub relative_error: f64,
}

fn durations(h: &Histogram) -> Option<Durations> {
    let round = |q: f64| h.quantile(q).map(|v| (v * 10.0).round() / 10.0);
    Some(Durations {
        count: h.count(),
        p50: round(0.5)?,
        p90: round(0.9)?,
        p95: round(0.95)?,
        p99: round(0.99)?,
        relative_error: RELATIVE_ERROR,
    })
}

fn statuses_of(p: &StatsParams) -> Vec<Status> {
    if p.statuses.is_empty() {
        Status::ALL.to_vec()
    } else {
        p.statuses.clone()
    }
}

fn by_status(t: &Tally, statuses: &[Status]) -> BTreeMap<&'static str, u64> {
    statuses.iter().map(|s| (s.as_str(), t.count(*s))).collect()
}

pub async fn stats<S: ReadStats>(
    store: &S,
    project: &str,
    params: &StatsParams,
    now: DateTime<Utc>,
    retention_days: i64,
) -> Result<StatsResponse, ApiError> {
    let starts = params.starts(now, retention_days)?;
    if starts.is_empty() {
        let bound = crate::dates::format(params.interval.floor(now));
        return Ok(StatsResponse {
            interval: params.interval.name(),
            group_by: params.group_by.map_or("status", |d| d.name()),
            after_date: bound.clone(),
            before_date: bound,
            buckets: Vec::new(),
        });
    }
    let statuses = statuses_of(params);
    // Grouped by a dimension: its counters (the filter, if any, names the same one). By status:
    // the filtered dimension's counters, summed over its values, or those of every execution.
    let (dimension, values) = match (params.group_by, &params.filter) {
        (group, Some((d, values))) => (group.unwrap_or(*d), Some(values.clone())),
        (Some(d), None) => (d, None),
        (None, None) => (Dimension::All, Some(vec![String::new()])),
    };
    let selection = CounterSelection {
        project: project.into(),
        family: Family::Executions,
        dimension,
        values,
    };
    let rows = store
        .counters(&selection, params.interval, &starts, false)
        .await
        .map_err(|e| match e {
            crate::store::StoreError::TooLarge(m) => ApiError::parameter("afterDate", m),
            e => super::read_failed("stats")(e),
        })?;
    let mut by_start: BTreeMap<DateTime<Utc>, BTreeMap<String, Tally>> = BTreeMap::new();
    for r in rows {
        let key = if params.group_by.is_some() {
            r.value
        } else {
            String::new()
        };
        by_start
            .entry(r.start)
            .or_default()
            .entry(key)
            .or_default()
            .add(&r.tally, 1);
    }
    let buckets = starts
        .iter()
        .map(|start| {
            let tallies = by_start.remove(start).unwrap_or_default();
            let mut groups: Vec<Group> = match params.group_by {
                None => {
                    let t = tallies.get("").cloned().unwrap_or_default();
                    statuses
                        .iter()
                        .map(|s| Group {
                            key: Some(s.as_str().to_string()),
                            count: t.count(*s),
                            by_status: by_status(&t, &[*s]),
                            duration: FINISHED.contains(s).then(|| durations(&t.histogram(&[*s]))).flatten(),
                        })
                        .filter(|g| g.count > 0)
                        .collect()
                }
                Some(_) => tallies
                    .iter()
                    .map(|(value, t)| Group {
                        key: (!value.is_empty()).then(|| value.clone()),
                        count: t.total(Family::Executions, &statuses),
                        by_status: by_status(t, &statuses),
                        duration: durations(&t.histogram(&statuses)),
                    })
                    .filter(|g| g.count > 0)
                    .collect(),
            };
            groups.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
            Bucket {
                start: crate::dates::format(*start),
                groups,
            }
        })
        .collect();
    let end = starts.last().map(|s| *s + params.interval.length());
    Ok(StatsResponse {
        interval: params.interval.name(),
        group_by: params.group_by.map_or("status", |d| d.name()),
        after_date: starts.first().map(|s| crate::dates::format(*s)).unwrap_or_default(),
        before_date: end.map(crate::dates::format).unwrap_or_default(),
        buckets,
    })
}
