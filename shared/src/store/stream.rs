//! DynamoDB stream images (DynamoDB JSON, as Lambda delivers them) back into items, and items into
//! the records the archive keeps.

use super::event_log;
use super::execution;
use super::step;
use super::table;
use super::table::Item;
use super::ArchivedRecord;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use serde_json::Value;

/// One attribute value in DynamoDB JSON (`{"S": "..."}`, `{"N": "1"}`, `{"B": "base64"}`, ...).
fn attribute(v: &Value) -> Option<AttributeValue> {
    let (kind, inner) = v.as_object()?.iter().next()?;
    let b64 = |s: &Value| base64::engine::general_purpose::STANDARD.decode(s.as_str()?).ok();
    Some(match kind.as_str() {
        "S" => AttributeValue::S(inner.as_str()?.to_string()),
        "N" => AttributeValue::N(inner.as_str()?.to_string()),
        "B" => AttributeValue::B(Blob::new(b64(inner)?)),
        "BOOL" => AttributeValue::Bool(inner.as_bool()?),
        "NULL" => AttributeValue::Null(true),
        "SS" => AttributeValue::Ss(
            inner
                .as_array()?
                .iter()
                .filter_map(|s| Some(s.as_str()?.to_string()))
                .collect(),
        ),
        "NS" => AttributeValue::Ns(
            inner
                .as_array()?
                .iter()
                .filter_map(|s| Some(s.as_str()?.to_string()))
                .collect(),
        ),
        "BS" => AttributeValue::Bs(
            inner
                .as_array()?
                .iter()
                .filter_map(|s| Some(Blob::new(b64(s)?)))
                .collect(),
        ),
        "L" => AttributeValue::L(inner.as_array()?.iter().filter_map(attribute).collect()),
        "M" => AttributeValue::M(image(inner)?),
        _ => return None,
    })
}

/// An item from its stream image.
pub fn image(v: &Value) -> Option<Item> {
    Some(
        v.as_object()?
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), attribute(v)?)))
            .collect(),
    )
}

/// An attribute value as DynamoDB JSON, as the stream carries it.
fn to_json(v: &AttributeValue) -> Value {
    let b64 = |b: &Blob| Value::from(base64::engine::general_purpose::STANDARD.encode(b.as_ref()));
    match v {
        AttributeValue::S(s) => serde_json::json!({ "S": s }),
        AttributeValue::N(n) => serde_json::json!({ "N": n }),
        AttributeValue::B(b) => serde_json::json!({ "B": b64(b) }),
        AttributeValue::Bool(b) => serde_json::json!({ "BOOL": b }),
        AttributeValue::Ss(v) => serde_json::json!({ "SS": v }),
        AttributeValue::Ns(v) => serde_json::json!({ "NS": v }),
        AttributeValue::Bs(v) => serde_json::json!({ "BS": v.iter().map(b64).collect::<Vec<_>>() }),
        AttributeValue::L(v) => serde_json::json!({ "L": v.iter().map(to_json).collect::<Vec<_>>() }),
        AttributeValue::M(m) => serde_json::json!({ "M": to_image(m) }),
        _ => serde_json::json!({ "NULL": true }),
    }
}

/// An item as a stream image.
pub fn to_image(item: &Item) -> Value {
    Value::Object(item.iter().map(|(k, v)| (k.clone(), to_json(v))).collect())
}

/// The record an item holds, its bodies still as stored; `None` for items that are not records
/// (token fingerprints, API keys).
pub fn record(item: &Item) -> Option<(ArchivedRecord, super::RecordBodies)> {
    let pk = table::string_attr(item, table::PK)?;
    if pk.starts_with(event_log::PARTITION_PREFIX) {
        let log = event_log::log_from_item(item)?;
        let bodies = super::RecordBodies {
            input: None,
            output: log.payload.clone(),
            error_details: log.error_details.clone(),
        };
        return Some((ArchivedRecord::Log(log.entry), bodies));
    }
    let key = execution::unit_key_of(item)?;
    let sk = table::sort_key(item);
    if sk == execution::SUMMARY_SK {
        let (summary, bodies) = execution::execution_from_item(item)?;
        return Some((ArchivedRecord::Execution(summary), bodies));
    }
    step::step_id_of(sk)?;
    let (summary, bodies) = step::step_from_item(item)?;
    Some((
        ArchivedRecord::Step {
            project_id: key.project,
            execution_id: key.execution,
            summary,
        },
        bodies,
    ))
}

/// The record a stream image holds, for the counters; `None` for items that are not records.
pub fn counted_record(image: &Value) -> Option<ArchivedRecord> {
    record(&self::image(image)?).map(|(r, _)| r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stream_images_read_back_as_items() {
        let item = image(&json!({"pk": {"S": "EX#p#e"}, "v": {"N": "3"}, "b": {"B": "AAEC"},
                                 "m": {"M": {"x": {"BOOL": true}}}, "l": {"L": [{"NULL": true}]}}))
        .unwrap();
        assert_eq!(table::string_attr(&item, "pk"), Some("EX#p#e"));
        assert_eq!(table::number_attr(&item, "v"), Some(3));
        assert_eq!(item["b"].as_b().unwrap().as_ref(), [0, 1, 2]);
        assert!(item.contains_key("m") && item.contains_key("l"));
        assert!(record(&item).is_none(), "an item without a record's fields");
        assert_eq!(image(&to_image(&item)), Some(item));
    }
}
