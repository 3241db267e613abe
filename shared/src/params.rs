//! Query-parameter parsing for list requests. Unknown, repeated or malformed parameters are refused
//! with the parameter's name.

use crate::dates;
use crate::error::ApiError;
use crate::model::limits::{DEFAULT_LIMIT, MAX_INTEGRATIONS, MAX_LIMIT};
use crate::model::{Field, Status};
use crate::query::ListQuery;
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

/// A validated list request.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ListParams {
    pub integration: Vec<String>,
    pub user_id: Option<String>,
    pub workflow_id: Option<String>,
    pub trigger_type: Option<String>,
    pub trace_id: Option<String>,
    pub status: Vec<Status>,
    pub after: Option<DateTime<Utc>>,
    pub before: Option<DateTime<Utc>>,
    pub ascending: bool,
    pub limit: u32,
    pub cursor: Option<String>,
    pub count: bool,
}

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
        let mut p = ListParams {
            limit: DEFAULT_LIMIT,
            ..Default::default()
        };

        if let Some(v) = get("integration") {
            p.integration = list(v, "integration")?;
            if p.integration.len() > MAX_INTEGRATIONS {
                return Err(ApiError::parameter(
                    "integration",
                    "at most 10 integrations may be given",
                ));
            }
        }
        p.user_id = get("userId").map(|v| single(v, "userId")).transpose()?;
        p.workflow_id = get("workflowId").map(|v| single(v, "workflowId")).transpose()?;
        p.trigger_type = get("triggerType").map(|v| single(v, "triggerType")).transpose()?;
        p.trace_id = get("traceId").map(|v| single(v, "traceId")).transpose()?;
        if let Some(v) = get("status") {
            for s in list(v, "status")? {
                let status = Status::parse(&s).ok_or_else(|| {
                    ApiError::parameter(
                        "status",
                        format!("unknown status {s:?}; use QUEUED, RUNNING, SUCCEEDED, FAILED or CANCELLED"),
                    )
                })?;
                if !p.status.contains(&status) {
                    p.status.push(status);
                }
            }
            p.status.sort();
        }
        p.after = get("afterDate").map(|v| date(v, "afterDate")).transpose()?;
        p.before = get("beforeDate").map(|v| date(v, "beforeDate")).transpose()?;
        if let (Some(a), Some(b)) = (p.after, p.before) {
            if a >= b {
                return Err(ApiError::parameter(
                    "beforeDate",
                    "beforeDate must be later than afterDate",
                ));
            }
        }
        p.ascending = match get("sortBy") {
            None => false,
            Some(v) if v.eq_ignore_ascii_case("DESC") => false,
            Some(v) if v.eq_ignore_ascii_case("ASC") => true,
            Some(_) => return Err(ApiError::parameter("sortBy", "sortBy must be ASC or DESC")),
        };
        p.limit = limit(get("limit"))?;
        p.cursor = cursor(get("cursor"))?;
        p.count = match get("count") {
            None => false,
            Some(v) if v.eq_ignore_ascii_case("true") => true,
            Some(v) if v.eq_ignore_ascii_case("false") => false,
            Some(_) => return Err(ApiError::parameter("count", "count must be true or false")),
        };
        if get("q").is_some() {
            return Err(ApiError::parameter("q", "keyword search is not available yet"));
        }
        Ok(p)
    }

    /// The typed query these parameters ask for.
    pub fn query(&self, project: &str, now: DateTime<Utc>) -> ListQuery {
        let mut dimensions = Vec::new();
        if !self.integration.is_empty() {
            dimensions.push((Field::Integration, self.integration.clone()));
        }
        for (field, value) in [
            (Field::UserId, &self.user_id),
            (Field::WorkflowId, &self.workflow_id),
            (Field::TriggerType, &self.trigger_type),
            (Field::TraceId, &self.trace_id),
        ] {
            if let Some(v) = value {
                dimensions.push((field, vec![v.clone()]));
            }
        }
        ListQuery {
            project: project.to_string(),
            dimensions,
            statuses: self.status.clone(),
            after: self.after,
            before: self.before,
            ascending: self.ascending,
            limit: self.limit as usize,
            now,
        }
    }

    /// Fingerprint of everything that decides which items match and in what order; a cursor is valid
    /// only for the same fingerprint. `limit` and `count` may change between pages.
    pub fn fingerprint(&self) -> String {
        let canonical = serde_json::json!([
            self.integration_sorted(),
            self.user_id,
            self.workflow_id,
            self.trigger_type,
            self.trace_id,
            self.status.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
            self.after.map(dates::format),
            self.before.map(dates::format),
            self.ascending,
        ]);
        hex::encode(&Sha256::digest(canonical.to_string().as_bytes())[..12])
    }

    fn integration_sorted(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.integration.iter().map(String::as_str).collect();
        v.sort();
        v
    }

    /// The request's query string for `nextLink`, in a stable order, with `cursor` replaced.
    pub fn query_with_cursor(&self, cursor: &str) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        if !self.integration.is_empty() {
            q.append_pair("integration", &self.integration.join(","));
        }
        for (name, value) in [
            ("userId", &self.user_id),
            ("workflowId", &self.workflow_id),
            ("triggerType", &self.trigger_type),
            ("traceId", &self.trace_id),
        ] {
            if let Some(v) = value {
                q.append_pair(name, v);
            }
        }
        if !self.status.is_empty() {
            q.append_pair(
                "status",
                &self.status.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(","),
            );
        }
        if let Some(a) = self.after {
            q.append_pair("afterDate", &dates::format(a));
        }
        if let Some(b) = self.before {
            q.append_pair("beforeDate", &dates::format(b));
        }
        q.append_pair("sortBy", if self.ascending { "ASC" } else { "DESC" });
        q.append_pair("limit", &self.limit.to_string());
        if self.count {
            q.append_pair("count", "true");
        }
        q.append_pair("cursor", cursor);
        q.finish()
    }
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
        assert_eq!(p.limit, 100);
        assert!(!p.ascending && !p.count && p.cursor.is_none());
    }

    #[test]
    fn parses_every_filter() {
        let p = parse("integration=salesforce,hubspot&userId=u1&workflowId=w&triggerType=cron&traceId=t&status=failed,FAILED,Cancelled&afterDate=2023-02-16&beforeDate=2023-02-23T00:00:00&sortBy=asc&limit=5&count=true").unwrap();
        assert_eq!(p.integration, ["salesforce", "hubspot"]);
        assert_eq!(p.status, [Status::Failed, Status::Cancelled]);
        assert_eq!(p.user_id.as_deref(), Some("u1"));
        assert!(p.ascending && p.count);
        assert_eq!(p.limit, 5);
        assert_eq!(dates::format(p.after.unwrap()), "2023-02-16T00:00:00.000Z");
    }

    #[test]
    fn refuses_bad_values_naming_the_parameter() {
        assert_eq!(bad("limit=0"), "limit");
        assert_eq!(bad("limit=5000"), "limit");
        assert_eq!(bad("limit=ten"), "limit");
        assert_eq!(bad("afterDate=yesterday"), "afterDate");
        assert_eq!(bad("status=DONE"), "status");
        assert_eq!(bad("sortBy=up"), "sortBy");
        assert_eq!(bad("colour=red"), "colour");
        assert_eq!(bad("userId=a&userId=b"), "userId");
        assert_eq!(bad("userId="), "userId");
        assert_eq!(bad("afterDate=2023-02-23&beforeDate=2023-02-16"), "beforeDate");
        assert_eq!(bad("integration=a,b,c,d,e,f,g,h,i,j,k"), "integration");
        assert_eq!(bad("count=maybe"), "count");
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
        assert_eq!(again.limit, 3);
    }
}
