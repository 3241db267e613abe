//! Step items: in their execution's partition under `S#{stepId}`, with the execution's record
//! layout (`execution`), read in `dateStarted` order.

use super::execution::{bodies_of, fields_of, unit_key_of, STARTED};
use super::index::listing_sk;
use super::table::{number_attr, sort_key, Item};
use super::RecordBodies;
use crate::model::StepSummary;

/// Prefix of step sort keys.
pub const STEP_PREFIX: &str = "S#";

/// Above every step sort key (`$` sorts right after `#`).
pub const STEPS_END: &str = "S$";

pub fn step_sk(step_id: &str) -> String {
    format!("{STEP_PREFIX}{step_id}")
}

/// The step id of a step sort key.
pub fn step_id_of(sk: &str) -> Option<&str> {
    sk.strip_prefix(STEP_PREFIX)
}

/// Step order: `dateStarted` millis then id, the same shape as a listing key.
pub fn step_order_key(started_millis: i64, step_id: &str) -> String {
    listing_sk(started_millis, step_id)
}

/// A step's summary alone: its bodies stay untouched.
pub fn step_summary(item: &Item) -> Option<StepSummary> {
    let key = unit_key_of(item)?;
    StepSummary::from_fields(key.step.as_deref()?, &fields_of(item, None))
}

pub fn step_from_item(item: &Item) -> Option<(StepSummary, RecordBodies)> {
    Some((step_summary(item)?, bodies_of(item)))
}

/// A step's place in `dateStarted` order.
pub fn step_order(item: &Item) -> Option<String> {
    let id = step_id_of(sort_key(item))?;
    Some(step_order_key(number_attr(item, STARTED)?, id))
}

#[cfg(test)]
mod tests {
    use super::super::execution::SUMMARY_SK;
    use super::*;

    #[test]
    fn step_keys_sort_between_the_summary_and_the_end() {
        assert!(SUMMARY_SK < step_sk("0").as_str());
        assert!(step_sk("\u{10ffff}").as_str() < STEPS_END);
        assert_eq!(step_id_of(&step_sk("a#b")), Some("a#b"));
    }
}
