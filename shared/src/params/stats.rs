//! `GET .../stats`: counts by status and duration percentiles per interval.

use super::executions::{statuses, DIMENSIONS};
use super::{date_range, dimension, known};
use crate::error::ApiError;
use crate::model::counts::{Dimension, Interval};
use crate::model::Status;
use chrono::{DateTime, Utc};

const KNOWN: [&str; 9] = [
    "integration",
    "userId",
    "workflowId",
    "triggerType",
    "status",
    "afterDate",
    "beforeDate",
    "interval",
    "groupBy",
];

/// The widest range one stats request covers, in buckets of each interval.
pub const STATS_MAX_HOURS: i64 = 7 * 24;
pub const STATS_MAX_DAYS: i64 = 366;

/// A validated stats request. Counters are kept per dimension, each with counts by status, so a
/// request may group by one dimension and filter on that same one and on status.
#[derive(Clone, Debug, PartialEq)]
pub struct StatsParams {
    pub interval: Interval,
    /// `None`: by status.
    pub group_by: Option<Dimension>,
    /// The one dimension filtered on besides status, with its values.
    pub filter: Option<(Dimension, Vec<String>)>,
    pub statuses: Vec<Status>,
    pub after: Option<DateTime<Utc>>,
    pub before: Option<DateTime<Utc>>,
}

impl StatsParams {
    pub fn parse(pairs: &[(String, String)]) -> Result<Self, ApiError> {
        let get = known(pairs, &KNOWN)?;
        let mut filters = Vec::new();
        for field in DIMENSIONS {
            let Some(d) = Dimension::of_field(field) else { continue };
            if let Some(values) = dimension(&get, field.wire_name(), Some(true))? {
                filters.push((d, values));
            }
        }
        let interval = match get("interval") {
            None => Interval::Day,
            Some(v) if v.eq_ignore_ascii_case("day") => Interval::Day,
            Some(v) if v.eq_ignore_ascii_case("hour") => Interval::Hour,
            Some(_) => return Err(ApiError::parameter("interval", "interval must be hour or day")),
        };
        let group_by = match get("groupBy") {
            None | Some("status") => None,
            Some(v) => Some(
                [
                    Dimension::Integration,
                    Dimension::WorkflowId,
                    Dimension::TriggerType,
                    Dimension::UserId,
                ]
                .into_iter()
                .find(|d| d.name() == v)
                .ok_or_else(|| {
                    ApiError::parameter(
                        "groupBy",
                        "groupBy must be status, integration, workflowId, triggerType or userId",
                    )
                })?,
            ),
        };
        let mut used: Vec<Dimension> = filters.iter().map(|(d, _)| *d).chain(group_by).collect();
        used.sort();
        used.dedup();
        if used.len() > 1 {
            return Err(ApiError::parameter(
                if filters.len() > 1 {
                    filters[1].0.name()
                } else {
                    "groupBy"
                },
                "stats take one dimension besides status: groupBy and the filters may name only one of \
                 integration, workflowId, triggerType and userId",
            ));
        }
        let (after, before) = date_range(&get)?;
        Ok(StatsParams {
            interval,
            group_by,
            filter: filters.into_iter().next(),
            statuses: statuses(&get)?,
            after,
            before,
        })
    }

    /// The interval starts the request covers: whole intervals from the one holding `afterDate` to
    /// the one holding the instant before `beforeDate`. Defaults: the last 30 days (day) or 24 hours
    /// (hour) up to now.
    ///
    /// Counters exist only within the retention window (and the clock skew ingest accepts), so the
    /// range is cut to it; a range wholly outside has no buckets.
    pub fn starts(&self, now: DateTime<Utc>, retention_days: i64) -> Result<Vec<DateTime<Utc>>, ApiError> {
        let oldest = now - chrono::Duration::days(retention_days);
        let newest = now + chrono::Duration::hours(crate::model::limits::MAX_CLOCK_SKEW_HOURS);
        let before = self.before.unwrap_or(now).clamp(oldest, newest);
        let default_span = match self.interval {
            Interval::Day => chrono::Duration::days(30),
            Interval::Hour => chrono::Duration::hours(24),
        };
        let after = self.after.unwrap_or(before - default_span).clamp(oldest, newest);
        if after >= before {
            return Ok(Vec::new());
        }
        let (from, to) = (self.interval.floor(after), self.interval.ceil(before));
        let (max, unit) = match self.interval {
            Interval::Day => (STATS_MAX_DAYS, "days"),
            Interval::Hour => (STATS_MAX_HOURS, "hours"),
        };
        // One more bucket than the span when the bounds fall inside intervals.
        if (to - from) > self.interval.length() * (max as i32 + 1) {
            return Err(ApiError::parameter(
                "afterDate",
                format!(
                    "a stats range covers at most {max} {unit} at interval={}",
                    self.interval.name()
                ),
            ));
        }
        Ok(self.interval.starts(from, to))
    }
}
