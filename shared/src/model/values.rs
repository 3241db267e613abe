//! The rules for identifiers and dimension values (lengths in characters, as JSON Schema counts). Ingest and queries apply the same ones, so every
//! stored value can be matched by some query and no query value is refused that could be stored.

use super::limits::{MAX_ID, MAX_TEXT};

/// Ids of projects, executions and steps: 1..=128 visible characters without `#`, `/` or `?`,
/// and not `.` or `..` (they are path segments).
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.chars().count() <= MAX_ID
        && id != "."
        && id != ".."
        && id
            .chars()
            .all(|c| !c.is_control() && !c.is_whitespace() && !matches!(c, '#' | '/' | '?'))
}

pub const ID_RULE: &str = "1 to 128 characters without '#', '/', '?' or spaces, and not '.' or '..'";

/// Why a dimension value (`userId`, `integration`, ...) can never be matched by a query.
pub fn value_problem(v: &str, comma_list: bool) -> Option<String> {
    if v.is_empty() || v.chars().count() > MAX_TEXT {
        return Some(format!("must be 1 to {MAX_TEXT} characters"));
    }
    if v.trim() != v {
        return Some("must not begin or end with whitespace".into());
    }
    if v.chars().any(char::is_control) {
        return Some("must not contain control characters".into());
    }
    if comma_list && v.contains(',') {
        return Some("must not contain ',' (queries take a comma-separated list)".into());
    }
    None
}

/// A query value as given: trimmed, then held to the same rules as stored values.
pub fn query_value(v: &str, comma_list: bool) -> Result<String, String> {
    let v = v.trim();
    match value_problem(v, comma_list) {
        Some(p) => Err(p),
        None => Ok(v.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_with_separators_or_dots_are_refused() {
        assert!(valid_id("c70cafa5-4f80-45c7-b5b3-71454f6d638d"));
        assert!(valid_id("a.b"));
        for bad in ["", ".", "..", "a#b", "a/b", "a b", "a?b", &"x".repeat(129)] {
            assert!(!valid_id(bad), "{bad}");
        }
        assert!(valid_id(&"€".repeat(128)), "characters, not bytes");
    }

    #[test]
    fn stored_values_follow_the_query_rules() {
        assert_eq!(value_problem("salesforce", true), None);
        assert!(
            value_problem(" x", false).is_some(),
            "a query trims, so it could never match"
        );
        assert!(value_problem("a,b", true).is_some(), "a query splits on commas");
        assert_eq!(value_problem("a,b", false), None);
        assert!(value_problem("", false).is_some());
        assert_eq!(query_value(" x ", false), Ok("x".into()));
    }
}
