//! Query-parameter parsing for list requests. Unknown, repeated or malformed parameters are refused
//! with the parameter's name.

use crate::dates;
use crate::error::ApiError;
use crate::model::counts::{Dimension, Interval};
use crate::model::limits::{DEFAULT_LIMIT, MAX_INTEGRATIONS, MAX_LIMIT};
use crate::model::{Field, Level, LogField, Status};
use crate::query::{ListQuery, LogQuery};
use crate::search::Keywords;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

const KNOWN: [&str; 13] = [
    "integration",
    "userId",
    "workflowId",
    "triggerType",
    "traceId",
    "status",
    "afterDate",
    "beforeDate",
    "sortBy",
    "limit",
    "cursor",
    "count",
    "q",
];

/// A validated list request: the query it asks for, and how to page and count it.
#[derive(Clone, Debug, PartialEq)]
pub struct ListParams {
    /// Filters, range, order and page size; `query` fills in the project and the clock.
    pub filter: ListQuery,
    pub cursor: Option<String>,
    pub count: bool,
}

/// The dimension filters, in the order links and fingerprints list them.
const DIMENSIONS: [Field; 5] = [
    Field::Integration,
    Field::UserId,
    Field::WorkflowId,
    Field::TriggerType,
    Field::TraceId,
];

/// Refuses unknown and repeated parameters; returns a lookup of the given ones.
fn known<'a>(pairs: &'a [(String, String)], known: &[&str]) -> Result<impl Fn(&str) -> Option<&'a str>, ApiError> {
    let mut seen: Vec<&str> = Vec::new();
    for (name, _) in pairs {
        if !known.contains(&name.as_str()) {
            let message = if known.is_empty() {
                format!("unknown parameter {name:?}; this route takes none")
            } else {
                format!("unknown parameter {name:?}; known parameters: {}", known.join(", "))
            };
            return Err(ApiError::parameter(name, message));
        }
        if seen.contains(&name.as_str()) {
            return Err(ApiError::parameter(
                name,
                format!("{name} is given more than once; use a comma-separated list"),
            ));
        }
        seen.push(name);
    }
    Ok(move |name: &str| pairs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str()))
}

/// Routes that take no parameters refuse any.
pub fn none(pairs: &[(String, String)]) -> Result<(), ApiError> {
    known(pairs, &[]).map(|_| ())
}

fn limit(v: Option<&str>) -> Result<u32, ApiError> {
    match v {
        None => Ok(DEFAULT_LIMIT),
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| ApiError::parameter("limit", format!("limit must be an integer from 1 to {MAX_LIMIT}"))),
    }
}

fn cursor(v: Option<&str>) -> Result<Option<String>, ApiError> {
    match v {
        Some("") => Err(ApiError::invalid_cursor("the cursor is empty")),
        other => Ok(other.map(str::to_string)),
    }
}

/// `limit` and `cursor` of a page of steps.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PageParams {
    pub limit: u32,
    pub cursor: Option<String>,
}

impl PageParams {
    pub fn parse(pairs: &[(String, String)]) -> Result<Self, ApiError> {
        let get = known(pairs, &["limit", "cursor"])?;
        Ok(PageParams {
            limit: limit(get("limit"))?,
            cursor: cursor(get("cursor"))?,
        })
    }
}

impl ListParams {
    pub fn parse(pairs: &[(String, String)]) -> Result<Self, ApiError> {
        let get = known(pairs, &KNOWN)?;
        let mut q = ListQuery::default();
        for field in DIMENSIONS {
            if let Some(values) = dimension(&get, field.wire_name(), field.dimension())? {
                q.dimensions.push((field, values));
            }
        }
        q.statuses = choices(
            &get,
            "status",
            Status::parse,
            "QUEUED, RUNNING, SUCCEEDED, FAILED or CANCELLED",
        )?;
        let common = Common::parse(&get)?;
        q.after = common.after;
        q.before = common.before;
        q.ascending = common.ascending;
        q.limit = common.limit;
        q.search = common.search;
        Ok(ListParams {
            filter: q,
            cursor: common.cursor,
            count: common.count,
        })
    }

    /// The typed query these parameters ask for.
    pub fn query(&self, project: &str, now: DateTime<Utc>) -> ListQuery {
        ListQuery {
            project: project.to_string(),
            now,
            ..self.filter.clone()
        }
    }

    fn values(&self, field: Field) -> Option<&[String]> {
        self.filter
            .dimensions
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, v)| v.as_slice())
    }

    fn statuses(&self) -> Vec<&'static str> {
        self.filter.statuses.iter().map(|s| s.as_str()).collect()
    }

    /// Fingerprint of everything that decides which items match and in what order; a cursor is valid
    /// only for the same fingerprint. `limit` and `count` may change between pages.
    pub fn fingerprint(&self) -> String {
        let dimensions: Vec<Vec<&str>> = DIMENSIONS
            .iter()
            .map(|f| {
                let mut v: Vec<&str> = self.values(*f).unwrap_or_default().iter().map(String::as_str).collect();
                v.sort();
                v
            })
            .collect();
        let f = &self.filter;
        let canonical = serde_json::json!([
            dimensions,
            self.statuses(),
            f.after.map(dates::format),
            f.before.map(dates::format),
            f.ascending,
            f.search.as_ref().map(|k| &k.tokens),
        ]);
        hex::encode(&Sha256::digest(canonical.to_string().as_bytes())[..12])
    }

    /// The request's query string for `nextLink`, in a stable order, with `cursor` replaced.
    pub fn query_with_cursor(&self, cursor: &str) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for field in DIMENSIONS {
            if let Some(values) = self.values(field) {
                q.append_pair(field.wire_name(), &values.join(","));
            }
        }
        if !self.filter.statuses.is_empty() {
            q.append_pair("status", &self.statuses().join(","));
        }
        let f = &self.filter;
        append_common(
            &mut q,
            (f.after, f.before, f.ascending, f.limit),
            f.search.as_ref(),
            self.count,
        );
        q.append_pair("cursor", cursor);
        q.finish()
    }
}

/// What every listing takes besides its filters.
struct Common {
    after: Option<DateTime<Utc>>,
    before: Option<DateTime<Utc>>,
    ascending: bool,
    limit: usize,
    count: bool,
    cursor: Option<String>,
    search: Option<Keywords>,
}

impl Common {
    fn parse<'a>(get: &impl Fn(&str) -> Option<&'a str>) -> Result<Common, ApiError> {
        let (after, before) = date_range(&get)?;
        let ascending = match get("sortBy") {
            None => false,
            Some(v) if v.eq_ignore_ascii_case("DESC") => false,
            Some(v) if v.eq_ignore_ascii_case("ASC") => true,
            Some(_) => return Err(ApiError::parameter("sortBy", "sortBy must be ASC or DESC")),
        };
        Ok(Common {
            after,
            before,
            ascending,
            limit: limit(get("limit"))? as usize,
            count: flag(get("count"), "count", false)?,
            cursor: cursor(get("cursor"))?,
            search: get("q")
                .map(|v| Keywords::parse(v).map_err(|p| ApiError::parameter("q", p)))
                .transpose()?,
        })
    }
}

/// `afterDate` and `beforeDate`, each optional; when both are given the first must be earlier.
#[allow(clippy::type_complexity)]
fn date_range<'a>(
    get: &impl Fn(&str) -> Option<&'a str>,
) -> Result<(Option<DateTime<Utc>>, Option<DateTime<Utc>>), ApiError> {
    let after = get("afterDate").map(|v| date(v, "afterDate")).transpose()?;
    let before = get("beforeDate").map(|v| date(v, "beforeDate")).transpose()?;
    if let (Some(a), Some(b)) = (after, before) {
        if a >= b {
            return Err(ApiError::parameter(
                "beforeDate",
                "beforeDate must be later than afterDate",
            ));
        }
    }
    Ok((after, before))
}

fn flag(v: Option<&str>, name: &str, default: bool) -> Result<bool, ApiError> {
    match v {
        None => Ok(default),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
        Some(_) => Err(ApiError::parameter(name, format!("{name} must be true or false"))),
    }
}

/// Range, order, page size, search and count, in the order every `nextLink` lists them.
fn append_common(
    q: &mut url::form_urlencoded::Serializer<'_, String>,
    (after, before, ascending, limit): (Option<DateTime<Utc>>, Option<DateTime<Utc>>, bool, usize),
    search: Option<&Keywords>,
    count: bool,
) {
    for (name, at) in [("afterDate", after), ("beforeDate", before)] {
        if let Some(t) = at {
            q.append_pair(name, &dates::format(t));
        }
    }
    q.append_pair("sortBy", if ascending { "ASC" } else { "DESC" });
    q.append_pair("limit", &limit.to_string());
    if let Some(k) = search {
        q.append_pair("q", &k.text);
    }
    if count {
        q.append_pair("count", "true");
    }
}

const LOG_KNOWN: [&str; 14] = [
    "level",
    "type",
    "userId",
    "integrationId",
    "workflowId",
    "traceId",
    "afterDate",
    "beforeDate",
    "sortBy",
    "limit",
    "cursor",
    "count",
    "q",
    "includeBody",
];

/// The event-log filters that are dimensions, in the order links and fingerprints list them.
const LOG_DIMENSIONS: [LogField; 4] = [
    LogField::IntegrationId,
    LogField::EndUserId,
    LogField::WorkflowId,
    LogField::TraceId,
];

/// A validated event-log listing request.
#[derive(Clone, Debug, PartialEq)]
pub struct LogParams {
    pub filter: LogQuery,
    pub cursor: Option<String>,
    pub count: bool,
    /// `false`: leave `payload` out.
    pub include_body: bool,
}

impl LogParams {
    pub fn parse(pairs: &[(String, String)]) -> Result<Self, ApiError> {
        let get = known(pairs, &LOG_KNOWN)?;
        let mut q = LogQuery::default();
        for field in LOG_DIMENSIONS {
            if let Some(values) = dimension(&get, field.parameter(), field.dimension())? {
                q.dimensions.push((field, values));
            }
        }
        q.levels = choices(&get, "level", Level::parse, "DEBUG, INFO, WARN or ERROR")?;
        q.types = dimension(&get, "type", Some(true))?.unwrap_or_default();
        let common = Common::parse(&get)?;
        q.after = common.after;
        q.before = common.before;
        q.ascending = common.ascending;
        q.limit = common.limit;
        q.search = common.search;
        Ok(LogParams {
            filter: q,
            cursor: common.cursor,
            count: common.count,
            include_body: flag(get("includeBody"), "includeBody", true)?,
        })
    }

    pub fn query(&self, project: &str, now: DateTime<Utc>) -> LogQuery {
        LogQuery {
            project: project.to_string(),
            now,
            ..self.filter.clone()
        }
    }

    fn values(&self, field: LogField) -> Option<&[String]> {
        self.filter
            .dimensions
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, v)| v.as_slice())
    }

    /// As `ListParams::fingerprint`, for event logs (a cursor of one listing never opens the other).
    pub fn fingerprint(&self) -> String {
        let f = &self.filter;
        let sorted = |v: &[String]| {
            let mut v: Vec<String> = v.to_vec();
            v.sort();
            v
        };
        let dimensions: Vec<Vec<String>> = LOG_DIMENSIONS
            .iter()
            .map(|d| sorted(self.values(*d).unwrap_or_default()))
            .collect();
        let canonical = serde_json::json!([
            "logs",
            dimensions,
            f.levels.iter().map(|l| l.as_str()).collect::<Vec<_>>(),
            sorted(&f.types),
            f.after.map(dates::format),
            f.before.map(dates::format),
            f.ascending,
            f.search.as_ref().map(|k| &k.tokens),
        ]);
        hex::encode(&Sha256::digest(canonical.to_string().as_bytes())[..12])
    }

    pub fn query_with_cursor(&self, cursor: &str) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for field in LOG_DIMENSIONS {
            if let Some(values) = self.values(field) {
                q.append_pair(field.parameter(), &values.join(","));
            }
        }
        let f = &self.filter;
        if !f.levels.is_empty() {
            let levels: Vec<&str> = f.levels.iter().map(|l| l.as_str()).collect();
            q.append_pair("level", &levels.join(","));
        }
        if !f.types.is_empty() {
            q.append_pair("type", &f.types.join(","));
        }
        append_common(
            &mut q,
            (f.after, f.before, f.ascending, f.limit),
            f.search.as_ref(),
            self.count,
        );
        if !self.include_body {
            q.append_pair("includeBody", "false");
        }
        q.append_pair("cursor", cursor);
        q.finish()
    }
}

const KNOWN_STATS: [&str; 9] = [
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
        let get = known(pairs, &KNOWN_STATS)?;
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
            statuses: choices(
                &get,
                "status",
                Status::parse,
                "QUEUED, RUNNING, SUCCEEDED, FAILED or CANCELLED",
            )?,
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

/// A comma list of named choices (case-insensitive), each once, in their own order.
fn choices<'a, T: Ord>(
    get: &impl Fn(&str) -> Option<&'a str>,
    name: &str,
    parse: fn(&str) -> Option<T>,
    known: &str,
) -> Result<Vec<T>, ApiError> {
    let Some(v) = get(name) else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    for text in list(v, name)? {
        let choice =
            parse(&text).ok_or_else(|| ApiError::parameter(name, format!("unknown {name} {text:?}; use {known}")))?;
        out.push(choice);
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// The values of a filter parameter: a comma list when `comma_list` says so (at most
/// `MAX_INTEGRATIONS` values), else one value.
fn dimension<'a>(
    get: &impl Fn(&str) -> Option<&'a str>,
    name: &str,
    comma_list: Option<bool>,
) -> Result<Option<Vec<String>>, ApiError> {
    let Some(v) = get(name) else { return Ok(None) };
    let values = match comma_list {
        Some(true) => list(v, name)?,
        _ => vec![single(v, name)?],
    };
    if values.len() > MAX_INTEGRATIONS {
        return Err(ApiError::parameter(
            name,
            format!("at most {MAX_INTEGRATIONS} values may be given"),
        ));
    }
    Ok(Some(values))
}

fn single(v: &str, name: &str) -> Result<String, ApiError> {
    value(v, name, false)
}

fn value(v: &str, name: &str, comma_list: bool) -> Result<String, ApiError> {
    crate::model::values::query_value(v, comma_list).map_err(|p| ApiError::parameter(name, format!("{name} {p}")))
}

fn list(v: &str, name: &str) -> Result<Vec<String>, ApiError> {
    let mut out: Vec<String> = Vec::new();
    for part in v.split(',') {
        let part = value(part, name, true)?;
        if !out.contains(&part) {
            out.push(part);
        }
    }
    Ok(out)
}

fn date(v: &str, name: &str) -> Result<DateTime<Utc>, ApiError> {
    dates::parse(v).ok_or_else(|| {
        ApiError::parameter(
            name,
            format!("{name} must be RFC 3339, YYYY-MM-DDTHH:MM:SS or YYYY-MM-DD (UTC)"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(q: &str) -> Result<ListParams, ApiError> {
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(q.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        ListParams::parse(&pairs)
    }

    fn bad(q: &str) -> String {
        let e = parse(q).unwrap_err();
        assert_eq!(e.status(), 400, "{q}");
        e.parameter.unwrap_or_default()
    }

    #[test]
    fn defaults() {
        let p = parse("").unwrap();
        assert_eq!(p.filter.limit, 100);
        assert!(!p.filter.ascending && !p.count && p.cursor.is_none());
    }

    #[test]
    fn parses_every_filter() {
        let p = parse("integration=salesforce,hubspot&userId=u1&workflowId=w&triggerType=cron&traceId=t&status=failed,FAILED,Cancelled&afterDate=2023-02-16&beforeDate=2023-02-23T00:00:00&sortBy=asc&limit=5&count=true").unwrap();
        let q = p.query("p", chrono::Utc::now());
        assert_eq!(
            q.dimensions[0],
            (Field::Integration, vec!["salesforce".into(), "hubspot".into()])
        );
        assert_eq!(q.dimensions[1], (Field::UserId, vec!["u1".into()]));
        assert_eq!(q.dimensions.len(), 5);
        assert_eq!(q.statuses, [Status::Failed, Status::Cancelled]);
        assert!(q.ascending && p.count);
        assert_eq!(q.limit, 5);
        assert_eq!(dates::format(q.after.unwrap()), "2023-02-16T00:00:00.000Z");
    }

    #[test]
    fn refuses_bad_values_naming_the_parameter() {
        for (query, parameter) in [
            ("limit=0", "limit"),
            ("limit=5000", "limit"),
            ("limit=ten", "limit"),
            ("afterDate=yesterday", "afterDate"),
            ("status=DONE", "status"),
            ("sortBy=up", "sortBy"),
            ("colour=red", "colour"),
            ("userId=a&userId=b", "userId"),
            ("userId=", "userId"),
            ("afterDate=2023-02-23&beforeDate=2023-02-16", "beforeDate"),
            ("integration=a,b,c,d,e,f,g,h,i,j,k", "integration"),
            ("count=maybe", "count"),
        ] {
            assert_eq!(bad(query), parameter);
        }
    }

    #[test]
    fn fingerprint_ignores_limit_and_order_of_lists_but_not_filters() {
        let a = parse("integration=a,b&limit=5").unwrap().fingerprint();
        assert_eq!(a, parse("integration=b,a&limit=7&count=true").unwrap().fingerprint());
        assert_ne!(a, parse("integration=a").unwrap().fingerprint());
        assert_ne!(a, parse("integration=a,b&sortBy=ASC").unwrap().fingerprint());
    }

    #[test]
    fn next_link_query_reparses_to_the_same_request() {
        let p = parse("integration=a b,c&status=failed&afterDate=2023-02-16&limit=3").unwrap();
        let again = parse(&p.query_with_cursor("xyz")).unwrap();
        assert_eq!(again.cursor.as_deref(), Some("xyz"));
        assert_eq!(again.fingerprint(), p.fingerprint());
        assert_eq!(again.filter.limit, 3);
    }
}
