//! The convergence rule. Every stored field remembers the rank of the event that set it; an incoming
//! value replaces it only when its (rank, value) is greater. Per field that is a max, which is
//! commutative, associative and idempotent, so any arrival order and any number of duplicates give
//! the same state. Bodies converge the same way: their digests are fields (`input`, `output`, and
//! `error.details` inside `error`). One exception: `dateStarted` is fixed by the first event that
//! stores it, because it places the record in the listings and sets its expiry.

use crate::model::Field;
use serde_json::Value;
use std::cmp::Ordering;
use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq)]
pub struct Ranked {
    pub rank: u8,
    pub value: Value,
}

/// A record's fields with the rank each was set at.
pub type Fields = BTreeMap<Field, Ranked>;

/// What merging one event did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Merged {
    pub changed: bool,
    /// The event named another `dateStarted` than the stored one; it was ignored.
    pub date_started_ignored: bool,
}

/// Total order on values used to break rank ties: numbers numerically (a larger `taskCount` wins),
/// strings by bytes, anything else by its canonical JSON text.
pub fn compare_values(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
            x.partial_cmp(&y).unwrap_or(Ordering::Equal)
        }
        (Value::String(x), Value::String(y)) => x.cmp(y),
        _ => a.to_string().cmp(&b.to_string()),
    }
}

fn outranks(incoming: (u8, &Value), current: (u8, &Value)) -> bool {
    match incoming.0.cmp(&current.0) {
        Ordering::Greater => true,
        Ordering::Less => false,
        Ordering::Equal => compare_values(incoming.1, current.1) == Ordering::Greater,
    }
}

/// Applies one event's fields at `rank`.
pub fn merge_fields(state: &mut Fields, rank: u8, incoming: &BTreeMap<Field, Value>) -> Merged {
    let mut merged = Merged::default();
    for (name, value) in incoming {
        let replace = match state.get(name) {
            None => true,
            Some(cur) if *name == Field::DateStarted => {
                merged.date_started_ignored |= cur.value != *value;
                false
            }
            Some(cur) => outranks((rank, value), (cur.rank, &cur.value)),
        };
        if replace {
            state.insert(
                *name,
                Ranked {
                    rank,
                    value: value.clone(),
                },
            );
            merged.changed = true;
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn fields(pairs: &[(Field, Value)]) -> BTreeMap<Field, Value> {
        pairs.iter().map(|(k, v)| (*k, v.clone())).collect()
    }

    #[test]
    fn late_running_never_replaces_a_terminal_status() {
        let mut s = Fields::new();
        merge_fields(
            &mut s,
            2,
            &fields(&[(Field::Status, json!("SUCCEEDED")), (Field::DateEnded, json!("t2"))]),
        );
        let changed = merge_fields(
            &mut s,
            1,
            &fields(&[(Field::Status, json!("RUNNING")), (Field::TaskCount, json!(1))]),
        );
        assert!(changed.changed, "the new taskCount field is still taken");
        assert_eq!(s[&Field::Status].value, json!("SUCCEEDED"));
        assert_eq!(s[&Field::TaskCount].value, json!(1));
    }

    #[test]
    fn duplicates_change_nothing() {
        let mut s = Fields::new();
        let e = fields(&[(Field::Status, json!("RUNNING")), (Field::UserId, json!("u1"))]);
        assert!(merge_fields(&mut s, 1, &e).changed);
        assert!(!merge_fields(&mut s, 1, &e).changed);
    }

    #[test]
    fn equal_ranks_take_the_larger_number() {
        let mut s = Fields::new();
        merge_fields(&mut s, 1, &fields(&[(Field::TaskCount, json!(10))]));
        merge_fields(&mut s, 1, &fields(&[(Field::TaskCount, json!(9))]));
        assert_eq!(s[&Field::TaskCount].value, json!(10));
    }

    #[test]
    fn the_first_date_started_is_kept_and_a_different_one_reported() {
        let mut s = Fields::new();
        merge_fields(&mut s, 1, &fields(&[(Field::DateStarted, json!("t1"))]));
        let m = merge_fields(&mut s, 4, &fields(&[(Field::DateStarted, json!("t0"))]));
        assert_eq!(
            m,
            Merged {
                changed: false,
                date_started_ignored: true
            }
        );
        assert_eq!(s[&Field::DateStarted].value, json!("t1"));
        let same = merge_fields(&mut s, 4, &fields(&[(Field::DateStarted, json!("t1"))]));
        assert_eq!(same, Merged::default());
    }

    fn arb_event() -> impl Strategy<Value = (u8, BTreeMap<Field, Value>)> {
        let value = prop_oneof![(0u32..5).prop_map(|n| json!(n)), "[a-c]{1,2}".prop_map(|s| json!(s)),];
        // dateStarted is first-wins, not a max: it is covered by its own test.
        let field = prop::sample::select(vec![Field::Status, Field::UserId, Field::TaskCount, Field::Output]);
        (0u8..5, prop::collection::btree_map(field, value, 0..4))
    }

    proptest! {
        #[test]
        fn any_order_with_duplicates_converges(
            events in prop::collection::vec(arb_event(), 1..8),
            order in Just(()).prop_perturb(|_, mut rng| rng.random::<u64>()),
        ) {
            let mut forward = Fields::new();
            for (rank, f) in &events {
                merge_fields(&mut forward, *rank, f);
            }
            let mut shuffled: Vec<_> = events.iter().chain(events.iter()).collect();
            let mut seed = order;
            for i in (1..shuffled.len()).rev() {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                shuffled.swap(i, (seed >> 33) as usize % (i + 1));
            }
            let mut other = Fields::new();
            for (rank, f) in shuffled {
                merge_fields(&mut other, *rank, f);
            }
            prop_assert_eq!(forward, other);
        }
    }
}
