//! A [`Backend`] that forwards every call to another backend and logs it (operation and tables),
//! in order. One log per function instance, so a flow's figure names the calls it made.
//!
//! Not for: production use, or limiting calls (budgets are judged in `flows`).

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use mcp_oauth::clock::Clock;
use mcp_oauth::store::{Backend, Consumed, Item, Op, StoreResult, Table};

/// One store call: what it did and which tables it touched (several for `get_many`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub op: Op,
    pub tables: Vec<Table>,
}

impl std::fmt::Display for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tables: Vec<&str> = self.tables.iter().map(|t| t.name()).collect();
        write!(f, "{:?}({})", self.op, tables.join("+"))
    }
}

/// The calls made so far, shared by every clone of a [`Counting`] backend.
pub type CallLog = Arc<Mutex<Vec<Call>>>;

/// Forwards to `inner`, logging each call first.
pub struct Counting {
    inner: Arc<dyn Backend>,
    log: CallLog,
}

impl Counting {
    /// A logging view of `inner`, and the log it writes.
    pub fn new(inner: Arc<dyn Backend>) -> (Self, CallLog) {
        let log = CallLog::default();
        (
            Counting {
                inner,
                log: log.clone(),
            },
            log,
        )
    }

    fn note(&self, op: Op, tables: Vec<Table>) {
        if let Ok(mut log) = self.log.lock() {
            log.push(Call { op, tables });
        }
    }
}

#[async_trait]
impl Backend for Counting {
    fn clock(&self) -> &Clock {
        self.inner.clock()
    }
    async fn create(&self, table: Table, item: Item) -> StoreResult<bool> {
        self.note(Op::Create, vec![table]);
        self.inner.create(table, item).await
    }
    async fn get(&self, table: Table, key: &str) -> StoreResult<Option<Item>> {
        self.note(Op::Get, vec![table]);
        self.inner.get(table, key).await
    }
    async fn get_many(&self, keys: &[(Table, String)]) -> StoreResult<Vec<(Table, Item)>> {
        let mut tables: Vec<Table> = keys.iter().map(|(t, _)| *t).collect();
        tables.dedup();
        self.note(Op::GetMany, tables);
        self.inner.get_many(keys).await
    }
    async fn put(&self, table: Table, item: Item) -> StoreResult<()> {
        self.note(Op::Put, vec![table]);
        self.inner.put(table, item).await
    }
    async fn consume(&self, table: Table, key: &str, guard: Option<&str>) -> StoreResult<Consumed> {
        self.note(Op::Consume, vec![table]);
        self.inner.consume(table, key, guard).await
    }
    async fn retire(
        &self,
        table: Table,
        key: &str,
        guard: &str,
        tombstone: serde_json::Value,
    ) -> StoreResult<Consumed> {
        self.note(Op::Retire, vec![table]);
        self.inner.retire(table, key, guard, tombstone).await
    }
    async fn compare_and_swap(&self, table: Table, item: Item, expected: u64) -> StoreResult<bool> {
        self.note(Op::CompareAndSwap, vec![table]);
        self.inner.compare_and_swap(table, item, expected).await
    }
    async fn delete(&self, table: Table, key: &str) -> StoreResult<()> {
        self.note(Op::Delete, vec![table]);
        self.inner.delete(table, key).await
    }
    async fn delete_by_grant(&self, table: Table, grant_id: &str) -> StoreResult<usize> {
        self.note(Op::DeleteByGrant, vec![table]);
        self.inner.delete_by_grant(table, grant_id).await
    }
    async fn query_by_owner(&self, table: Table, owner: &str) -> StoreResult<Vec<Item>> {
        self.note(Op::QueryByOwner, vec![table]);
        self.inner.query_by_owner(table, owner).await
    }
    async fn increment(&self, table: Table, key: &str, expires_at: i64) -> StoreResult<u64> {
        self.note(Op::Increment, vec![table]);
        self.inner.increment(table, key, expires_at).await
    }
    async fn scan(&self, table: Table) -> StoreResult<Vec<Item>> {
        self.note(Op::Scan, vec![table]);
        self.inner.scan(table).await
    }
}
