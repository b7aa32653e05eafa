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
//! At rest ([`Wrapping`]): in AWS each private key is stored only encrypted under a KMS key
//! (`crate::kms`), unwrapped once per instance by the functions that sign; the secret that seals
//! MCP `requestState` is a separate random value per key, wrapped under its own encryption
//! context. Publishing needs neither: [`KeyRing::jwks`] serves the public halves that exist and
//! never creates a key. Locally (the embedded store) the PEM stays in the store's own file under
//! `.data/`, which is git-ignored.
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
use crate::http::Internal;
use crate::store::{Store, StoreError, StoreResult, Table, typed};

/// A key ring call's result: a store, KMS or key failure ([`Internal`]), never shown to clients.
pub type KeyResult<T> = Result<T, Internal>;

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
    /// PKCS#8 PEM, only where keys are not wrapped ([`Wrapping::None`]: the local store file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    private_pem: Option<String>,
    /// The private key and the request-state secret, each encrypted under the KMS key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    wrapped: Option<WrappedKey>,
    x: String,
    y: String,
    created_at: i64,
}

#[derive(Serialize, Deserialize, Clone)]
struct WrappedKey {
    /// KMS ciphertext (base64url) of the PKCS#8 DER; `None` once the key was rotated out, as a
    /// retired key only verifies and never signs again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key: Option<String>,
    /// KMS ciphertext (base64url) of 32 random bytes: [`KeyRing::derived_secret`].
    seal: String,
}

/// How private halves are kept at rest.
#[derive(Clone, Debug, Default)]
pub enum Wrapping {
    /// As PEM in the store: for the embedded store, whose file is local (`.data/`, git-ignored).
    #[default]
    None,
    /// Encrypted under a KMS key (`SIGNING_KEY_KMS_ID`); required in Lambda.
    Kms(crate::kms::Kms),
}

fn kms_error(e: crate::kms::KmsError) -> Internal {
    Internal::Kms(e.to_string())
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
    /// Per `kid`, the wrapped form of that secret, unwrapped on first use.
    sealed: HashMap<String, String>,
    refreshed_at: Option<i64>,
}

impl Cache {
    fn remember(&mut self, record: &KeyRecord) {
        self.public
            .insert(record.kid.clone(), (record.x.clone(), record.y.clone()));
        if let Some(pem) = &record.private_pem {
            self.derived.insert(record.kid.clone(), derive(pem));
        } else if let Some(w) = &record.wrapped {
            self.sealed.insert(record.kid.clone(), w.seal.clone());
        }
    }
}

/// HMAC-SHA-256 of a fixed label under the private key's PEM: a secret only holders of the key
/// record can compute, which says nothing about the key itself (HMAC is a PRF).
fn derive(private_pem: &str) -> [u8; 32] {
    use hmac::{Hmac, Mac};
    let mut mac =
        <Hmac<sha2::Sha256> as Mac>::new_from_slice(private_pem.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(b"mcp-oauth derived secret v1");
    mac.finalize().into_bytes().into()
}

#[derive(Clone)]
pub struct KeyRing {
    store: Store,
    rotation: i64,
    access_ttl: i64,
    wrapping: Wrapping,
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

/// A new key: its record as stored, and its PKCS#8 DER to sign with right away.
async fn generate(now: i64, wrapping: &Wrapping) -> KeyResult<(KeyRecord, Vec<u8>)> {
    let secret = loop {
        // 32 random bytes are a valid scalar except with probability ~2^-128; retry then.
        if let Ok(k) = p256::SecretKey::from_slice(&random_bytes::<32>()) {
            break k;
        }
    };
    let point = secret.public_key().to_encoded_point(false);
    let (x, y) = match (point.x(), point.y()) {
        (Some(x), Some(y)) => (b64(x), b64(y)),
        _ => return Err(Internal::Key("generated an identity point".into())),
    };
    let der = secret
        .to_pkcs8_der()
        .map_err(|e| Internal::Key(e.to_string()))?
        .as_bytes()
        .to_vec();
    let kid = thumbprint(&x, &y);
    let (private_pem, wrapped) = match wrapping {
        Wrapping::None => (
            Some(
                secret
                    .to_pkcs8_pem(LineEnding::LF)
                    .map_err(|e| Internal::Key(e.to_string()))?
                    .to_string(),
            ),
            None,
        ),
        Wrapping::Kms(kms) => {
            use crate::kms::Purpose;
            let key = kms.wrap(&der, Purpose::SigningKey, &kid).await.map_err(kms_error)?;
            let seal = kms
                .wrap(&random_bytes::<32>(), Purpose::RequestState, &kid)
                .await
                .map_err(kms_error)?;
            (
                None,
                Some(WrappedKey {
                    key: Some(b64(&key)),
                    seal: b64(&seal),
                }),
            )
        }
    };
    let record = KeyRecord {
        kid,
        private_pem,
        wrapped,
        x,
        y,
        created_at: now,
    };
    Ok((record, der))
}

/// The private key of a stored record, unwrapping it if need be. `None`: a rotated-out key.
async fn private_der(record: &KeyRecord, wrapping: &Wrapping) -> KeyResult<Option<Vec<u8>>> {
    use p256::pkcs8::DecodePrivateKey;
    if let Some(pem) = &record.private_pem {
        let key = p256::SecretKey::from_pkcs8_pem(pem)
            .map_err(|e| Internal::Key(format!("signing key {}: {e}", record.kid)))?;
        let der = key.to_pkcs8_der().map_err(|e| Internal::Key(e.to_string()))?;
        return Ok(Some(der.as_bytes().to_vec()));
    }
    let Some(wrapped) = record.wrapped.as_ref().and_then(|w| w.key.as_ref()) else {
        return Ok(None);
    };
    let Wrapping::Kms(kms) = wrapping else {
        return Err(Internal::Key(format!(
            "signing key {} is wrapped under KMS, and SIGNING_KEY_KMS_ID is unset",
            record.kid
        )));
    };
    let ciphertext = crate::crypto::b64_decode(wrapped)
        .ok_or_else(|| Internal::Key(format!("signing key {}: wrapped key is not base64url", record.kid)))?;
    let der = kms
        .unwrap(&ciphertext, crate::kms::Purpose::SigningKey, &record.kid)
        .await
        .map_err(kms_error)?;
    Ok(Some(der))
}

impl KeyRing {
    pub fn new(store: Store, rotation: i64, access_ttl: i64) -> Self {
        KeyRing {
            store,
            rotation,
            access_ttl,
            wrapping: Wrapping::None,
            cache: Arc::default(),
        }
    }

    /// The same ring, creating keys wrapped as `wrapping` says and unwrapping them with it.
    pub fn with_wrapping(mut self, wrapping: Wrapping) -> Self {
        self.wrapping = wrapping;
        self
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
    pub async fn signer(&self) -> KeyResult<Arc<Signer>> {
        let now = self.store.clock().now();
        let slot = self.slot(now);
        let cached = self.cache.read().await.signer.clone();
        if let Some((s, checked_at, signer)) = &cached
            && *s == slot
            && now - checked_at < SIGNER_RECHECK
        {
            return Ok(signer.clone());
        }
        let (record, fresh) = self.active_record(slot, now).await?;
        let signer = match cached {
            Some((s, _, signer)) if s == slot && signer.kid == record.kid => signer,
            // A new key (or a cold instance): unwrap it; if that fails, nothing is signed, not
            // even with the key cached before (which may have been rotated out for a reason).
            _ => {
                let der = match fresh {
                    Some(der) => der,
                    None => private_der(&record, &self.wrapping).await?.ok_or_else(|| {
                        Internal::Key(format!("active signing key {} has no private half", record.kid))
                    })?,
                };
                Arc::new(Signer {
                    kid: record.kid.clone(),
                    key: EncodingKey::from_ec_der(&der),
                })
            }
        };
        let mut cache = self.cache.write().await;
        cache.remember(&record);
        cache.signer = Some((slot, now, signer.clone()));
        Ok(signer)
    }

    /// Reads the slot's key, or creates it; of racing creators exactly one write lands. With the
    /// record, the private key in DER if this call created it.
    async fn active_record(&self, slot: i64, now: i64) -> KeyResult<(KeyRecord, Option<Vec<u8>>)> {
        if let Some(item) = self.store.get(Table::Keys, &slot_key(slot)).await? {
            return Ok((typed::body(&item)?, None));
        }
        let (fresh, der) = generate(now, &self.wrapping).await?;
        let mut item = typed::item(slot_key(slot), &fresh)?;
        item.owner = Some(OWNER.into());
        item.expires_at = Some(self.retire_at(slot));
        if self.store.create(Table::Keys, item).await? {
            tracing::info!(event = "signing_key_created", kid = %fresh.kid, slot);
            return Ok((fresh, Some(der)));
        }
        let item = self
            .store
            .get(Table::Keys, &slot_key(slot))
            .await?
            .ok_or_else(|| StoreError::Unavailable("signing key vanished after a lost create race".into()))?;
        Ok((typed::body(&item)?, None))
    }

    /// Replaces the current slot's key with a new one, which signs from now on (on other
    /// instances within [`SIGNER_RECHECK`] seconds). The replaced key is copied to
    /// `rotated-<kid>` before it is replaced, with the slot key's expiry, so there is no moment
    /// in which a token it signed cannot be verified. For operators (`infra/admin`).
    pub async fn rotate(&self) -> KeyResult<Rotated> {
        let now = self.store.clock().now();
        let slot = self.slot(now);
        // A lost compare-and-swap means another rotation (or a first signer) got there first.
        for _ in 0..3 {
            let (fresh, _) = generate(now, &self.wrapping).await?;
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
                    let mut old: KeyRecord = typed::body(&current)?;
                    // A rotated-out key only verifies: its wrapped private half is dropped.
                    if let Some(w) = old.wrapped.as_mut() {
                        w.key = None;
                    }
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
        Err(Internal::Store(StoreError::Unavailable(
            "the active signing key kept changing".into(),
        )))
    }

    /// Every published key, newest first, without private halves. For operators.
    pub async fn list(&self) -> KeyResult<Vec<KeyInfo>> {
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

    /// Every published key as a JWK Set: the public halves that exist. Never creates a key, so
    /// the discovery function needs neither write access nor the wrapping key; before the first
    /// token the set may be empty.
    pub async fn jwks(&self) -> KeyResult<Value> {
        let mut records: Vec<KeyRecord> = self
            .store
            .query_by_owner(Table::Keys, OWNER)
            .await?
            .iter()
            .map(typed::body)
            .collect::<StoreResult<_>>()?;
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
    pub async fn verifying_key(&self, kid: &str) -> KeyResult<Option<DecodingKey>> {
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
    ///
    /// For a wrapped key, the secret is unwrapped once per instance (KMS `Decrypt` under the
    /// `request-state` context, which is all the MCP function may decrypt).
    pub async fn derived_secret(&self, kid: &str) -> KeyResult<Option<[u8; 32]>> {
        if let Some(secret) = self.cache.read().await.derived.get(kid) {
            return Ok(Some(*secret));
        }
        if !self.cache.read().await.sealed.contains_key(kid) {
            self.refresh().await?;
        }
        let cache = self.cache.read().await;
        if let Some(secret) = cache.derived.get(kid) {
            return Ok(Some(*secret));
        }
        let Some(sealed) = cache.sealed.get(kid).cloned() else {
            return Ok(None);
        };
        drop(cache);
        let Wrapping::Kms(kms) = &self.wrapping else {
            return Err(Internal::Key(format!(
                "the request-state secret of key {kid} is wrapped under KMS, and SIGNING_KEY_KMS_ID is unset"
            )));
        };
        let ciphertext = crate::crypto::b64_decode(&sealed)
            .ok_or_else(|| Internal::Key(format!("signing key {kid}: wrapped secret is not base64url")))?;
        let plain = kms
            .unwrap(&ciphertext, crate::kms::Purpose::RequestState, kid)
            .await
            .map_err(kms_error)?;
        let secret: [u8; 32] = plain
            .as_slice()
            .try_into()
            .map_err(|_| Internal::Key(format!("signing key {kid}: request-state secret is not 32 bytes")))?;
        self.cache.write().await.derived.insert(kid.to_owned(), secret);
        Ok(Some(secret))
    }

    /// Reloads every published key into the cache, at most once per [`REFRESH_FLOOR`] seconds.
    async fn refresh(&self) -> KeyResult<()> {
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
