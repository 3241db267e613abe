//! The DynamoDB and S3 adapter behind the store ports.

use super::*;
use crate::keys;
use crate::retry;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{KeysAndAttributes, PutRequest, Select, WriteRequest};
use aws_sdk_s3::presigning::PresigningConfig;
use std::time::Duration;

/// Real DynamoDB answers at most 100 keys per BatchGetItem.
pub const BATCH_GET_MAX: usize = 100;
/// Real DynamoDB takes at most 25 puts per BatchWriteItem (the emulator takes more; we do not).
pub const BATCH_WRITE_MAX: usize = 25;

#[derive(Clone, Debug)]
pub struct Store {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub s3: aws_sdk_s3::Client,
    pub table: String,
    pub bucket: String,
    pub presign_ttl: Duration,
}

impl Store {
    pub fn new(clients: &crate::aws::Clients, settings: &crate::config::Settings) -> Self {
        Store {
            dynamodb: clients.dynamodb.clone(),
            s3: clients.s3.clone(),
            table: settings.table_name.clone(),
            bucket: settings.bucket_name.clone(),
            presign_ttl: Duration::from_secs(settings.presign_ttl_seconds),
        }
    }
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

const THROTTLING_CODES: [&str; 3] = [
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
];

const RETRYABLE_CODES: [&str; 4] = [
    "InternalServerError",
    "InternalFailure",
    "ServiceUnavailable",
    "TransactionInProgressException",
];

/// Sorts SDK failures into retryable and permanent ones.
pub fn classify<E: ProvideErrorMetadata + std::fmt::Debug, R: std::fmt::Debug>(err: SdkError<E, R>) -> StoreError {
    match &err {
        SdkError::ServiceError(se) => {
            let code = se.err().code().unwrap_or("Unknown").to_string();
            if THROTTLING_CODES.contains(&code.as_str()) {
                StoreError::Throttled(code)
            } else if RETRYABLE_CODES.contains(&code.as_str()) {
                StoreError::Transient(code)
            } else {
                StoreError::Permanent(format!("{code}: {}", se.err().message().unwrap_or("")))
            }
        }
        SdkError::ConstructionFailure(_) => StoreError::Permanent(format!("{err:?}")),
        _ => StoreError::Transient(format!("{err}")),
    }
}

impl Store {
    fn partition_query(&self, q: &PartitionQuery) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        let mut req = self
            .dynamodb
            .query()
            .table_name(&self.table)
            .index_name(q.index.index_name())
            .key_condition_expression("#p = :p AND #l BETWEEN :from AND :to")
            .expression_attribute_names("#p", q.index.key_attribute())
            .expression_attribute_names("#l", keys::LSK)
            .expression_attribute_values(":p", s(&q.partition))
            .expression_attribute_values(":from", s(&q.from))
            .expression_attribute_values(":to", s(&q.to))
            .scan_index_forward(q.ascending)
            .set_exclusive_start_key(q.start.clone());
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

impl ListingReads for Store {
    async fn query_partition(&self, q: &PartitionQuery) -> Result<PartitionPage, StoreError> {
        let out = self.partition_query(q).limit(q.limit).send().await.map_err(classify)?;
        Ok(PartitionPage {
            items: out.items.unwrap_or_default(),
            next: out.last_evaluated_key,
        })
    }

    async fn count_partition(&self, q: &PartitionQuery) -> Result<u64, StoreError> {
        let pages = self
            .partition_query(q)
            .select(Select::Count)
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(classify)?;
        Ok(pages.iter().map(|page| page.count as u64).sum())
    }
}

impl CollectionReads for Store {
    async fn execution_collection(&self, project: &str, execution_id: &str) -> Result<Vec<Item>, StoreError> {
        self.dynamodb
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND #sk < :stop")
            .expression_attribute_names("#pk", keys::PK)
            .expression_attribute_names("#sk", keys::SK)
            .expression_attribute_values(":pk", s(keys::execution_pk(project, execution_id)))
            .expression_attribute_values(":stop", s(keys::STEP_BODIES_START))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(classify)
    }

    async fn step_items(&self, project: &str, execution_id: &str, step_id: &str) -> Result<Vec<Item>, StoreError> {
        let pk = keys::execution_pk(project, execution_id);
        let summary = self
            .dynamodb
            .get_item()
            .table_name(&self.table)
            .key(keys::PK, s(&pk))
            .key(keys::SK, s(keys::step_sk(step_id)))
            .send();
        let bodies = self
            .dynamodb
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .expression_attribute_names("#pk", keys::PK)
            .expression_attribute_names("#sk", keys::SK)
            .expression_attribute_values(":pk", s(&pk))
            .expression_attribute_values(":prefix", s(keys::step_bodies_prefix(step_id)))
            .send();
        let (summary, bodies) = futures::future::join(summary, bodies).await;
        let mut items: Vec<Item> = summary.map_err(classify)?.item.into_iter().collect();
        items.extend(bodies.map_err(classify)?.items.unwrap_or_default());
        Ok(items)
    }
}

impl KeyReads for Store {
    async fn api_key(&self, key_id: &str) -> Result<Option<Item>, StoreError> {
        let out = self
            .dynamodb
            .get_item()
            .table_name(&self.table)
            .key(keys::PK, s(keys::api_key_pk(key_id)))
            .key(keys::SK, s(keys::API_KEY_SK))
            .send()
            .await
            .map_err(classify)?;
        Ok(out.item)
    }
}

impl BodyLinks for Store {
    async fn presign(&self, object_key: &str) -> Result<String, StoreError> {
        let config =
            PresigningConfig::expires_in(self.presign_ttl).map_err(|e| StoreError::Permanent(e.to_string()))?;
        let req = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(object_key)
            .presigned(config)
            .await
            .map_err(|e| StoreError::Permanent(format!("presign: {e}")))?;
        Ok(req.uri().to_string())
    }
}

impl IngestWrites for Store {
    async fn batch_get(&self, wanted: &[(String, String)]) -> Result<Vec<Item>, StoreError> {
        let mut found = Vec::new();
        for chunk in wanted.chunks(BATCH_GET_MAX) {
            let mut keys_to_read: Vec<Item> = chunk
                .iter()
                .map(|(pk, sk)| HashMap::from([(keys::PK.to_string(), s(pk)), (keys::SK.to_string(), s(sk))]))
                .collect();
            let mut attempt = 0;
            // Real DynamoDB may leave keys unprocessed under load; ask again for exactly those.
            while !keys_to_read.is_empty() {
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(keys_to_read))
                    .build()
                    .map_err(|e| StoreError::Permanent(e.to_string()))?;
                let out = self
                    .dynamodb
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(classify)?;
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

    async fn batch_put(&self, items: &[Item]) -> Result<(), StoreError> {
        for chunk in items.chunks(BATCH_WRITE_MAX) {
            let mut requests: Vec<WriteRequest> = Vec::with_capacity(chunk.len());
            for item in chunk {
                let put = PutRequest::builder()
                    .set_item(Some(item.clone()))
                    .build()
                    .map_err(|e| StoreError::Permanent(e.to_string()))?;
                requests.push(WriteRequest::builder().put_request(put).build());
            }
            let mut attempt = 0;
            // Real DynamoDB may leave items unprocessed under load; send exactly those again.
            while !requests.is_empty() {
                let out = self
                    .dynamodb
                    .batch_write_item()
                    .request_items(&self.table, requests)
                    .send()
                    .await
                    .map_err(classify)?;
                requests = out
                    .unprocessed_items
                    .and_then(|mut u| u.remove(&self.table))
                    .unwrap_or_default();
                if !requests.is_empty() {
                    if attempt >= retry::MAX_ATTEMPTS {
                        return Err(StoreError::Transient("unprocessed items after retries".into()));
                    }
                    retry::sleep(attempt).await;
                    attempt += 1;
                }
            }
        }
        Ok(())
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
                .expression_attribute_names("#pk", keys::PK),
            Some(v) => req
                .condition_expression("#v = :v")
                .expression_attribute_names("#v", keys::VERSION)
                .expression_attribute_values(":v", AttributeValue::N(v.to_string())),
        };
        match req.send().await {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(se)) if se.err().is_conditional_check_failed_exception() => {
                Err(StoreError::Conflict)
            }
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
            .map_err(|e| match e {
                SdkError::ServiceError(se) if se.raw().status().as_u16() < 500 && se.raw().status().as_u16() != 429 => {
                    StoreError::Permanent(format!("s3: {}", se.err()))
                }
                other => StoreError::Transient(format!("s3: {other}")),
            })
    }
}
