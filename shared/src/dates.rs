//! Timestamps: parsing the accepted input forms and the one fixed-width form stored in keys.

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};

/// Parses RFC 3339 (any offset), or `YYYY-MM-DDTHH:MM:SS[.fff]` / `YYYY-MM-DD` read as UTC.
pub fn parse(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f") {
        return Some(t.and_utc());
    }
    if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
    }
    None
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`: fixed width, so string order equals time order.
pub fn format(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Truncates to whole milliseconds, the precision that is stored.
pub fn to_millis(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_three_documented_forms() {
        let want = "2023-02-16T00:00:00.000Z";
        assert_eq!(format(parse("2023-02-16").unwrap()), want);
        assert_eq!(format(parse("2023-02-16T00:00:00").unwrap()), want);
        assert_eq!(format(parse("2023-02-16T01:00:00+01:00").unwrap()), want);
        assert_eq!(format(parse("2023-02-16T00:00:00Z").unwrap()), want);
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "",
            "yesterday",
            "2023-13-01",
            "2023-02-30",
            "16/02/2023",
            "2023-02-16T25:00:00",
        ] {
            assert!(parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn stored_form_sorts_like_time() {
        let a = format(parse("2023-02-16T09:59:59.999Z").unwrap());
        let b = format(parse("2023-02-16T10:00:00Z").unwrap());
        assert!(a < b);
        assert_eq!(a.len(), b.len());
    }
}
