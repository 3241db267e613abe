//! Capacity units computed from item sizes, by DynamoDB's published rules, because the emulator's
//! ConsumedCapacity figures are not real.

use crate::keys::ListIndex;
use crate::store::Item;
use aws_sdk_dynamodb::types::AttributeValue;

/// Size DynamoDB bills for an item: attribute names plus values.
pub fn item_size(item: &Item) -> usize {
    item.iter().map(|(name, value)| name.len() + value_size(value)).sum()
}

fn value_size(v: &AttributeValue) -> usize {
    match v {
        AttributeValue::S(s) => s.len(),
        // Numbers: about one byte per two significant digits, plus one.
        AttributeValue::N(n) => n.trim_start_matches('-').len().div_ceil(2) + 1,
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::M(m) => 3 + m.iter().map(|(k, v)| k.len() + value_size(v) + 1).sum::<usize>(),
        AttributeValue::L(l) => 3 + l.iter().map(|v| value_size(v) + 1).sum::<usize>(),
        AttributeValue::Ss(s) => s.iter().map(String::len).sum(),
        AttributeValue::Ns(s) => s.iter().map(|n| n.len().div_ceil(2) + 1).sum(),
        AttributeValue::Bs(s) => s.iter().map(|b| b.as_ref().len()).sum(),
        _ => 0,
    }
}

/// Write units for one 1 KB-rounded write of `size` bytes.
fn units(size: usize) -> u64 {
    size.div_ceil(1024).max(1) as u64
}

/// Write units a put of `new` over `old` costs: the table write (doubled inside a transaction) plus
/// every listing index the item is in (ALL projection), plus a delete where an index key changed.
pub fn put_write_units(old: Option<&Item>, new: &Item, transactional: bool) -> u64 {
    let size = item_size(new);
    let mut total = units(size) * if transactional { 2 } else { 1 };
    let indexes = [ListIndex::Project].into_iter().chain(ListIndex::DIMENSIONS);
    for index in indexes {
        let attr = index.key_attribute();
        let new_key = new.get(attr);
        let old_key = old.and_then(|o| o.get(attr));
        if let Some(old_key) = old_key {
            if new_key != Some(old_key) {
                total += units(old.map(item_size).unwrap_or(0));
            }
        }
        if new_key.is_some() {
            total += units(size);
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn item(pairs: &[(&str, &str)]) -> Item {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), AttributeValue::S(v.to_string())))
            .collect::<HashMap<_, _>>()
    }

    #[test]
    fn size_counts_names_and_values() {
        assert_eq!(item_size(&item(&[("pk", "abc"), ("sk", "A")])), 2 + 3 + 2 + 1);
    }

    #[test]
    fn index_writes_and_key_moves_are_billed() {
        let old = item(&[("pk", "x"), ("gP", "p"), ("gS", "X#p#RUNNING")]);
        let new = item(&[("pk", "x"), ("gP", "p"), ("gS", "X#p#FAILED")]);
        // table 2 (transactional) + gP 1 + gS 1 + gS delete 1
        assert_eq!(put_write_units(Some(&old), &new, true), 5);
        assert_eq!(put_write_units(None, &item(&[("pk", "x")]), false), 1);
    }
}
