//! Typed records on top of [`Item`]: serde in and out of the JSON body.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Item, StoreError, StoreResult};

/// Builds an item whose body is `value`.
pub fn item<T: Serialize>(key: impl Into<String>, value: &T) -> StoreResult<Item> {
    let body = serde_json::to_value(value).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(Item::new(key, body))
}

/// Reads an item's body as `T`.
pub fn body<T: DeserializeOwned>(item: &Item) -> StoreResult<T> {
    serde_json::from_value(item.body.clone()).map_err(|e| StoreError::Corrupt(format!("item {}: {e}", item.key)))
}
