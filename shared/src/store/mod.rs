//! Storage: one interface, two backends.
//!
//! Every record lives in one of the [`Table`]s as an [`Item`]: a string key, a JSON body, and the
//! few attributes the backends must understand themselves (expiry, version, owner, grant, guard).
//! The operations are the atomic ones OAuth needs; no caller does read-then-write where a race
//! matters. [`Store`] wraps a backend and counts calls, so benchmarks and tests can hold a flow to
//! its store-call budget.
//!
//! Not for: typed records and their rules; those live with the feature that owns them
//! (`clients`, `accounts`, `tokens`, …) and go through [`typed`].

pub mod dynamo;
#[cfg(feature = "embedded")]
pub mod embedded;
pub mod tables;
pub mod typed;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use serde_json::Value;

pub use tables::Table;

use crate::clock::Clock;

/// One stored record.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// The partition key, unique within a table.
    pub key: String,
    /// The record itself.
    pub body: Value,
    /// Epoch seconds after which the item is treated as absent (the table's TTL attribute).
    pub expires_at: Option<i64>,
    /// Bumped by every successful [`Backend::compare_and_swap`]; starts at 1.
    pub version: u64,
    /// Who the record belongs to, for [`Backend::query_by_owner`].
    pub owner: Option<String>,
    /// The grant the record belongs to, for [`Backend::delete_by_grant`].
    pub grant_id: Option<String>,
    /// A binding that [`Backend::consume`] can require to match before it deletes.
    pub guard: Option<String>,
}

impl Item {
    pub fn new(key: impl Into<String>, body: Value) -> Self {
        Item {
            key: key.into(),
            body,
            expires_at: None,
            version: 1,
            owner: None,
            grant_id: None,
            guard: None,
        }
    }

    /// True when the item has expired at `now` (epoch seconds) and must read as absent.
    pub fn is_expired(&self, now: i64) -> bool {
        self.expires_at.is_some_and(|t| t <= now)
    }
}

/// What [`Backend::consume`] found.
#[derive(Debug, Clone, PartialEq)]
pub enum Consumed {
    /// This caller deleted the item and holds its last copy.
    Taken(Item),
    /// No live item under that key (never existed, already consumed, or expired).
    Absent,
    /// The item exists but its guard differs; it was left in place.
    GuardMismatch,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend could not be reached or answered with a fault. Answered as 503.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A stored item could not be decoded: a bug or foreign data, never user input.
    #[error("stored item is corrupt: {0}")]
    Corrupt(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The operations OAuth needs, each atomic on every backend.
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// The clock this backend judges expiry by.
    fn clock(&self) -> &Clock;
    /// Writes `item` only if no live item has its key. Returns false if one does.
    async fn create(&self, table: Table, item: Item) -> StoreResult<bool>;
    /// Reads a live item.
    async fn get(&self, table: Table, key: &str) -> StoreResult<Option<Item>>;
    /// Reads several live items across tables in one round trip. Absent keys are skipped.
    async fn get_many(&self, keys: &[(Table, String)]) -> StoreResult<Vec<(Table, Item)>>;
    /// Writes `item` unconditionally, replacing any item with its key.
    async fn put(&self, table: Table, item: Item) -> StoreResult<()>;
    /// Deletes a live item and returns it; exactly one of any number of concurrent callers wins.
    /// With `guard`, the item is deleted only if its guard equals it.
    async fn consume(&self, table: Table, key: &str, guard: Option<&str>) -> StoreResult<Consumed>;
    /// Like `consume` with a guard, but the item stays until it expires as a tombstone: its body is
    /// replaced by `tombstone`, its key, guard, expiry and other attributes kept, its version
    /// bumped. Returns the item as it was. Of concurrent callers exactly one gets the original
    /// body; the others get `Taken` with the tombstone's, so the binding outlives its first use.
    async fn retire(&self, table: Table, key: &str, guard: &str, tombstone: Value) -> StoreResult<Consumed>;
    /// Replaces a live item whose version is `expected`; `item.version` is ignored and the stored
    /// version becomes `expected + 1`. Returns false if the version moved or the item is gone.
    async fn compare_and_swap(&self, table: Table, item: Item, expected: u64) -> StoreResult<bool>;
    /// Deletes an item if present (expired or not).
    async fn delete(&self, table: Table, key: &str) -> StoreResult<()>;
    /// Deletes every item of the table that belongs to the grant. Returns how many.
    async fn delete_by_grant(&self, table: Table, grant_id: &str) -> StoreResult<usize>;
    /// Every live item of the table whose owner is `owner`.
    async fn query_by_owner(&self, table: Table, owner: &str) -> StoreResult<Vec<Item>>;
    /// Adds one to a counter and returns the new count. A counter lives until `expires_at`, after
    /// which it starts again from zero.
    async fn increment(&self, table: Table, key: &str, expires_at: i64) -> StoreResult<u64>;
    /// Every live item of the table, reading it page by page until the end.
    ///
    /// For operators' tools only (`infra/admin`), never a request path: its cost grows with the
    /// table, and no Lambda function's policy allows it.
    async fn scan(&self, table: Table) -> StoreResult<Vec<Item>>;
}

/// A kind of store operation, for recording which operations a function reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Op {
    Create,
    Get,
    GetMany,
    Put,
    Consume,
    Retire,
    CompareAndSwap,
    Delete,
    DeleteByGrant,
    QueryByOwner,
    Increment,
    Scan,
}

/// The (table, operation) pairs a store handle has been used for.
#[cfg(feature = "test-support")]
pub type Recorder = Arc<std::sync::Mutex<std::collections::BTreeSet<(Table, Op)>>>;

/// The handle every handler holds: a backend plus a call counter (and, in tests, a recorder).
#[derive(Clone)]
pub struct Store {
    backend: Arc<dyn Backend>,
    calls: Arc<AtomicU64>,
    #[cfg(feature = "test-support")]
    recorder: Option<Recorder>,
}

macro_rules! counted {
    ($self:ident, $table:expr, $op:expr, $call:expr) => {{
        $self.calls.fetch_add(1, Ordering::Relaxed);
        #[cfg(feature = "test-support")]
        if let Some(r) = &$self.recorder
            && let Ok(mut seen) = r.lock()
        {
            seen.insert(($table, $op));
        }
        $call.await
    }};
}

impl Store {
    pub fn new(backend: impl Backend) -> Self {
        Store {
            backend: Arc::new(backend),
            calls: Arc::default(),
            #[cfg(feature = "test-support")]
            recorder: None,
        }
    }

    /// Another handle on the same backend that counts its own calls and records which
    /// (table, operation) pairs it is used for: tests hold each function to its IAM policy.
    #[cfg(feature = "test-support")]
    pub fn recording(&self) -> (Store, Recorder) {
        let recorder = Recorder::default();
        (
            Store {
                backend: self.backend.clone(),
                calls: Arc::default(),
                recorder: Some(recorder.clone()),
            },
            recorder,
        )
    }

    /// Store calls made through this handle (and its clones) so far.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// The clock every expiry decision uses.
    pub fn clock(&self) -> &Clock {
        self.backend.clock()
    }

    pub async fn create(&self, table: Table, item: Item) -> StoreResult<bool> {
        counted!(self, table, Op::Create, self.backend.create(table, item))
    }
    pub async fn get(&self, table: Table, key: &str) -> StoreResult<Option<Item>> {
        counted!(self, table, Op::Get, self.backend.get(table, key))
    }
    pub async fn get_many(&self, keys: &[(Table, String)]) -> StoreResult<Vec<(Table, Item)>> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        #[cfg(feature = "test-support")]
        if let Some(r) = &self.recorder
            && let Ok(mut seen) = r.lock()
        {
            seen.extend(keys.iter().map(|(t, _)| (*t, Op::GetMany)));
        }
        self.backend.get_many(keys).await
    }
    pub async fn put(&self, table: Table, item: Item) -> StoreResult<()> {
        counted!(self, table, Op::Put, self.backend.put(table, item))
    }
    pub async fn consume(&self, table: Table, key: &str, guard: Option<&str>) -> StoreResult<Consumed> {
        counted!(self, table, Op::Consume, self.backend.consume(table, key, guard))
    }
    pub async fn retire(&self, table: Table, key: &str, guard: &str, tombstone: Value) -> StoreResult<Consumed> {
        counted!(
            self,
            table,
            Op::Retire,
            self.backend.retire(table, key, guard, tombstone)
        )
    }
    pub async fn compare_and_swap(&self, table: Table, item: Item, expected: u64) -> StoreResult<bool> {
        counted!(
            self,
            table,
            Op::CompareAndSwap,
            self.backend.compare_and_swap(table, item, expected)
        )
    }
    pub async fn delete(&self, table: Table, key: &str) -> StoreResult<()> {
        counted!(self, table, Op::Delete, self.backend.delete(table, key))
    }
    pub async fn delete_by_grant(&self, table: Table, grant_id: &str) -> StoreResult<usize> {
        counted!(
            self,
            table,
            Op::DeleteByGrant,
            self.backend.delete_by_grant(table, grant_id)
        )
    }
    pub async fn query_by_owner(&self, table: Table, owner: &str) -> StoreResult<Vec<Item>> {
        counted!(self, table, Op::QueryByOwner, self.backend.query_by_owner(table, owner))
    }
    pub async fn increment(&self, table: Table, key: &str, expires_at: i64) -> StoreResult<u64> {
        counted!(
            self,
            table,
            Op::Increment,
            self.backend.increment(table, key, expires_at)
        )
    }
    /// See [`Backend::scan`]: operators' tools only.
    pub async fn scan(&self, table: Table) -> StoreResult<Vec<Item>> {
        counted!(self, table, Op::Scan, self.backend.scan(table))
    }
}
