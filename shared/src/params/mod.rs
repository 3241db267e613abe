//! Query-parameter parsing, by route family: the executions and event-log listings, stats, and a
//! page of steps. Unknown, repeated or malformed parameters are refused with the parameter's name.
//! This module holds what every family shares, and `Listing`: what a listing request gives the
//! listing path (its finished query, its paging, the fingerprint its cursors are bound to and the
//! query string of its next link).

mod executions;
mod logs;
mod page;
mod stats;

pub use executions::ListParams;
pub use logs::LogParams;
pub use page::PageParams;
pub use stats::{StatsParams, STATS_MAX_DAYS, STATS_MAX_HOURS};

use crate::dates;
use crate::error::ApiError;
use crate::model::limits::{DEFAULT_LIMIT, MAX_INTEGRATIONS, MAX_LIMIT};
use crate::query::Window;
use crate::search::Keywords;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

/// A next link's query string as it is built.
pub type LinkQuery<'a> = url::form_urlencoded::Serializer<'a, String>;

/// How a listing pages: where it resumes, and whether it asks for the total.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Paging {
    pub cursor: Option<String>,
    pub count: bool,
}

impl Paging {
    /// Only a first page counts: later pages (and `nextLink`) carry the cursor.
    pub fn counts_total(&self) -> bool {
        self.count && self.cursor.is_none()
    }
}

/// A validated listing request, executions or event logs.
pub trait Listing {
    /// What the store reads: the filters and the window, project and clock included.
    type Query: AsRef<Window>;
    /// The listing's route under the project, as next links name it.
    const PATH: &'static str;

    /// The filters besides the window, in the order the fingerprint lists them.
    fn canonical_filters(&self) -> Vec<serde_json::Value>;
    /// Appends the filters besides the window, in the order next links list them.
    fn append_filters(&self, q: &mut LinkQuery<'_>);
    /// Appends what a next link carries after the window's parameters.
    fn append_options(&self, _q: &mut LinkQuery<'_>) {}
    /// The query, and how to page it.
    fn parts(&self) -> (&Self::Query, &Paging);

    fn query(&self) -> &Self::Query {
        self.parts().0
    }

    fn paging(&self) -> &Paging {
        self.parts().1
    }

    fn window(&self) -> &Window {
        self.query().as_ref()
    }

    /// Fingerprint of everything that decides which items match and in what order; a cursor is valid
    /// only for the same fingerprint. `limit` and `count` may change between pages.
    fn fingerprint(&self) -> String {
        let w = self.window();
        let mut canonical = self.canonical_filters();
        canonical.extend([
            serde_json::json!(w.after.map(dates::format)),
            serde_json::json!(w.before.map(dates::format)),
            serde_json::json!(w.ascending),
            serde_json::json!(w.search.as_ref().map(|k| &k.tokens)),
        ]);
        let canonical = serde_json::Value::Array(canonical);
        hex::encode(&Sha256::digest(canonical.to_string().as_bytes())[..12])
    }

    /// The request's query string for `nextLink`, in a stable order, with `cursor` replaced.
    fn query_with_cursor(&self, cursor: &str) -> String {
        let mut q = LinkQuery::new(String::new());
        self.append_filters(&mut q);
        append_window(&mut q, self.window(), self.paging().count);
        self.append_options(&mut q);
        q.append_pair("cursor", cursor);
        q.finish()
    }
}

/// A field a listing filters on by exact match, named by its query parameter.
trait Filter: Copy + PartialEq {
    fn parameter(self) -> &'static str;
    /// `Some(true)`: the parameter takes a comma list.
    fn comma_list(self) -> Option<bool>;
}

/// The parameters every listing takes besides its filters.
const WINDOW: [&str; 7] = ["afterDate", "beforeDate", "sortBy", "limit", "cursor", "count", "q"];

/// The first steps of every listing: parameters other than its `filters`, the window's and its
/// `options` are refused (named in that order), as are repeated ones; then the dimension filters
/// among `fields` are read. Returns a lookup of the parameters too.
#[allow(clippy::type_complexity)]
fn listing<'a, F: Filter>(
    pairs: &'a [(String, String)],
    filters: &[&str],
    options: &[&str],
    fields: &[F],
) -> Result<(impl Fn(&str) -> Option<&'a str>, Vec<(F, Vec<String>)>), ApiError> {
    let get = known(pairs, &[filters, &WINDOW, options].concat())?;
    let mut given = Vec::new();
    for &field in fields {
        if let Some(values) = dimension(&get, field.parameter(), field.comma_list())? {
            given.push((field, values));
        }
    }
    Ok((get, given))
}

fn values_of<F: Filter>(given: &[(F, Vec<String>)], field: F) -> Option<&[String]> {
    given.iter().find(|(f, _)| *f == field).map(|(_, v)| v.as_slice())
}

/// The values of each of `fields`, sorted (none given: empty), as fingerprints list them.
fn sorted_filters<F: Filter>(given: &[(F, Vec<String>)], fields: &[F]) -> serde_json::Value {
    let values: Vec<Vec<&str>> = fields
        .iter()
        .map(|f| {
            let mut v: Vec<&str> = values_of(given, *f)
                .unwrap_or_default()
                .iter()
                .map(String::as_str)
                .collect();
            v.sort();
            v
        })
        .collect();
    serde_json::json!(values)
}

/// The given filters among `fields`, in that order, as next links list them.
fn append_filters<F: Filter>(q: &mut LinkQuery<'_>, given: &[(F, Vec<String>)], fields: &[F]) {
    for &field in fields {
        if let Some(values) = values_of(given, field) {
            q.append_pair(field.parameter(), &values.join(","));
        }
    }
}

/// The names of chosen values (`status`, `level`), in their own order.
fn names<T: Copy>(chosen: &[T], name: fn(T) -> &'static str) -> Vec<&'static str> {
    chosen.iter().map(|c| name(*c)).collect()
}

/// `name` with its values as a comma list, unless there are none.
fn append_list<S: std::borrow::Borrow<str>>(q: &mut LinkQuery<'_>, name: &str, values: &[S]) {
    if !values.is_empty() {
        q.append_pair(name, &values.join(","));
    }
}

/// Range, order, page size, search and count, in the order every `nextLink` lists them.
fn append_window(q: &mut LinkQuery<'_>, w: &Window, count: bool) {
    for (name, at) in [("afterDate", w.after), ("beforeDate", w.before)] {
        if let Some(t) = at {
            q.append_pair(name, &dates::format(t));
        }
    }
    q.append_pair("sortBy", if w.ascending { "ASC" } else { "DESC" });
    q.append_pair("limit", &w.limit.to_string());
    if let Some(k) = &w.search {
        q.append_pair("q", &k.text);
    }
    if count {
        q.append_pair("count", "true");
    }
}

/// What every listing takes besides its filters: range, order, page size, count, cursor and search,
/// read in that order (the first bad one is the one named).
fn window<'a>(
    get: &impl Fn(&str) -> Option<&'a str>,
    project: &str,
    now: DateTime<Utc>,
) -> Result<(Window, Paging), ApiError> {
    let (after, before) = date_range(get)?;
    let ascending = match get("sortBy") {
        None => false,
        Some(v) if v.eq_ignore_ascii_case("DESC") => false,
        Some(v) if v.eq_ignore_ascii_case("ASC") => true,
        Some(_) => return Err(ApiError::parameter("sortBy", "sortBy must be ASC or DESC")),
    };
    let limit = limit(get("limit"))? as usize;
    let count = flag(get("count"), "count", false)?;
    let cursor = cursor(get("cursor"))?;
    let search = get("q")
        .map(|v| Keywords::parse(v).map_err(|p| ApiError::parameter("q", p)))
        .transpose()?;
    let window = Window {
        project: project.to_string(),
        after,
        before,
        ascending,
        limit,
        now,
        search,
    };
    Ok((window, Paging { cursor, count }))
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
