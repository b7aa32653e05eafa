//! Token-signing keys: ES256 (P-256), generated on first use, rotated by age, published as JWKS.
//!
//! Time is cut into slots of `key_rotation` seconds. The active key is the one stored under the
//! current slot's key (`slot-<n>`); whoever first needs it creates it with create-if-absent, so
//! two cold starts at once end with one key (the loser reads the winner's). A slot's key stays
//! published until every token it can have signed has expired: its record expires at the slot's
//! end plus the access-token lifetime plus a minute of leeway.
//!
//! An operator can rotate early ([`KeyRing::rotate`], the admin tool's `keys rotate`): a new key
//! replaces the current slot's with a compare-and-swap, and the replaced key is first copied to
//! `rotated-<kid>` under the same owner and expiry, so it stays published exactly as long as it
//! would have. Instances re-read the current slot's key at most every [`SIGNER_RECHECK`] seconds,
//! so within that time every instance signs with the new key.
//!
//! Verifiers cache public keys by `kid` and go back to the store only for a `kid` they have not
//! seen, at most once per [`REFRESH_FLOOR`] seconds, so forged `kid`s cannot flood the store.
//!
//! Not for: claims and token validation rules (see `tokens`).

use std::collections::HashMap;
use std::sync::Arc;

use jsonwebtoken::{DecodingKey, EncodingKey};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::{EncodePrivateKey, LineEnding};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::RwLock;

use crate::crypto::{b64, random_bytes, sha256_b64};
use crate::store::{Store, StoreError, StoreResult, Table, typed};

/// The `owner` under which every key record is stored, so one query lists them all.
const OWNER: &str = "signing";
/// Minimum seconds between store reads triggered by an unknown `kid`.
pub const REFRESH_FLOOR: i64 = 10;
/// Seconds an instance signs with its cached key before reading the slot's key again, so an
/// operator's rotation takes over everywhere within this time (one store read per instance).
pub const SIGNER_RECHECK: i64 = 60;

#[derive(Serialize, Deserialize, Clone)]
struct KeyRecord {
    kid: String,
    /// PKCS#8 PEM. The one secret that must be stored usable: signing needs it. DynamoDB encrypts
    /// it at rest, and only the functions that sign or publish keys may read the table.
    private_pem: String,
    x: String,
    y: String,
    created_at: i64,
}

/// A key that can sign.
pub struct Signer {
    pub kid: String,
    pub key: EncodingKey,
}

#[derive(Default)]
struct Cache {
    /// The slot, when the store was last read for it, and its signer.
    signer: Option<(i64, i64, Arc<Signer>)>,
    public: HashMap<String, (String, String)>,
    /// Per `kid`, the secret [`KeyRing::derived_secret`] hands out.
    derived: HashMap<String, [u8; 32]>,
    refreshed_at: Option<i64>,
}

impl Cache {
    fn remember(&mut self, record: &KeyRecord) {
        self.public
            .insert(record.kid.clone(), (record.x.clone(), record.y.clone()));
        self.derived.insert(record.kid.clone(), derive(record));
    }
}

/// HMAC-SHA-256 of a fixed label under the private key's PEM: a secret only holders of the key
/// record can compute, which says nothing about the key itself (HMAC is a PRF).
fn derive(record: &KeyRecord) -> [u8; 32] {
    use hmac::{Hmac, Mac};
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(record.private_pem.as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(b"mcp-oauth derived secret v1");
    mac.finalize().into_bytes().into()
}

#[derive(Clone)]
pub struct KeyRing {
    store: Store,
    rotation: i64,
    access_ttl: i64,
    cache: Arc<RwLock<Cache>>,
}

fn slot_key(slot: i64) -> String {
    format!("slot-{slot}")
}

/// Where a key replaced by [`KeyRing::rotate`] stays published until its slot key would retire.
fn rotated_key(kid: &str) -> String {
    format!("rotated-{kid}")
}

/// A published key as operators see it: never the private half.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeyInfo {
    pub kid: String,
    pub created_at: i64,
    /// The rotation slot the key was created in.
    pub slot: i64,
    /// The record it is stored under (`slot-<n>` or `rotated-<kid>`).
    pub record: String,
    /// When it leaves the JWKS.
    pub retires_at: Option<i64>,
    /// Whether it signs new tokens now.
    pub active: bool,
}

/// What [`KeyRing::rotate`] did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rotated {
    /// The key that signed until now and stays published; `None` if the slot had no key yet.
    pub previous_kid: Option<String>,
    pub kid: String,
}

/// RFC 7638 thumbprint of a P-256 public key: its `kid`.
fn thumbprint(x: &str, y: &str) -> String {
    sha256_b64(format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#).as_bytes())
}

fn generate(now: i64) -> StoreResult<KeyRecord> {
    let secret = loop {
        // 32 random bytes are a valid scalar except with probability ~2^-128; retry then.
        if let Ok(k) = p256::SecretKey::from_slice(&random_bytes::<32>()) {
            break k;
        }
    };
    let point = secret.public_key().to_encoded_point(false);
    let (x, y) = match (point.x(), point.y()) {
        (Some(x), Some(y)) => (b64(x), b64(y)),
        _ => return Err(StoreError::Corrupt("generated an identity point".into())),
    };
    let private_pem = secret
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| StoreError::Corrupt(e.to_string()))?
        .to_string();
    Ok(KeyRecord {
        kid: thumbprint(&x, &y),
        private_pem,
        x,
        y,
        created_at: now,
    })
}

impl KeyRing {
    pub fn new(store: Store, rotation: i64, access_ttl: i64) -> Self {
        KeyRing {
            store,
            rotation,
            access_ttl,
            cache: Arc::default(),
        }
    }

    /// The clock token lifetimes are judged by: the store's.
    pub fn clock(&self) -> &crate::clock::Clock {
        self.store.clock()
    }

    fn slot(&self, now: i64) -> i64 {
        now.div_euclid(self.rotation)
    }

    /// When a slot's key leaves the JWKS: after the last token it can have signed expires.
    fn retire_at(&self, slot: i64) -> i64 {
        (slot + 1) * self.rotation + self.access_ttl + 60
    }

    /// The active signing key, creating it if this slot has none yet.
    pub async fn signer(&self) -> StoreResult<Arc<Signer>> {
        let now = self.store.clock().now();
        let slot = self.slot(now);
        let cached = self.cache.read().await.signer.clone();
        if let Some((s, checked_at, signer)) = &cached
            && *s == slot
            && now - checked_at < SIGNER_RECHECK
        {
            return Ok(signer.clone());
        }
        let record = self.active_record(slot, now).await?;
        let signer = match cached {
            Some((s, _, signer)) if s == slot && signer.kid == record.kid => signer,
            _ => Arc::new(Signer {
                kid: record.kid.clone(),
                key: EncodingKey::from_ec_pem(record.private_pem.as_bytes())
                    .map_err(|e| StoreError::Corrupt(format!("signing key {}: {e}", record.kid)))?,
            }),
        };
        let mut cache = self.cache.write().await;
        cache.remember(&record);
        cache.signer = Some((slot, now, signer.clone()));
        Ok(signer)
    }

    /// Reads the slot's key, or creates it; of racing creators exactly one write lands.
    async fn active_record(&self, slot: i64, now: i64) -> StoreResult<KeyRecord> {
        if let Some(item) = self.store.get(Table::Keys, &slot_key(slot)).await? {
            return typed::body(&item);
        }
        let fresh = generate(now)?;
        let mut item = typed::item(slot_key(slot), &fresh)?;
        item.owner = Some(OWNER.into());
        item.expires_at = Some(self.retire_at(slot));
        if self.store.create(Table::Keys, item).await? {
            tracing::info!(event = "signing_key_created", kid = %fresh.kid, slot);
            return Ok(fresh);
        }
        let item = self
            .store
            .get(Table::Keys, &slot_key(slot))
            .await?
            .ok_or_else(|| StoreError::Unavailable("signing key vanished after a lost create race".into()))?;
        typed::body(&item)
    }

    /// Replaces the current slot's key with a new one, which signs from now on (on other
    /// instances within [`SIGNER_RECHECK`] seconds). The replaced key is copied to
    /// `rotated-<kid>` before it is replaced, with the slot key's expiry, so there is no moment
    /// in which a token it signed cannot be verified. For operators (`infra/admin`).
    pub async fn rotate(&self) -> StoreResult<Rotated> {
        let now = self.store.clock().now();
        let slot = self.slot(now);
        // A lost compare-and-swap means another rotation (or a first signer) got there first.
        for _ in 0..3 {
            let fresh = generate(now)?;
            let mut item = typed::item(slot_key(slot), &fresh)?;
            item.owner = Some(OWNER.into());
            item.expires_at = Some(self.retire_at(slot));
            let previous_kid = match self.store.get(Table::Keys, &slot_key(slot)).await? {
                None => {
                    if !self.store.create(Table::Keys, item).await? {
                        continue;
                    }
                    None
                }
                Some(current) => {
                    let old: KeyRecord = typed::body(&current)?;
                    let mut kept = typed::item(rotated_key(&old.kid), &old)?;
                    kept.owner = Some(OWNER.into());
                    kept.expires_at = current.expires_at;
                    self.store.put(Table::Keys, kept).await?;
                    if !self.store.compare_and_swap(Table::Keys, item, current.version).await? {
                        continue;
                    }
                    Some(old.kid)
                }
            };
            tracing::warn!(event = "signing_key_rotated", kid = %fresh.kid, previous_kid = ?previous_kid, slot);
            let mut cache = self.cache.write().await;
            cache.remember(&fresh);
            cache.signer = None;
            return Ok(Rotated {
                previous_kid,
                kid: fresh.kid,
            });
        }
        Err(StoreError::Unavailable("the active signing key kept changing".into()))
    }

    /// Every published key, newest first, without private halves. For operators.
    pub async fn list(&self) -> StoreResult<Vec<KeyInfo>> {
        let now = self.store.clock().now();
        let active = slot_key(self.slot(now));
        let mut keys = self
            .store
            .query_by_owner(Table::Keys, OWNER)
            .await?
            .iter()
            .map(|item| {
                let r: KeyRecord = typed::body(item)?;
                Ok(KeyInfo {
                    slot: self.slot(r.created_at),
                    active: item.key == active,
                    record: item.key.clone(),
                    retires_at: item.expires_at,
                    created_at: r.created_at,
                    kid: r.kid,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        keys.sort_by_key(|k| (!k.active, std::cmp::Reverse(k.created_at)));
        Ok(keys)
    }

    /// Every published key as a JWK Set, making sure the current slot has a key.
    pub async fn jwks(&self) -> StoreResult<Value> {
        let now = self.store.clock().now();
        let slot = self.slot(now);
        let mut records: Vec<KeyRecord> = self
            .store
            .query_by_owner(Table::Keys, OWNER)
            .await?
            .iter()
            .map(typed::body)
            .collect::<StoreResult<_>>()?;
        if !records.iter().any(|r| self.slot(r.created_at) == slot) {
            let active = self.active_record(slot, now).await?;
            if !records.iter().any(|r| r.kid == active.kid) {
                records.push(active);
            }
        }
        records.sort_by_key(|r| std::cmp::Reverse(r.created_at));
        {
            let mut cache = self.cache.write().await;
            for r in &records {
                cache.remember(r);
            }
        }
        let keys: Vec<Value> = records
            .iter()
            .map(|r| json!({"kty": "EC", "crv": "P-256", "x": r.x, "y": r.y, "kid": r.kid, "use": "sig", "alg": "ES256"}))
            .collect();
        Ok(json!({ "keys": keys }))
    }

    /// The public key for `kid`, from cache, or from the store if the cache has not been refreshed
    /// in the last [`REFRESH_FLOOR`] seconds.
    pub async fn verifying_key(&self, kid: &str) -> StoreResult<Option<DecodingKey>> {
        let decode = |(x, y): &(String, String)| DecodingKey::from_ec_components(x, y).ok();
        if let Some(c) = self.cache.read().await.public.get(kid) {
            return Ok(decode(c));
        }
        self.refresh().await?;
        Ok(self.cache.read().await.public.get(kid).and_then(decode))
    }

    /// A 256-bit secret derived from the private half of the published key `kid`, for MACs that
    /// any instance must be able to check without a secret of its own (the MCP `requestState`).
    /// It rotates with the key and is gone once the key is retired. `None` for a `kid` that is not
    /// published; an unknown `kid` reaches the store as rarely as in [`Self::verifying_key`].
    pub async fn derived_secret(&self, kid: &str) -> StoreResult<Option<[u8; 32]>> {
        if let Some(secret) = self.cache.read().await.derived.get(kid) {
            return Ok(Some(*secret));
        }
        self.refresh().await?;
        Ok(self.cache.read().await.derived.get(kid).copied())
    }

    /// Reloads every published key into the cache, at most once per [`REFRESH_FLOOR`] seconds.
    async fn refresh(&self) -> StoreResult<()> {
        let now = self.store.clock().now();
        {
            let mut cache = self.cache.write().await;
            if cache.refreshed_at.is_some_and(|t| now - t < REFRESH_FLOOR) {
                return Ok(());
            }
            cache.refreshed_at = Some(now);
        }
        let records: Vec<KeyRecord> = self
            .store
            .query_by_owner(Table::Keys, OWNER)
            .await?
            .iter()
            .map(typed::body)
            .collect::<StoreResult<_>>()?;
        let mut cache = self.cache.write().await;
        for r in &records {
            cache.remember(r);
        }
        Ok(())
    }
}
