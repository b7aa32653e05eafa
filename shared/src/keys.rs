//! Token-signing keys: ES256 (P-256), generated on first use, rotated by age, published as JWKS.
//!
//! Time is cut into slots of `key_rotation` seconds. The active key is the one stored under the
//! current slot's key (`slot-<n>`); whoever first needs it creates it with create-if-absent, so
//! two cold starts at once end with one key (the loser reads the winner's). A slot's key stays
//! published until every token it can have signed has expired: its record expires at the slot's
//! end plus the access-token lifetime plus a minute of leeway.
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
    signer: Option<(i64, Arc<Signer>)>,
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
        if let Some((s, signer)) = &self.cache.read().await.signer
            && *s == slot
        {
            return Ok(signer.clone());
        }
        let record = self.active_record(slot, now).await?;
        let signer = Arc::new(Signer {
            kid: record.kid.clone(),
            key: EncodingKey::from_ec_pem(record.private_pem.as_bytes())
                .map_err(|e| StoreError::Corrupt(format!("signing key {}: {e}", record.kid)))?,
        });
        let mut cache = self.cache.write().await;
        cache.remember(&record);
        cache.signer = Some((slot, signer.clone()));
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
