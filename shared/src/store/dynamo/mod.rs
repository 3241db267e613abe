//! The DynamoDB and S3 backend.

use super::backend::*;
use super::table;
use super::table::{Item, PK, SK, VERSION};
use super::StoreError;
use crate::retry;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::operation::transact_write_items::builders::TransactWriteItemsFluentBuilder;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConsumedCapacity, KeysAndAttributes, Put, ReturnConsumedCapacity,
    ReturnValuesOnConditionCheckFailure, Select, TransactWriteItem, Update,
};
use aws_sdk_s3::presigning::PresigningConfig;
use std::collections::HashMap;
use std::time::Duration;

mod errors;

pub use errors::classify;
use errors::s3_error;

/// Real DynamoDB answers at most 100 keys per BatchGetItem.
pub const BATCH_GET_MAX: usize = 100;

#[derive(Clone, Debug)]
pub struct Dynamo {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub s3: aws_sdk_s3::Client,
    pub table: String,
    pub bucket: String,
    pub presign_ttl: Duration,
}

impl Dynamo {
    pub fn new(clients: &crate::aws::Clients, settings: &crate::config::Settings) -> Self {
        Dynamo {
            dynamodb: clients.dynamodb.clone(),
            s3: clients.s3.clone(),
            table: settings.table_name.clone(),
            bucket: settings.bucket_name.clone(),
            presign_ttl: Duration::from_secs(settings.presign_ttl_seconds),
        }
    }
}

impl super::DynamoStore {
    pub fn dynamo(clients: &crate::aws::Clients, settings: &crate::config::Settings) -> Self {
        super::Ledger::new(
            Dynamo::new(clients, settings),
            super::StoreConfig::from_settings(settings),
        )
    }
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

/// Passes the capacity DynamoDB reports on to the request's metrics (make bench prints it beside
/// the units the store computes from item sizes).
fn note(consumed: Option<&ConsumedCapacity>) {
    crate::metrics::note_consumed(consumed.and_then(|c| c.capacity_units));
}

async fn transact(req: TransactWriteItemsFluentBuilder) -> Result<(), StoreError> {
    let out = req
        .return_consumed_capacity(ReturnConsumedCapacity::Total)
        .send()
        .await
        .map_err(classify)?;
    out.consumed_capacity.iter().flatten().for_each(|c| note(Some(c)));
    Ok(())
}

fn key(pk: &str, sk: &str) -> Item {
    HashMap::from([(PK.to_string(), s(pk)), (SK.to_string(), s(sk))])
}

impl Dynamo {
    fn index_query(&self, q: &IndexQuery) -> QueryFluentBuilder {
        let mut req = self
            .dynamodb
            .query()
            .table_name(&self.table)
            .set_index_name(q.index.index_name().map(str::to_string))
            .key_condition_expression("#p = :p AND #l BETWEEN :from AND :to")
            .expression_attribute_names("#p", q.index.key_attribute())
            .expression_attribute_names("#l", q.index.sort_attribute())
            .expression_attribute_values(":p", s(&q.partition))
            .expression_attribute_values(":from", s(&q.from))
            .expression_attribute_values(":to", s(&q.to))
            .scan_index_forward(q.ascending)
            .limit(q.limit.max(1) as i32)
            .set_exclusive_start_key(q.start.clone())
            .return_consumed_capacity(ReturnConsumedCapacity::Total);
        let mut clauses = Vec::new();
        for (i, (attribute, values)) in q.filters.iter().enumerate() {
            req = req.expression_attribute_names(format!("#f{i}"), *attribute);
            let mut placeholders = Vec::new();
            for (j, v) in values.iter().enumerate() {
                let ph = format!(":f{i}_{j}");
                req = req.expression_attribute_values(&ph, s(v));
                placeholders.push(ph);
            }
            clauses.push(format!("#f{i} IN ({})", placeholders.join(", ")));
        }
        if !clauses.is_empty() {
            req = req.filter_expression(clauses.join(" AND "));
        }
        req
    }
}

impl Backend for Dynamo {
    async fn query_index(&self, q: &IndexQuery) -> Result<IndexPage, StoreError> {
        let out = self.index_query(q).send().await.map_err(classify)?;
        note(out.consumed_capacity.as_ref());
        Ok(IndexPage {
            items: out.items.unwrap_or_default(),
            last: out.last_evaluated_key,
            scanned: out.scanned_count.max(0) as u64,
        })
    }

    async fn count_index(&self, q: &IndexQuery) -> Result<(u64, IndexPage), StoreError> {
        let out = self
            .index_query(q)
            .select(Select::Count)
            .send()
            .await
            .map_err(classify)?;
        note(out.consumed_capacity.as_ref());
        Ok((
            out.count.max(0) as u64,
            IndexPage {
                items: Vec::new(),
                last: out.last_evaluated_key,
                scanned: out.scanned_count.max(0) as u64,
            },
        ))
    }

    async fn query_collection(&self, q: &CollectionQuery) -> Result<(Vec<Item>, bool), StoreError> {
        let out = self
            .dynamodb
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND #sk BETWEEN :from AND :to")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", s(&q.pk))
            .expression_attribute_values(":from", s(&q.from))
            .expression_attribute_values(":to", s(&q.to))
            .limit(q.limit.max(1) as i32)
            .consistent_read(q.consistent)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(classify)?;
        note(out.consumed_capacity.as_ref());
        let more = out.last_evaluated_key.is_some_and(|k| !k.is_empty());
        Ok((out.items.unwrap_or_default(), more))
    }

    async fn get_item(&self, pk: &str, sk: &str, consistent: bool) -> Result<Option<Item>, StoreError> {
        let out = self
            .dynamodb
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .consistent_read(consistent)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(classify)?;
        note(out.consumed_capacity.as_ref());
        Ok(out.item)
    }

    async fn batch_get(&self, wanted: &[(String, String)], consistent: bool) -> Result<Vec<Item>, StoreError> {
        let mut found = Vec::new();
        for chunk in wanted.chunks(BATCH_GET_MAX) {
            let mut keys_to_read: Vec<Item> = chunk.iter().map(|(pk, sk)| key(pk, sk)).collect();
            let mut attempt = 0;
            // Real DynamoDB may leave keys unprocessed under load; ask again for exactly those.
            while !keys_to_read.is_empty() {
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(keys_to_read))
                    .consistent_read(consistent)
                    .build()
                    .map_err(|e| StoreError::Permanent(e.to_string()))?;
                let out = self
                    .dynamodb
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .return_consumed_capacity(ReturnConsumedCapacity::Total)
                    .send()
                    .await
                    .map_err(classify)?;
                out.consumed_capacity.iter().flatten().for_each(|c| note(Some(c)));
                if let Some(mut r) = out.responses {
                    found.extend(r.remove(&self.table).unwrap_or_default());
                }
                keys_to_read = out
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(&self.table))
                    .map(|k| k.keys)
                    .unwrap_or_default();
                if !keys_to_read.is_empty() {
                    if attempt >= retry::MAX_ATTEMPTS {
                        return Err(StoreError::Transient("unprocessed keys after retries".into()));
                    }
                    retry::sleep(attempt).await;
                    attempt += 1;
                }
            }
        }
        Ok(found)
    }

    async fn guarded_put(&self, put: &GuardedPut) -> Result<(), StoreError> {
        let mut req = self
            .dynamodb
            .put_item()
            .table_name(&self.table)
            .set_item(Some(put.item.clone()));
        req = match put.expected_version {
            None => req
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", PK),
            Some(v) => req
                .condition_expression("#v = :v")
                .expression_attribute_names("#v", VERSION)
                .expression_attribute_values(":v", AttributeValue::N(v.to_string())),
        };
        // The item that failed the condition comes back with the error, at no extra cost: it may
        // be this put's own, written by an attempt whose answer was lost.
        req = req
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .return_consumed_capacity(ReturnConsumedCapacity::Total);
        match req.send().await {
            Ok(out) => {
                note(out.consumed_capacity.as_ref());
                Ok(())
            }
            Err(SdkError::ServiceError(se)) if se.err().is_conditional_check_failed_exception() => {
                let landed = match se.err() {
                    PutItemError::ConditionalCheckFailedException(e) => e.item().is_some_and(|it| put.landed(it)),
                    _ => false,
                };
                if landed {
                    Ok(())
                } else {
                    Err(StoreError::Conflict)
                }
            }
            Err(e) => Err(classify(e)),
        }
    }

    async fn put_plain(&self, item: &Item) -> Result<(), StoreError> {
        self.dynamodb
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item.clone()))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map(|out| note(out.consumed_capacity.as_ref()))
            .map_err(classify)
    }

    async fn put_all_new(&self, items_to_put: &[Item]) -> Result<(), StoreError> {
        let mut req = self.dynamodb.transact_write_items();
        for item in items_to_put {
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(item.clone()))
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", PK)
                .build()
                .map_err(|e| StoreError::Permanent(e.to_string()))?;
            req = req.transact_items(TransactWriteItem::builder().put(put).build());
        }
        transact(req).await
    }

    async fn set_once(&self, keys: &[(String, String)], attribute: &'static str, value: i64) -> Result<(), StoreError> {
        let mut req = self.dynamodb.transact_write_items();
        for (pk, sk) in keys {
            let update = Update::builder()
                .table_name(&self.table)
                .set_key(Some(key(pk, sk)))
                .update_expression("SET #a = if_not_exists(#a, :v)")
                .condition_expression("attribute_exists(#pk)")
                .expression_attribute_names("#a", attribute)
                .expression_attribute_names("#pk", PK)
                .expression_attribute_values(":v", AttributeValue::N(value.to_string()))
                .build()
                .map_err(|e| StoreError::Permanent(e.to_string()))?;
            req = req.transact_items(TransactWriteItem::builder().update(update).build());
        }
        transact(req).await
    }

    async fn add_to_counter(&self, u: &CounterUpdate) -> Result<Item, StoreError> {
        // Placeholders for every name: counter attribute names are generated, and short ones keep
        // a batch's expression well under DynamoDB's 4 KB.
        let mut req = self
            .dynamodb
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(&u.pk, &u.sk)))
            .expression_attribute_names("#x", table::EXPIRES_AT)
            .expression_attribute_values(":x", AttributeValue::N(u.expires_at.to_string()))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .return_consumed_capacity(ReturnConsumedCapacity::Total);
        // No mark: an addition not guarded by a stream position (ingest's count of its writes).
        let mut expr = String::from("SET #x = :x");
        let mut conditions = Vec::new();
        if !u.mark.is_empty() {
            req = req
                .expression_attribute_names("#w", &u.mark)
                .expression_attribute_values(":first", s(&u.first))
                .expression_attribute_values(":last", s(&u.last));
            conditions.push("(attribute_not_exists(#w) OR #w < :first)".to_string());
            expr.push_str(", #w = :last");
        }
        let mut adds = Vec::with_capacity(u.adds.len());
        for (i, (name, v)) in u.adds.iter().enumerate() {
            adds.push(format!("#a{i} :a{i}"));
            req = req
                .expression_attribute_names(format!("#a{i}"), name)
                .expression_attribute_values(format!(":a{i}"), AttributeValue::N(v.to_string()));
        }
        if !adds.is_empty() {
            expr.push_str(" ADD ");
            expr.push_str(&adds.join(", "));
        }
        // Expired marks go only while they hold what was read: a shard that wrote one again since
        // is back, and its mark must stay.
        let mut removes = Vec::with_capacity(u.prune.len());
        for (i, (name, value)) in u.prune.iter().enumerate() {
            removes.push(format!("#p{i}"));
            conditions.push(format!("#p{i} = :p{i}"));
            req = req
                .expression_attribute_names(format!("#p{i}"), name)
                .expression_attribute_values(format!(":p{i}"), s(value));
        }
        if !removes.is_empty() {
            expr.push_str(" REMOVE ");
            expr.push_str(&removes.join(", "));
        }
        if !conditions.is_empty() {
            req = req.condition_expression(conditions.join(" AND "));
        }
        match req.update_expression(expr).send().await {
            Ok(out) => {
                note(out.consumed_capacity.as_ref());
                Ok(out.attributes.unwrap_or_default())
            }
            Err(SdkError::ServiceError(se)) if se.err().is_conditional_check_failed_exception() => {
                Err(StoreError::Conflict)
            }
            Err(e) => Err(classify(e)),
        }
    }

    async fn query_prefix(&self, pk: &str, prefix: &str) -> Result<Vec<Item>, StoreError> {
        self.dynamodb
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":prefix", s(prefix))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(classify)
    }

    async fn set_later(&self, u: &LaterUpdate) -> Result<bool, StoreError> {
        let mut expr = String::from("SET #a = :v");
        let mut req = self
            .dynamodb
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(&u.pk, &u.sk)))
            .expression_attribute_names("#a", u.attribute)
            .expression_attribute_values(":v", AttributeValue::N(u.value.to_string()))
            .return_consumed_capacity(ReturnConsumedCapacity::Total);
        for (i, (name, value)) in u.also.iter().enumerate() {
            expr.push_str(&format!(", #o{i} = :o{i}"));
            req = req
                .expression_attribute_names(format!("#o{i}"), *name)
                .expression_attribute_values(format!(":o{i}"), value.clone());
        }
        let mut condition = String::from("(attribute_not_exists(#a) OR #a < :v)");
        if !u.create {
            condition.push_str(" AND attribute_exists(#pk)");
            req = req.expression_attribute_names("#pk", PK);
        }
        match req.update_expression(expr).condition_expression(condition).send().await {
            Ok(out) => {
                note(out.consumed_capacity.as_ref());
                Ok(true)
            }
            // Also what a retry finds when the answer to an update that landed was lost.
            Err(SdkError::ServiceError(se)) if se.err().is_conditional_check_failed_exception() => Ok(false),
            Err(e) => Err(classify(e)),
        }
    }

    async fn put_object(&self, key: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(crate::bodies::CONTENT_TYPE)
            .body(bytes.into())
            .send()
            .await
            .map(|_| ())
            .map_err(s3_error)
    }

    async fn read_object(&self, key: &str) -> Result<ObjectRead, StoreError> {
        let out = match self.s3.get_object().bucket(&self.bucket).key(key).send().await {
            Ok(out) => out,
            Err(SdkError::ServiceError(se)) if se.err().is_no_such_key() => return Ok(ObjectRead::NoSuchKey),
            // What S3 answers for a missing key when the caller may not list the bucket. Only
            // this code: a 403 for expired or wrong credentials is a failure, not an absence.
            Err(SdkError::ServiceError(se))
                if se.raw().status().as_u16() == 403 && se.err().code() == Some("AccessDenied") =>
            {
                return Ok(ObjectRead::AccessDenied)
            }
            Err(e) => return Err(s3_error(e)),
        };
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| StoreError::Transient(format!("s3 body: {e}")))?;
        Ok(ObjectRead::Found(bytes.into_bytes().to_vec()))
    }

    async fn list_objects(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut pages = self
            .s3
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        let mut keys = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(s3_error)?;
            keys.extend(page.contents().iter().filter_map(|o| o.key().map(str::to_string)));
        }
        keys.sort();
        Ok(keys)
    }

    async fn delete_object(&self, key: &str) -> Result<(), StoreError> {
        self.s3
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map(|_| ())
            .map_err(s3_error)
    }

    async fn presign(&self, key: &str) -> Result<String, StoreError> {
        let config =
            PresigningConfig::expires_in(self.presign_ttl).map_err(|e| StoreError::Permanent(e.to_string()))?;
        let req = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(config)
            .await
            .map_err(|e| StoreError::Permanent(format!("presign: {e}")))?;
        Ok(req.uri().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Write};

    /// An S3 endpoint that answers every request with `status` and an S3 error document of `code`.
    fn s3_answering(status: &'static str, code: &'static str) -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(stream);
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                    line.clear();
                }
                let body = format!("<?xml version=\"1.0\"?><Error><Code>{code}</Code><Message>m</Message></Error>");
                let _ = write!(
                    reader.get_mut(),
                    "HTTP/1.1 {status}\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        url
    }

    fn backend(url: &str) -> Dynamo {
        use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
        let s3 = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("k", "s", None, None, "test"))
            .endpoint_url(url)
            .force_path_style(true)
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
            .build();
        let dynamodb = aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
            .build();
        Dynamo {
            dynamodb: aws_sdk_dynamodb::Client::from_conf(dynamodb),
            s3: aws_sdk_s3::Client::from_conf(s3),
            table: "t".into(),
            bucket: "b".into(),
            presign_ttl: Duration::from_secs(60),
        }
    }

    #[tokio::test]
    async fn a_body_read_tells_missing_and_denied_apart_from_failures() {
        let read = |status, code| async move { backend(&s3_answering(status, code)).read_object("bodies/p/e/x").await };
        assert_eq!(read("404 Not Found", "NoSuchKey").await.unwrap(), ObjectRead::NoSuchKey);
        assert_eq!(
            read("403 Forbidden", "AccessDenied").await.unwrap(),
            ObjectRead::AccessDenied,
            "S3's answer for a missing key without s3:ListBucket"
        );
        assert!(
            matches!(
                read("403 Forbidden", "ExpiredToken").await,
                Err(StoreError::Permanent(_))
            ),
            "bad credentials are a failure, never an absence"
        );
        assert!(matches!(
            read("503 Service Unavailable", "SlowDown").await,
            Err(StoreError::Transient(_))
        ));
        // The old reading keeps its meaning for the other callers: a denial is an error there.
        let denied = backend(&s3_answering("403 Forbidden", "AccessDenied"))
            .get_object("k")
            .await;
        assert!(matches!(denied, Err(StoreError::Permanent(_))), "{denied:?}");
    }
}
