//! The convergence rule. Every stored field remembers the rank of the event that set it; an incoming
//! value replaces it only when its (rank, value) is greater. Per field that is a max, which is
//! commutative, associative and idempotent, so any arrival order and any number of duplicates give
//! the same state. Bodies converge the same way: their digests are fields (`inputRef`, ...).

use serde_json::Value;
use std::cmp::Ordering;
use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq)]
pub struct Ranked {
    pub rank: u8,
    pub value: Value,
}

/// A record's fields with the rank each was set at.
pub type Fields = BTreeMap<String, Ranked>;

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

/// Applies one event's fields at `rank`; returns whether anything changed.
pub fn merge_fields(state: &mut Fields, rank: u8, incoming: &BTreeMap<String, Value>) -> bool {
    let mut changed = false;
    for (name, value) in incoming {
        let replace = match state.get(name) {
            None => true,
            Some(cur) => outranks((rank, value), (cur.rank, &cur.value)),
        };
        if replace {
            state.insert(
                name.clone(),
                Ranked {
                    rank,
                    value: value.clone(),
                },
            );
            changed = true;
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn fields(pairs: &[(&str, Value)]) -> BTreeMap<String, Value> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    }

    #[test]
    fn late_running_never_replaces_a_terminal_status() {
        let mut s = Fields::new();
        merge_fields(
            &mut s,
            2,
            &fields(&[("status", json!("SUCCEEDED")), ("dateEnded", json!("t2"))]),
        );
        let changed = merge_fields(
            &mut s,
            1,
            &fields(&[("status", json!("RUNNING")), ("taskCount", json!(1))]),
        );
        assert!(changed, "the new taskCount field is still taken");
        assert_eq!(s["status"].value, json!("SUCCEEDED"));
        assert_eq!(s["taskCount"].value, json!(1));
    }

    #[test]
    fn duplicates_change_nothing() {
        let mut s = Fields::new();
        let e = fields(&[("status", json!("RUNNING")), ("userId", json!("u1"))]);
        assert!(merge_fields(&mut s, 1, &e));
        assert!(!merge_fields(&mut s, 1, &e));
    }

    #[test]
    fn equal_ranks_take_the_larger_number() {
        let mut s = Fields::new();
        merge_fields(&mut s, 1, &fields(&[("taskCount", json!(10))]));
        merge_fields(&mut s, 1, &fields(&[("taskCount", json!(9))]));
        assert_eq!(s["taskCount"].value, json!(10));
    }

    fn arb_event() -> impl Strategy<Value = (u8, BTreeMap<String, Value>)> {
        let value = prop_oneof![(0u32..5).prop_map(|n| json!(n)), "[a-c]{1,2}".prop_map(|s| json!(s)),];
        (0u8..5, prop::collection::btree_map("[a-d]", value, 0..4))
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
