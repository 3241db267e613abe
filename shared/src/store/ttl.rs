//! The local stack's Time to Live as if at a later time. DynamoDB deletes expired items itself (the
//! template's TimeToLiveSpecification names the attribute), and DynamoDB Local does too, but only by
//! its own clock; `scripts/ttl_sweep.py` (`make ttl-sweep`) plays a sweep at any instant through
//! `runledger ttl expire`, which runs `DynamoStore::expire`. Nothing deployed calls it.

use super::dynamo::classify;
use super::table::{Item, EXPIRES_AT, PK, SK};
use super::{counter, event_log, execution, stream, table, ArchivedRecord, DynamoStore, StoreError};
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use serde_json::Value;

/// One item a sweep deleted: what a stream REMOVE record of it carries, and what it was.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Expired {
    /// "execution", "step", "event log", or "other" for items that hold no record.
    pub kind: &'static str,
    /// The project the item belongs to, if it belongs to one.
    pub project: Option<String>,
    /// The item's key, as DynamoDB JSON.
    pub keys: Value,
    /// The item as it was when deleted, as DynamoDB JSON.
    pub old_image: Value,
}

impl DynamoStore {
    /// One TTL sweep as DynamoDB would make it at `now_epoch`: a Scan for every item whose expiry
    /// is at or before it, then a DeleteItem of each, conditioned on the item still being expired
    /// (one written again since the scan is kept). `project` limits it to that project's items,
    /// which real TTL cannot do; it keeps concurrent tests apart.
    ///
    /// Only the local stack's emulation of TTL (the README's `make ttl-sweep`): on AWS the service
    /// deletes expired items itself.
    pub async fn expire(&self, now_epoch: i64, project: Option<&str>) -> Result<Vec<Expired>, StoreError> {
        let db = &self.backend;
        let now = AttributeValue::N(now_epoch.to_string());
        let found: Vec<Item> = db
            .dynamodb
            .scan()
            .table_name(&db.table)
            .filter_expression("#e <= :now")
            .expression_attribute_names("#e", EXPIRES_AT)
            .expression_attribute_values(":now", now.clone())
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(classify)?;
        let mut deleted = Vec::new();
        for item in found {
            if project.is_some() && describe(&item).1.as_deref() != project {
                continue;
            }
            let keys: Item = [PK, SK]
                .into_iter()
                .filter_map(|k| Some((k.to_string(), item.get(k)?.clone())))
                .collect();
            let answer = db
                .dynamodb
                .delete_item()
                .table_name(&db.table)
                .set_key(Some(keys.clone()))
                .condition_expression("#e <= :now")
                .expression_attribute_names("#e", EXPIRES_AT)
                .expression_attribute_values(":now", now.clone())
                .return_values(ReturnValue::AllOld)
                .send()
                .await;
            let old = match answer {
                Ok(out) => out.attributes.unwrap_or_default(),
                // Written again since the scan: no longer expired.
                Err(SdkError::ServiceError(se)) if se.err().is_conditional_check_failed_exception() => continue,
                Err(e) => return Err(classify(e)),
            };
            if old.is_empty() {
                continue;
            }
            let (kind, project) = describe(&old);
            deleted.push(Expired {
                kind,
                project,
                keys: stream::to_image(&keys),
                old_image: stream::to_image(&old),
            });
        }
        Ok(deleted)
    }
}

/// What an item is and whose: the record it holds, or for other items the project their
/// partition is of (an execution's token fingerprints, event logs that do not read back, counters).
/// The register of a day is the day's, of no one project.
fn describe(item: &Item) -> (&'static str, Option<String>) {
    match stream::record(item).map(|(r, _)| r) {
        Some(ArchivedRecord::Execution(e)) => ("execution", Some(e.project_id)),
        Some(ArchivedRecord::Step { project_id, .. }) => ("step", Some(project_id)),
        Some(ArchivedRecord::Log(l)) => ("event log", Some(l.project_id)),
        None => ("other", owner(item)),
    }
}

fn owner(item: &Item) -> Option<String> {
    if let Some(key) = execution::unit_key_of(item) {
        return Some(key.project);
    }
    let pk = table::string_attr(item, PK)?;
    event_log::parse_log_pk(pk)
        .map(|(project, _)| project)
        .or_else(|| counter::project_of_partition(pk))
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::counts::{Dimension, Family};
    use crate::search::Fingerprints;

    #[test]
    fn items_without_records_belong_to_the_project_of_their_partition() {
        let tokens = super::super::tokens::tokens_item("p", "e", &Fingerprints::default(), 1, 0);
        assert_eq!(describe(&tokens), ("other", Some("p".to_string())));
        let at = crate::dates::parse("2026-11-01T00:00:00Z").unwrap();
        let counter = Item::from([
            (
                PK.to_string(),
                table::s(counter::partition("p", Family::Executions, Dimension::All, at)),
            ),
            (SK.to_string(), table::s("D#x#01")),
        ]);
        assert_eq!(describe(&counter), ("other", Some("p".to_string())));
        let day = Item::from([
            (
                PK.to_string(),
                table::s(super::super::project_day::day_register_key("p", "2026-11-01").0),
            ),
            (SK.to_string(), table::s("x")),
        ]);
        assert_eq!(describe(&day), ("other", None));
    }
}
