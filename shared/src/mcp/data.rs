//! The calling user's own data: what a tool keeps for the principal it runs for, in the app data
//! table, reached only through a handle that already names that principal.
//!
//! A tool never builds a store key itself. [`UserData::collection`] gives a [`Collection`] whose
//! every key and owner include the caller's id, which comes from the verified access token, so no
//! argument can reach another user's items: isolation holds by construction, whatever the tool
//! does with its arguments. A machine client (`client_credentials`) gets its own collection under
//! its principal's id, `client:<client_id>`.
//!
//! Layout, per collection `name` and caller `id`: items are owned by `name:id` (the owner index
//! lists them) and keyed `name:id:item_id`. An item id holding `:` could make one caller's key
//! equal another's (machine ids hold a colon), so such ids are refused on write and never found
//! on read.
//!
//! Not for: the server's own records (users, grants: see `accounts`, `tokens`).

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::store::{Consumed, Store, StoreError, Table, typed};
use crate::tokens::principal::Principal;

/// The calling principal's app data.
#[derive(Clone)]
pub struct UserData {
    store: Store,
    principal_id: String,
}

impl UserData {
    /// The data of `principal`, in `store`.
    pub fn new(store: Store, principal: &Principal) -> Self {
        UserData {
            store,
            principal_id: principal.user_id.clone(),
        }
    }

    /// The caller's items of one kind. `name` is the tool's own constant, without `:`.
    pub fn collection(&self, name: &'static str) -> Collection {
        debug_assert!(!name.contains(':'), "a collection name holds no colon");
        Collection {
            store: self.store.clone(),
            owner: format!("{name}:{}", self.principal_id),
            key_prefix: format!("{name}:{}:", self.principal_id),
        }
    }

    /// Now, as the store's clock tells it (seconds since the epoch).
    pub fn now(&self) -> i64 {
        self.store.clock().now()
    }
}

/// Why a data call did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The store failed (unreachable, or a record that does not decode).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An item id that is empty or holds `:` (see the module docs): written by no one.
    #[error("an item id may not be empty or hold ':' ({0:?})")]
    InvalidId(String),
}

/// One kind of item of one caller (see the module docs for the layout).
#[derive(Clone)]
pub struct Collection {
    store: Store,
    owner: String,
    key_prefix: String,
}

impl Collection {
    /// Keys items `prefix:id:item_id` in place of `name:id:item_id`: for a collection whose items
    /// were written under another key prefix before this API, so they stay reachable.
    pub fn keyed_as(mut self, prefix: &'static str) -> Self {
        debug_assert!(!prefix.contains(':'), "a key prefix holds no colon");
        let id = self.owner.split_once(':').map_or("", |(_, id)| id);
        self.key_prefix = format!("{prefix}:{id}:");
        self
    }

    fn key(&self, item_id: &str) -> Option<String> {
        (!item_id.is_empty() && !item_id.contains(':')).then(|| format!("{}{item_id}", self.key_prefix))
    }

    fn bad_id(item_id: &str) -> DataError {
        DataError::InvalidId(item_id.to_owned())
    }

    /// Every item of the caller's, in no particular order.
    pub async fn list<T: DeserializeOwned>(&self) -> Result<Vec<T>, DataError> {
        let items = self.store.query_by_owner(Table::AppData, &self.owner).await?;
        Ok(items.iter().map(typed::body).collect::<Result<_, _>>()?)
    }

    /// The caller's item `item_id`, if there is one.
    pub async fn get<T: DeserializeOwned>(&self, item_id: &str) -> Result<Option<T>, DataError> {
        let Some(key) = self.key(item_id) else {
            return Ok(None);
        };
        self.store
            .get(Table::AppData, &key)
            .await?
            .map(|item| typed::body(&item))
            .transpose()
            .map_err(DataError::from)
    }

    /// Stores a new item; false if the caller already has one with that id.
    pub async fn create<T: Serialize>(&self, item_id: &str, value: &T) -> Result<bool, DataError> {
        let key = self.key(item_id).ok_or_else(|| Self::bad_id(item_id))?;
        let mut item = typed::item(key, value)?;
        item.owner = Some(self.owner.clone());
        Ok(self.store.create(Table::AppData, item).await?)
    }

    /// Stores an item, replacing the caller's item with that id if there is one.
    pub async fn put<T: Serialize>(&self, item_id: &str, value: &T) -> Result<(), DataError> {
        let key = self.key(item_id).ok_or_else(|| Self::bad_id(item_id))?;
        let mut item = typed::item(key, value)?;
        item.owner = Some(self.owner.clone());
        Ok(self.store.put(Table::AppData, item).await?)
    }

    /// Deletes the caller's item `item_id`; false if there was none.
    pub async fn remove(&self, item_id: &str) -> Result<bool, DataError> {
        let Some(key) = self.key(item_id) else {
            return Ok(false);
        };
        Ok(matches!(
            self.store.consume(Table::AppData, &key, None).await?,
            Consumed::Taken(_)
        ))
    }
}
