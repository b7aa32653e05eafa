//! The DynamoDB backend, for production and for tests against an emulator.
//!
//! Each operation is one DynamoDB call whose condition expression makes it atomic: create is a
//! conditional put, consume a conditional delete returning the old item, compare-and-swap a put
//! conditioned on the version. Reads are strongly consistent, and every read and condition treats
//! an item past its `expires_at` as absent, because DynamoDB's TTL sweeper deletes up to days late.
//!
//! Not for: table creation in AWS (that is `template.yaml`); the `tables` crate (`infra/tables`) creates tables
//! only on emulators and for the dev server.

use std::collections::HashMap;

use std::time::Duration;

use async_trait::async_trait;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeValue, DeleteRequest, KeysAndAttributes, ReturnValue, ReturnValuesOnConditionCheckFailure, WriteRequest,
};
use serde_json::Value;

use super::tables::{attr, index};
use super::{Backend, Consumed, Item, StoreError, StoreResult, Table};
use crate::clock::Clock;

type Attrs = HashMap<String, AttributeValue>;

/// The condition under which the item under `pk` counts as live.
const LIVE: &str = "attribute_exists(#pk) AND (attribute_not_exists(#exp) OR #exp > :now)";
/// The condition under which a create may write: no item, or only an expired one.
const VACANT: &str = "attribute_not_exists(#pk) OR #exp <= :now";

#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    prefix: String,
    clock: Clock,
}

impl DynamoStore {
    pub fn new(client: Client, prefix: impl Into<String>, clock: Clock) -> Self {
        DynamoStore {
            client,
            prefix: prefix.into(),
            clock,
        }
    }

    /// Builds an SDK client with the one TLS stack this workspace compiles (rustls on ring).
    /// `endpoint` points it at an emulator; `None` means the region's real endpoint.
    pub async fn connect(endpoint: Option<&str>, prefix: &str, clock: Clock) -> Self {
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https();
        // DynamoDB answers in milliseconds: retry quickly and give up well inside the Lambda
        // timeout, so an outage is a prompt 503, not a hung request.
        let retry = RetryConfig::standard()
            .with_initial_backoff(Duration::from_millis(25))
            .with_max_backoff(Duration::from_secs(1));
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(1))
            .operation_attempt_timeout(Duration::from_secs(2))
            .operation_timeout(Duration::from_secs(5))
            .build();
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .http_client(http)
            .retry_config(retry)
            .timeout_config(timeouts);
        if let Some(url) = endpoint {
            loader = loader.endpoint_url(url);
        }
        let conf = loader.load().await;
        DynamoStore::new(Client::new(&conf), prefix, clock)
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table_name(&self, table: Table) -> String {
        format!("{}{}", self.prefix, table.name())
    }

    fn now(&self) -> AttributeValue {
        AttributeValue::N(self.clock.now().to_string())
    }
}

fn unavailable<E, R>(e: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    StoreError::Unavailable(DisplayErrorContext(e).to_string())
}

fn key_of(key: &str) -> Attrs {
    HashMap::from([(attr::KEY.to_owned(), AttributeValue::S(key.to_owned()))])
}

fn to_attrs(item: &Item) -> StoreResult<Attrs> {
    let mut m = key_of(&item.key);
    let body = serde_json::to_string(&item.body).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    m.insert(attr::BODY.into(), AttributeValue::S(body));
    m.insert(attr::VERSION.into(), AttributeValue::N(item.version.to_string()));
    if let Some(t) = item.expires_at {
        m.insert(attr::EXPIRES_AT.into(), AttributeValue::N(t.to_string()));
    }
    for (name, value) in [
        (attr::OWNER, &item.owner),
        (attr::GRANT, &item.grant_id),
        (attr::GUARD, &item.guard),
    ] {
        if let Some(v) = value {
            m.insert(name.into(), AttributeValue::S(v.clone()));
        }
    }
    Ok(m)
}

fn from_attrs(m: &Attrs) -> StoreResult<Item> {
    let s = |name: &str| m.get(name).and_then(|v| v.as_s().ok()).cloned();
    let n = |name: &str| -> StoreResult<Option<i64>> {
        m.get(name)
            .map(|v| {
                v.as_n()
                    .ok()
                    .and_then(|n| n.parse().ok())
                    .ok_or_else(|| StoreError::Corrupt(format!("attribute {name} is not a number")))
            })
            .transpose()
    };
    let key = s(attr::KEY).ok_or_else(|| StoreError::Corrupt("item without key".into()))?;
    let body = match s(attr::BODY) {
        Some(b) => serde_json::from_str(&b).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        None => n(attr::COUNT)?.map(Value::from).unwrap_or(Value::Null),
    };
    Ok(Item {
        key,
        body,
        expires_at: n(attr::EXPIRES_AT)?,
        version: n(attr::VERSION)?.unwrap_or(1) as u64,
        owner: s(attr::OWNER),
        grant_id: s(attr::GRANT),
        guard: s(attr::GUARD),
    })
}

/// Decodes an item read from DynamoDB, treating an expired one as absent.
fn live(m: Option<&Attrs>, now: i64) -> StoreResult<Option<Item>> {
    match m {
        Some(m) if !m.is_empty() => {
            let item = from_attrs(m)?;
            Ok((!item.is_expired(now)).then_some(item))
        }
        _ => Ok(None),
    }
}

#[async_trait]
impl Backend for DynamoStore {
    fn clock(&self) -> &Clock {
        &self.clock
    }

    async fn create(&self, table: Table, item: Item) -> StoreResult<bool> {
        let out = self
            .client
            .put_item()
            .table_name(self.table_name(table))
            .set_item(Some(to_attrs(&item)?))
            .condition_expression(VACANT)
            .expression_attribute_names("#pk", attr::KEY)
            .expression_attribute_names("#exp", attr::EXPIRES_AT)
            .expression_attribute_values(":now", self.now())
            .send()
            .await;
        match out {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn get(&self, table: Table, key: &str) -> StoreResult<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(self.table_name(table))
            .set_key(Some(key_of(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        live(out.item(), self.clock.now())
    }

    async fn get_many(&self, keys: &[(Table, String)]) -> StoreResult<Vec<(Table, Item)>> {
        let mut request: HashMap<String, KeysAndAttributes> = HashMap::new();
        for (table, key) in keys {
            let entry = request.remove(&self.table_name(*table));
            let builder = match entry {
                Some(k) => KeysAndAttributes::builder().set_keys(Some(k.keys().to_vec())),
                None => KeysAndAttributes::builder(),
            };
            let built = builder
                .keys(key_of(key))
                .consistent_read(true)
                .build()
                .map_err(|e| StoreError::Unavailable(e.to_string()))?;
            request.insert(self.table_name(*table), built);
        }
        let now = self.clock.now();
        let mut found = Vec::new();
        // BatchGetItem may return part of the answer and the rest as unprocessed keys.
        while !request.is_empty() {
            let out = self
                .client
                .batch_get_item()
                .set_request_items(Some(request))
                .send()
                .await
                .map_err(unavailable)?;
            for (name, items) in out.responses().into_iter().flatten() {
                let table = keys
                    .iter()
                    .map(|(t, _)| *t)
                    .find(|t| &self.table_name(*t) == name)
                    .ok_or_else(|| StoreError::Corrupt(format!("answer from unasked table {name}")))?;
                for m in items {
                    if let Some(item) = live(Some(m), now)? {
                        found.push((table, item));
                    }
                }
            }
            request = out.unprocessed_keys().cloned().unwrap_or_default();
        }
        Ok(found)
    }

    async fn put(&self, table: Table, item: Item) -> StoreResult<()> {
        self.client
            .put_item()
            .table_name(self.table_name(table))
            .set_item(Some(to_attrs(&item)?))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn consume(&self, table: Table, key: &str, guard: Option<&str>) -> StoreResult<Consumed> {
        let mut req = self
            .client
            .delete_item()
            .table_name(self.table_name(table))
            .set_key(Some(key_of(key)))
            .return_values(ReturnValue::AllOld)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .expression_attribute_names("#pk", attr::KEY)
            .expression_attribute_names("#exp", attr::EXPIRES_AT)
            .expression_attribute_values(":now", self.now());
        req = match guard {
            Some(g) => req
                .condition_expression(format!("{LIVE} AND #guard = :guard"))
                .expression_attribute_names("#guard", attr::GUARD)
                .expression_attribute_values(":guard", AttributeValue::S(g.to_owned())),
            None => req.condition_expression(LIVE),
        };
        match req.send().await {
            Ok(out) => match live(out.attributes(), i64::MIN)? {
                Some(item) => Ok(Consumed::Taken(item)),
                None => Ok(Consumed::Absent),
            },
            Err(e) => {
                let Some(service) = e.as_service_error() else {
                    return Err(unavailable(e));
                };
                if !service.is_conditional_check_failed_exception() {
                    return Err(unavailable(e));
                }
                // The condition failed: tell "no live item" from "live item, other guard".
                let old = match service {
                    aws_sdk_dynamodb::operation::delete_item::DeleteItemError::ConditionalCheckFailedException(c) => {
                        live(c.item(), self.clock.now())?
                    }
                    _ => None,
                };
                Ok(if old.is_some() {
                    Consumed::GuardMismatch
                } else {
                    Consumed::Absent
                })
            }
        }
    }

    async fn retire(&self, table: Table, key: &str, guard: &str, tombstone: Value) -> StoreResult<Consumed> {
        let body = serde_json::to_string(&tombstone).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let out = self
            .client
            .update_item()
            .table_name(self.table_name(table))
            .set_key(Some(key_of(key)))
            .update_expression("SET #body = :body, #ver = #ver + :one")
            .condition_expression(format!("{LIVE} AND #guard = :guard"))
            .expression_attribute_names("#pk", attr::KEY)
            .expression_attribute_names("#exp", attr::EXPIRES_AT)
            .expression_attribute_names("#guard", attr::GUARD)
            .expression_attribute_names("#body", attr::BODY)
            .expression_attribute_names("#ver", attr::VERSION)
            .expression_attribute_values(":now", self.now())
            .expression_attribute_values(":guard", AttributeValue::S(guard.to_owned()))
            .expression_attribute_values(":body", AttributeValue::S(body))
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .return_values(ReturnValue::AllOld)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match out {
            Ok(out) => match live(out.attributes(), i64::MIN)? {
                Some(item) => Ok(Consumed::Taken(item)),
                None => Ok(Consumed::Absent),
            },
            Err(e) => {
                let Some(service) = e.as_service_error() else {
                    return Err(unavailable(e));
                };
                if !service.is_conditional_check_failed_exception() {
                    return Err(unavailable(e));
                }
                // The condition failed: tell "no live item" from "live item, other guard".
                let old = match service {
                    aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(c) => {
                        live(c.item(), self.clock.now())?
                    }
                    _ => None,
                };
                Ok(if old.is_some() {
                    Consumed::GuardMismatch
                } else {
                    Consumed::Absent
                })
            }
        }
    }

    async fn compare_and_swap(&self, table: Table, mut item: Item, expected: u64) -> StoreResult<bool> {
        item.version = expected + 1;
        let out = self
            .client
            .put_item()
            .table_name(self.table_name(table))
            .set_item(Some(to_attrs(&item)?))
            .condition_expression(format!("{LIVE} AND #ver = :ver"))
            .expression_attribute_names("#pk", attr::KEY)
            .expression_attribute_names("#exp", attr::EXPIRES_AT)
            .expression_attribute_names("#ver", attr::VERSION)
            .expression_attribute_values(":now", self.now())
            .expression_attribute_values(":ver", AttributeValue::N(expected.to_string()))
            .send()
            .await;
        match out {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn delete(&self, table: Table, key: &str) -> StoreResult<()> {
        self.client
            .delete_item()
            .table_name(self.table_name(table))
            .set_key(Some(key_of(key)))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn delete_by_grant(&self, table: Table, grant_id: &str) -> StoreResult<usize> {
        let name = self.table_name(table);
        let mut keys = Vec::new();
        let mut pages = self
            .client
            .query()
            .table_name(&name)
            .index_name(index::BY_GRANT)
            .key_condition_expression("#g = :g")
            .expression_attribute_names("#g", attr::GRANT)
            .expression_attribute_values(":g", AttributeValue::S(grant_id.to_owned()))
            .into_paginator()
            .items()
            .send();
        while let Some(m) = pages.next().await {
            let m = m.map_err(unavailable)?;
            if let Some(k) = m.get(attr::KEY).and_then(|v| v.as_s().ok()) {
                keys.push(k.clone());
            }
        }
        for chunk in keys.chunks(25) {
            let mut writes: Vec<WriteRequest> = chunk
                .iter()
                .map(|k| {
                    DeleteRequest::builder()
                        .set_key(Some(key_of(k)))
                        .build()
                        .map(|d| WriteRequest::builder().delete_request(d).build())
                        .map_err(|e| StoreError::Unavailable(e.to_string()))
                })
                .collect::<StoreResult<_>>()?;
            // BatchWriteItem may leave some writes unprocessed; send them again until none are.
            while !writes.is_empty() {
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&name, writes)
                    .send()
                    .await
                    .map_err(unavailable)?;
                writes = out
                    .unprocessed_items()
                    .and_then(|u| u.get(&name))
                    .cloned()
                    .unwrap_or_default();
            }
        }
        Ok(keys.len())
    }

    async fn query_by_owner(&self, table: Table, owner: &str) -> StoreResult<Vec<Item>> {
        let now = self.clock.now();
        let mut pages = self
            .client
            .query()
            .table_name(self.table_name(table))
            .index_name(index::BY_OWNER)
            .key_condition_expression("#o = :o")
            .expression_attribute_names("#o", attr::OWNER)
            .expression_attribute_values(":o", AttributeValue::S(owner.to_owned()))
            .into_paginator()
            .items()
            .send();
        let mut out = Vec::new();
        while let Some(m) = pages.next().await {
            if let Some(item) = live(Some(&m.map_err(unavailable)?), now)? {
                out.push(item);
            }
        }
        Ok(out)
    }

    async fn increment(&self, table: Table, key: &str, expires_at: i64) -> StoreResult<u64> {
        let name = self.table_name(table);
        // Two tries: a live counter is bumped in place; an expired one is replaced by a fresh one.
        // Losing the replace race to another caller means the counter is live again, so bump it.
        for _ in 0..3 {
            let bumped = self
                .client
                .update_item()
                .table_name(&name)
                .set_key(Some(key_of(key)))
                .update_expression("ADD #c :one SET #exp = if_not_exists(#exp, :exp), #ver = :ver")
                .condition_expression("attribute_not_exists(#pk) OR #exp > :now")
                .expression_attribute_names("#pk", attr::KEY)
                .expression_attribute_names("#c", attr::COUNT)
                .expression_attribute_names("#exp", attr::EXPIRES_AT)
                .expression_attribute_names("#ver", attr::VERSION)
                .expression_attribute_values(":one", AttributeValue::N("1".into()))
                .expression_attribute_values(":exp", AttributeValue::N(expires_at.to_string()))
                .expression_attribute_values(":ver", AttributeValue::N("1".into()))
                .expression_attribute_values(":now", self.now())
                .return_values(ReturnValue::UpdatedNew)
                .send()
                .await;
            match bumped {
                Ok(out) => {
                    let count = out
                        .attributes()
                        .and_then(|a| a.get(attr::COUNT))
                        .and_then(|v| v.as_n().ok())
                        .and_then(|n| n.parse().ok())
                        .ok_or_else(|| StoreError::Corrupt("counter without count".into()))?;
                    return Ok(count);
                }
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|e| e.is_conditional_check_failed_exception()) => {}
                Err(e) => return Err(unavailable(e)),
            }
            let mut fresh = key_of(key);
            fresh.insert(attr::COUNT.into(), AttributeValue::N("1".into()));
            fresh.insert(attr::EXPIRES_AT.into(), AttributeValue::N(expires_at.to_string()));
            fresh.insert(attr::VERSION.into(), AttributeValue::N("1".into()));
            let replaced = self
                .client
                .put_item()
                .table_name(&name)
                .set_item(Some(fresh))
                .condition_expression("#exp <= :now")
                .expression_attribute_names("#exp", attr::EXPIRES_AT)
                .expression_attribute_values(":now", self.now())
                .send()
                .await;
            match replaced {
                Ok(_) => return Ok(1),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|e| e.is_conditional_check_failed_exception()) => {}
                Err(e) => return Err(unavailable(e)),
            }
        }
        Err(StoreError::Unavailable(format!(
            "counter {table} kept changing under contention"
        )))
    }

    async fn scan(&self, table: Table) -> StoreResult<Vec<Item>> {
        let now = self.clock.now();
        // Strongly consistent like every other read; the paginator follows LastEvaluatedKey.
        let mut pages = self
            .client
            .scan()
            .table_name(self.table_name(table))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        let mut out = Vec::new();
        while let Some(m) = pages.next().await {
            if let Some(item) = live(Some(&m.map_err(unavailable)?), now)? {
                out.push(item);
            }
        }
        Ok(out)
    }
}
