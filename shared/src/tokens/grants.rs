//! Grants: what a user allowed a client, and the grant's refresh-token chain.
//!
//! A refresh token is `<grant id>.<secret>`; the grant stores only SHA-256 hashes of the current
//! token and of the one it replaced. Every use rotates the token with a compare-and-swap on the
//! grant, so of concurrent refreshes exactly one rotates.
//!
//! The successor of token `T` is `HMAC(salt, T)`, with a fresh random `salt` stored in the grant
//! at each rotation. That lets a retry of `T` (a lost response, or the losers of a concurrent
//! race) be given the same successor again within a short grace window, while the store still
//! holds nothing usable: the salt alone does not yield a token, and `T` alone does not yield the
//! successor. Outside the window, or once the successor itself has been used, presenting the
//! previous token is reuse, the signature of a stolen token, and revokes the whole grant (RFC 9700
//! §4.14). A token that is neither the current nor the previous one is `invalid_grant` and revokes
//! nothing: the grant id before the dot is derivable from the authorization code, so
//! `<grant id>.<anything>` proves no possession of the chain. The chain remembers the hashes of
//! [`OLDER_KEPT`] tokens before the previous one, so reuse of those revokes too; anything older is
//! refused without revoking.

use serde::{Deserialize, Serialize};

use super::lifetimes::Lifetimes;
use crate::crypto::{b64, ct_eq, hmac_b64, random_bytes, random_token, sha256_b64, sha256_parts};
use crate::store::{Store, StoreResult, Table, typed};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Grant {
    pub user_id: String,
    pub client_id: String,
    pub scope: Vec<String>,
    pub resource: String,
    pub created_at: i64,
    /// The grant's absolute end, however often it is refreshed.
    pub expires_at: i64,
    /// When a refresh last used it (recorded where the grant is written anyway); `None` until the
    /// first refresh.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used: Option<i64>,
    pub refresh: Chain,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Chain {
    /// Hash of the refresh token that is valid now.
    pub current: String,
    pub issued_at: i64,
    /// Hash of the token `current` replaced, and when; for the grace window.
    pub previous: Option<String>,
    pub rotated_at: i64,
    /// Key of the HMAC that derived `current` from the previous token.
    pub salt: String,
    /// Hashes of the tokens before `previous`, newest first, at most [`OLDER_KEPT`]: a stolen
    /// token used after several rotations is still recognised as reuse.
    #[serde(default)]
    pub older: Vec<String>,
}

/// Earlier tokens remembered beyond the previous one. A client that refreshes hourly is covered
/// for most of a day; reuse of anything older is refused without revoking.
pub const OLDER_KEPT: usize = 16;

/// What a refresh request came to.
#[derive(Debug, PartialEq)]
pub enum Refreshed {
    /// A new refresh token (or, within grace, the same successor again) for this grant.
    Rotated { grant: Box<Grant>, refresh_token: String },
    /// Unknown, expired, revoked or another client's token.
    Invalid,
    /// An old token came back: the grant has been revoked.
    Reused,
}

/// Splits a refresh token into its grant id; `None` if it is not one of ours.
fn grant_id_of(token: &str) -> Option<&str> {
    let (id, secret) = token.split_once('.')?;
    (id.len() == 43 && secret.len() == 43).then_some(id)
}

fn successor(salt: &str, token: &str) -> String {
    format!(
        "{}.{}",
        grant_id_of(token).unwrap_or_default(),
        hmac_b64(salt.as_bytes(), token.as_bytes())
    )
}

/// When the grant item should expire: the sooner of the grant's end and the current token's.
fn item_expiry(grant: &Grant, lifetimes: &Lifetimes) -> i64 {
    grant.expires_at.min(grant.refresh.issued_at + lifetimes.refresh_token)
}

/// The grant's store key, and the reference its access tokens carry (`gid`): a one-way hash of
/// the grant id. The grant id is half of every refresh token, so it is neither stored nor put in
/// an access token; the reference lets the MCP function ask whether the grant is still live and
/// is good for nothing else (no refresh, no revocation by a stranger).
pub fn reference(id: &str) -> String {
    sha256_parts(&[b"grant reference", id.as_bytes()])
}

/// The reference of the grant a refresh token belongs to.
pub fn reference_of_token(token: &str) -> Option<String> {
    grant_id_of(token).map(reference)
}

/// Reads grant `id` under its reference. A grant stored before references existed (under its raw
/// id) is moved to its reference on first sight, so its tokens keep working; this path goes once
/// every such grant has expired (`GRANT_TTL`).
async fn load(store: &Store, id: &str) -> StoreResult<Option<crate::store::Item>> {
    let key = reference(id);
    if let Some(item) = store.get(Table::Grants, &key).await? {
        return Ok(Some(item));
    }
    let Some(old) = store.get(Table::Grants, id).await? else {
        return Ok(None);
    };
    let mut moved = old;
    moved.key = key.clone();
    moved.grant_id = Some(key.clone());
    if store.create(Table::Grants, moved).await? {
        store.delete(Table::Grants, id).await?;
    }
    store.get(Table::Grants, &key).await
}

fn to_item(id: &str, grant: &Grant, lifetimes: &Lifetimes) -> StoreResult<crate::store::Item> {
    let mut item = typed::item(reference(id), grant)?;
    item.owner = Some(grant.user_id.clone());
    item.grant_id = Some(reference(id));
    item.expires_at = Some(item_expiry(grant, lifetimes));
    Ok(item)
}

/// The parts of a new grant that come from the authorization.
pub struct NewGrant {
    pub user_id: String,
    pub client_id: String,
    pub scope: Vec<String>,
    pub resource: String,
}

/// Creates grant `id` and returns it with its first refresh token. One store call (two when the
/// create is refused). Returns `None`
/// if a grant with that id exists already (its code was redeemed before).
pub async fn create(
    store: &Store,
    id: &str,
    new: NewGrant,
    lifetimes: &Lifetimes,
) -> StoreResult<Option<(Grant, String)>> {
    let now = store.clock().now();
    let token = format!("{id}.{}", random_token());
    let grant = Grant {
        user_id: new.user_id,
        client_id: new.client_id,
        scope: new.scope,
        resource: new.resource,
        created_at: now,
        expires_at: now + lifetimes.grant,
        last_used: None,
        refresh: Chain {
            current: sha256_b64(token.as_bytes()),
            issued_at: now,
            previous: None,
            rotated_at: now,
            salt: b64(&random_bytes::<32>()),
            older: Vec::new(),
        },
    };
    if !store.create(Table::Grants, to_item(id, &grant, lifetimes)?).await? {
        // The write may have been ours: applied, its answer lost, and the SDK's retry refused by
        // the existing item. Only this call knows the new token, so a stored chain starting with
        // its hash proves it; anything else is a grant the code produced before.
        let ours = match store.get(Table::Grants, &reference(id)).await? {
            Some(item) => ct_eq(&typed::body::<Grant>(&item)?.refresh.current, &grant.refresh.current),
            None => false,
        };
        return Ok(ours.then_some((grant, token)));
    }
    Ok(Some((grant, token)))
}

/// Revokes a grant: its refresh tokens stop working at once. Returns whether it existed. Deletes
/// by primary key, which is strongly consistent, not through the eventually consistent grant index.
pub async fn revoke(store: &Store, id: &str, reason: &'static str) -> StoreResult<bool> {
    if revoke_reference(store, &reference(id), reason).await? {
        return Ok(true);
    }
    // A grant from before references, not yet moved.
    Ok(matches!(
        store.consume(Table::Grants, id, None).await?,
        crate::store::Consumed::Taken(_)
    ))
}

/// Revokes the grant with this reference (the `gid` of its access tokens, or its store key).
pub async fn revoke_reference(store: &Store, reference: &str, reason: &'static str) -> StoreResult<bool> {
    let existed = matches!(
        store.consume(Table::Grants, reference, None).await?,
        crate::store::Consumed::Taken(_)
    );
    if existed {
        tracing::warn!(event = "grant_revoked", grant = %short(reference), reason);
    }
    Ok(existed)
}

/// A log-safe prefix of a grant id (the full id is part of refresh tokens).
pub fn short(id: &str) -> &str {
    &id[..id.len().min(8)]
}

/// The grant a refresh token belongs to, if the token is its current or previous one. For
/// revocation: knowing a grant id alone (any past holder does) must not be enough.
pub async fn find_by_token(store: &Store, token: &str) -> StoreResult<Option<(String, Grant)>> {
    let Some(id) = grant_id_of(token) else { return Ok(None) };
    // Read-only: a grant from before references is found under its raw id, not moved.
    let item = match store.get(Table::Grants, &reference(id)).await? {
        Some(item) => item,
        None => match store.get(Table::Grants, id).await? {
            Some(item) => item,
            None => return Ok(None),
        },
    };
    let grant: Grant = typed::body(&item)?;
    let presented = sha256_b64(token.as_bytes());
    let known = ct_eq(&presented, &grant.refresh.current)
        || grant.refresh.previous.as_deref().is_some_and(|p| ct_eq(&presented, p));
    Ok(known.then(|| (id.to_owned(), grant)))
}

/// Exchanges a refresh token for its successor (docs/ARCHITECTURE.md, decision 4). Two store calls when it
/// rotates, one within grace; a lost race costs one more read.
pub async fn refresh(store: &Store, token: &str, client_id: &str, lifetimes: &Lifetimes) -> StoreResult<Refreshed> {
    let Some(id) = grant_id_of(token) else {
        return Ok(Refreshed::Invalid);
    };
    let presented = sha256_b64(token.as_bytes());
    // A lost compare-and-swap means another request rotated first; read again and judge anew.
    for _ in 0..3 {
        let Some(item) = load(store, id).await? else {
            return Ok(Refreshed::Invalid);
        };
        let grant: Grant = typed::body(&item)?;
        // Another client's token: refuse, but do not let a stranger revoke the owner's grant.
        if !ct_eq(&grant.client_id, client_id) {
            return Ok(Refreshed::Invalid);
        }
        let now = store.clock().now();
        let chain = &grant.refresh;
        if ct_eq(&presented, &chain.current) {
            if now >= chain.issued_at + lifetimes.refresh_token || now >= grant.expires_at {
                return Ok(Refreshed::Invalid);
            }
            let salt = b64(&random_bytes::<32>());
            let next = successor(&salt, token);
            let mut rotated = grant.clone();
            rotated.last_used = Some(now);
            let older: Vec<String> = chain
                .previous
                .iter()
                .chain(&chain.older)
                .take(OLDER_KEPT)
                .cloned()
                .collect();
            rotated.refresh = Chain {
                current: sha256_b64(next.as_bytes()),
                issued_at: now,
                previous: Some(presented.clone()),
                rotated_at: now,
                salt,
                older,
            };
            if store
                .compare_and_swap(Table::Grants, to_item(id, &rotated, lifetimes)?, item.version)
                .await?
            {
                return Ok(Refreshed::Rotated {
                    grant: Box::new(rotated),
                    refresh_token: next,
                });
            }
            continue;
        }
        let is_previous = chain.previous.as_deref().is_some_and(|p| ct_eq(&presented, p));
        // No token of this chain: the grant id is no secret (it is derived from the code, which
        // travels in URLs), so a made-up secret after it proves nothing and must not let a
        // stranger revoke the grant.
        if !is_previous && !chain.older.iter().any(|o| ct_eq(&presented, o)) {
            return Ok(Refreshed::Invalid);
        }
        if is_previous {
            let next = successor(&chain.salt, token);
            let unused = ct_eq(&sha256_b64(next.as_bytes()), &chain.current);
            // Grace: a retry gets the successor it was already given, while that is still unused.
            if unused && now - chain.rotated_at <= lifetimes.refresh_grace && now < grant.expires_at {
                return Ok(Refreshed::Rotated {
                    grant: Box::new(grant),
                    refresh_token: next,
                });
            }
        }
        // A rotated-out token of this chain: only a holder of the chain has it, so this is reuse,
        // the mark of theft. Revoke the grant.
        tracing::warn!(event = "refresh_token_reuse_detected", grant_id = %short(id), client_id);
        crate::metrics::count(crate::metrics::Metric::RefreshTokenReuse);
        revoke(store, id, "refresh_token_reuse").await?;
        return Ok(Refreshed::Reused);
    }
    Err(crate::store::StoreError::Unavailable(
        "refresh kept losing its compare-and-swap".into(),
    ))
}
