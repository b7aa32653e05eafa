//! The embedded backend: one redb file on local disk, for the dev server.
//!
//! redb runs one write transaction at a time, so every operation here is atomic by construction:
//! a consume or compare-and-swap reads and writes inside a single write transaction. Calls run on
//! tokio's blocking pool because redb is synchronous.
//!
//! Not for: production. A Lambda's disk is neither shared nor durable; use DynamoDB there.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Backend, Consumed, Item, StoreError, StoreResult, Table};
use crate::clock::Clock;

/// An item as the embedded file holds it.
#[derive(Serialize, Deserialize)]
struct Stored {
    body: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<i64>,
    version: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    owner: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    grant_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    guard: Option<String>,
}

fn encode(item: &Item) -> StoreResult<Vec<u8>> {
    serde_json::to_vec(&Stored {
        body: item.body.clone(),
        expires_at: item.expires_at,
        version: item.version,
        owner: item.owner.clone(),
        grant_id: item.grant_id.clone(),
        guard: item.guard.clone(),
    })
    .map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn decode(key: &str, bytes: &[u8]) -> StoreResult<Item> {
    let s: Stored = serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(Item {
        key: key.to_owned(),
        body: s.body,
        expires_at: s.expires_at,
        version: s.version,
        owner: s.owner,
        grant_id: s.grant_id,
        guard: s.guard,
    })
}

fn def(table: Table) -> TableDefinition<'static, &'static str, &'static [u8]> {
    TableDefinition::new(table.name())
}

fn fault(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

#[derive(Clone)]
pub struct EmbeddedStore {
    db: Arc<Database>,
    clock: Clock,
}

impl EmbeddedStore {
    /// Opens (or creates) the store file, creating its parent directory and every table.
    pub fn open(path: &Path, clock: Clock) -> StoreResult<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(fault)?;
        }
        let db = Database::create(path).map_err(fault)?;
        let txn = db.begin_write().map_err(fault)?;
        for table in Table::ALL {
            txn.open_table(def(table)).map_err(fault)?;
        }
        txn.commit().map_err(fault)?;
        Ok(EmbeddedStore {
            db: Arc::new(db),
            clock,
        })
    }

    /// Runs `f` inside one write transaction on the blocking pool and commits if it returns Ok.
    async fn write<T: Send + 'static>(
        &self,
        table: Table,
        f: impl FnOnce(&mut redb::Table<&'static str, &'static [u8]>, i64) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let db = self.db.clone();
        let now = self.clock.now();
        tokio::task::spawn_blocking(move || {
            let txn = db.begin_write().map_err(fault)?;
            let out = {
                let mut t = txn.open_table(def(table)).map_err(fault)?;
                f(&mut t, now)?
            };
            txn.commit().map_err(fault)?;
            Ok(out)
        })
        .await
        .map_err(fault)?
    }

    /// Runs `f` inside one read transaction on the blocking pool.
    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&redb::ReadTransaction, i64) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let db = self.db.clone();
        let now = self.clock.now();
        tokio::task::spawn_blocking(move || {
            let txn = db.begin_read().map_err(fault)?;
            f(&txn, now)
        })
        .await
        .map_err(fault)?
    }
}

/// The live item under `key`, if any.
fn live(t: &impl ReadableTable<&'static str, &'static [u8]>, key: &str, now: i64) -> StoreResult<Option<Item>> {
    match t.get(key).map_err(fault)? {
        Some(v) => {
            let item = decode(key, v.value())?;
            Ok((!item.is_expired(now)).then_some(item))
        }
        None => Ok(None),
    }
}

#[async_trait]
impl Backend for EmbeddedStore {
    fn clock(&self) -> &Clock {
        &self.clock
    }

    async fn create(&self, table: Table, item: Item) -> StoreResult<bool> {
        self.write(table, move |t, now| {
            if live(t, &item.key, now)?.is_some() {
                return Ok(false);
            }
            t.insert(item.key.as_str(), encode(&item)?.as_slice()).map_err(fault)?;
            Ok(true)
        })
        .await
    }

    async fn get(&self, table: Table, key: &str) -> StoreResult<Option<Item>> {
        let key = key.to_owned();
        self.read(move |txn, now| live(&txn.open_table(def(table)).map_err(fault)?, &key, now))
            .await
    }

    async fn get_many(&self, keys: &[(Table, String)]) -> StoreResult<Vec<(Table, Item)>> {
        let keys = keys.to_vec();
        self.read(move |txn, now| {
            let mut out = Vec::new();
            for (table, key) in keys {
                if let Some(item) = live(&txn.open_table(def(table)).map_err(fault)?, &key, now)? {
                    out.push((table, item));
                }
            }
            Ok(out)
        })
        .await
    }

    async fn put(&self, table: Table, item: Item) -> StoreResult<()> {
        self.write(table, move |t, _| {
            t.insert(item.key.as_str(), encode(&item)?.as_slice()).map_err(fault)?;
            Ok(())
        })
        .await
    }

    async fn consume(&self, table: Table, key: &str, guard: Option<&str>) -> StoreResult<Consumed> {
        let key = key.to_owned();
        let guard = guard.map(str::to_owned);
        self.write(table, move |t, now| {
            let Some(item) = live(t, &key, now)? else {
                return Ok(Consumed::Absent);
            };
            if guard.is_some() && item.guard != guard {
                return Ok(Consumed::GuardMismatch);
            }
            t.remove(key.as_str()).map_err(fault)?;
            Ok(Consumed::Taken(item))
        })
        .await
    }

    async fn retire(&self, table: Table, key: &str, guard: &str, tombstone: Value) -> StoreResult<Consumed> {
        let key = key.to_owned();
        let guard = guard.to_owned();
        self.write(table, move |t, now| {
            let Some(item) = live(t, &key, now)? else {
                return Ok(Consumed::Absent);
            };
            if item.guard.as_deref() != Some(guard.as_str()) {
                return Ok(Consumed::GuardMismatch);
            }
            let retired = Item {
                body: tombstone,
                version: item.version + 1,
                ..item.clone()
            };
            t.insert(key.as_str(), encode(&retired)?.as_slice()).map_err(fault)?;
            Ok(Consumed::Taken(item))
        })
        .await
    }

    async fn compare_and_swap(&self, table: Table, mut item: Item, expected: u64) -> StoreResult<bool> {
        self.write(table, move |t, now| match live(t, &item.key, now)? {
            Some(current) if current.version == expected => {
                item.version = expected + 1;
                t.insert(item.key.as_str(), encode(&item)?.as_slice()).map_err(fault)?;
                Ok(true)
            }
            _ => Ok(false),
        })
        .await
    }

    async fn delete(&self, table: Table, key: &str) -> StoreResult<()> {
        let key = key.to_owned();
        self.write(table, move |t, _| {
            t.remove(key.as_str()).map_err(fault)?;
            Ok(())
        })
        .await
    }

    async fn delete_by_grant(&self, table: Table, grant_id: &str) -> StoreResult<usize> {
        let grant_id = grant_id.to_owned();
        self.write(table, move |t, _| {
            // A scan: local stores are small, and a second index table is not worth its upkeep here.
            let mut doomed = Vec::new();
            for entry in t.iter().map_err(fault)? {
                let (k, v) = entry.map_err(fault)?;
                let item = decode(k.value(), v.value())?;
                if item.grant_id.as_deref() == Some(grant_id.as_str()) {
                    doomed.push(item.key);
                }
            }
            for key in &doomed {
                t.remove(key.as_str()).map_err(fault)?;
            }
            Ok(doomed.len())
        })
        .await
    }

    async fn query_by_owner(&self, table: Table, owner: &str) -> StoreResult<Vec<Item>> {
        let owner = owner.to_owned();
        self.read(move |txn, now| {
            let t = txn.open_table(def(table)).map_err(fault)?;
            let mut out = Vec::new();
            for entry in t.iter().map_err(fault)? {
                let (k, v) = entry.map_err(fault)?;
                let item = decode(k.value(), v.value())?;
                if item.owner.as_deref() == Some(owner.as_str()) && !item.is_expired(now) {
                    out.push(item);
                }
            }
            Ok(out)
        })
        .await
    }

    async fn increment(&self, table: Table, key: &str, expires_at: i64) -> StoreResult<u64> {
        let key = key.to_owned();
        self.write(table, move |t, now| {
            let mut item = live(t, &key, now)?.unwrap_or_else(|| {
                let mut fresh = Item::new(key.clone(), Value::from(0u64));
                fresh.expires_at = Some(expires_at);
                fresh
            });
            let count = item.body.as_u64().unwrap_or(0) + 1;
            item.body = Value::from(count);
            t.insert(key.as_str(), encode(&item)?.as_slice()).map_err(fault)?;
            Ok(count)
        })
        .await
    }

    async fn scan(&self, table: Table) -> StoreResult<Vec<Item>> {
        self.read(move |txn, now| {
            let t = txn.open_table(def(table)).map_err(fault)?;
            let mut out = Vec::new();
            for entry in t.iter().map_err(fault)? {
                let (k, v) = entry.map_err(fault)?;
                let item = decode(k.value(), v.value())?;
                if !item.is_expired(now) {
                    out.push(item);
                }
            }
            Ok(out)
        })
        .await
    }
}
