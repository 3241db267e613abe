//! DynamoDB stream events as Lambda delivers them, and the answer that asks for records again;
//! the `archive` and `stats` functions read them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The part of a DynamoDB stream event the archive and the counters read.
#[derive(Debug, Default, Deserialize)]
pub struct StreamEvent {
    #[serde(rename = "Records", default)]
    pub records: Vec<StreamRecord>,
    /// Set when the event source mapping has a tumbling window, which is how the `stats`
    /// function learns the shard a batch comes from.
    #[serde(rename = "shardId")]
    pub shard_id: Option<String>,
    /// Each record of `records` as delivered (when parsed by `parse`), so a record a consumer cannot
    /// process is set aside whole, with fields this type does not read.
    #[serde(skip)]
    pub raw: Vec<Value>,
    /// Entries of `Records` that are not stream records at all; set aside as they came.
    #[serde(skip)]
    pub unreadable: Vec<Value>,
}

impl StreamEvent {
    /// Reads an invocation's event record by record: one malformed record must not fail, and so
    /// stall, the whole batch.
    pub fn parse(mut payload: Value) -> Result<StreamEvent, serde_json::Error> {
        let records = match payload.as_object_mut().and_then(|o| o.remove("Records")) {
            Some(Value::Array(r)) => r,
            _ => Vec::new(),
        };
        let mut event: StreamEvent = serde_json::from_value(payload)?;
        for r in records {
            match serde_json::from_value::<StreamRecord>(r.clone()) {
                Ok(typed) => {
                    event.records.push(typed);
                    event.raw.push(r);
                }
                Err(_) => event.unreadable.push(r),
            }
        }
        Ok(event)
    }

    /// A record as delivered (or as read, when the event was not built by `parse`).
    pub fn raw_record(&self, index: usize) -> Value {
        match self.raw.get(index) {
            Some(v) => v.clone(),
            None => self
                .records
                .get(index)
                .and_then(|r| serde_json::to_value(r).ok())
                .unwrap_or_default(),
        }
    }
}

#[derive(Debug, Deserialize, Serialize)]
pub struct StreamRecord {
    #[serde(rename = "eventName")]
    pub event_name: Option<String>,
    pub dynamodb: StreamData,
    #[serde(rename = "userIdentity")]
    pub user_identity: Option<Identity>,
}

#[derive(Debug, Deserialize, Serialize)]
pub struct StreamData {
    #[serde(rename = "OldImage")]
    pub old_image: Option<Value>,
    #[serde(rename = "NewImage")]
    pub new_image: Option<Value>,
    #[serde(rename = "SequenceNumber")]
    pub sequence_number: String,
}

#[derive(Debug, Deserialize, Serialize)]
pub struct Identity {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    #[serde(rename = "principalId")]
    pub principal_id: Option<String>,
}

impl StreamRecord {
    /// A deletion by DynamoDB's TTL: a REMOVE made by the service itself. The event source mapping
    /// filters on the same, so nothing else invokes the archive; this check keeps a mapping without
    /// the filter from archiving a deletion someone made by hand.
    pub fn is_ttl_deletion(&self) -> bool {
        self.event_name.as_deref() == Some("REMOVE")
            && self.user_identity.as_ref().is_some_and(|i| {
                i.kind.as_deref() == Some("Service") && i.principal_id.as_deref() == Some("dynamodb.amazonaws.com")
            })
    }
}

/// What the function answers: the records to deliver again (the stream resumes at the lowest).
#[derive(Debug, Default, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BatchResponse {
    pub batch_item_failures: Vec<ItemFailure>,
}

#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ItemFailure {
    pub item_identifier: String,
}
