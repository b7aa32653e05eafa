//! Authorization codes: opaque, 256-bit, stored only as a SHA-256 hash, single-use, short-lived,
//! and bound to the client, `redirect_uri` and PKCE challenge through the item's guard.
//!
//! Redemption is one conditional update whose condition is that binding: a request that fails the
//! `redirect_uri` or PKCE check leaves the code in place, so whoever intercepts a code cannot burn
//! it with a bad guess. A redeemed code is not deleted but retired: its record becomes a
//! tombstone that keeps the binding and the expiry (see `Store::retire`), in the same one store
//! call. The grant a code produces has an id derived from the code itself.
//!
//! Code reuse (RFC 6749 §4.1.2: the server "SHOULD revoke (when possible) all tokens previously
//! issued based on that authorization code") is recognised only when the replay reproduces the
//! binding: the same client, `redirect_uri` and a verifier for the same PKCE challenge, i.e. the
//! party the code was issued for, or one that stole the verifier too. Then the grant is revoked.
//! A replay that does not match (anyone who saw the code in a URL or browser history, with a guess
//! for the rest) is `invalid_grant` and revokes nothing: otherwise anyone holding a used code
//! could revoke its owner's grant. Once the code has expired its tombstone is gone, and a replay
//! is an unknown code.

use serde::{Deserialize, Serialize};

use crate::crypto::{random_token, sha256_b64, sha256_parts};
use crate::store::{Consumed, Store, StoreResult, Table, typed};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AuthCode {
    pub user_id: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: Vec<String>,
    pub resource: String,
    pub auth_time: i64,
}

/// The id of the grant that redeeming `code` creates.
pub fn grant_id_for(code: &str) -> String {
    sha256_parts(&[b"grant", code.as_bytes()])
}

/// The binding a redemption must reproduce.
fn guard(client_id: &str, redirect_uri: &str, code_challenge: &str) -> String {
    sha256_parts(&[client_id.as_bytes(), redirect_uri.as_bytes(), code_challenge.as_bytes()])
}

/// Stores a new code for `record` and returns it. One store call.
pub async fn issue(store: &Store, record: &AuthCode, code_challenge: &str, ttl: i64) -> StoreResult<String> {
    let code = random_token();
    let mut item = typed::item(sha256_b64(code.as_bytes()), record)?;
    item.expires_at = Some(store.clock().now() + ttl);
    item.guard = Some(guard(&record.client_id, &record.redirect_uri, code_challenge));
    // The grant's reference, never its id (half of a refresh token).
    item.grant_id = Some(super::grants::reference(&grant_id_for(&code)));
    // create, not put: a collision of 256-bit random values would be a broken generator.
    if !store.create(Table::Codes, item).await? {
        return Err(crate::store::StoreError::Corrupt("authorization code collision".into()));
    }
    crate::metrics::count(crate::metrics::Metric::CodesIssued);
    Ok(code)
}

/// What redeeming a code found.
#[derive(Debug, PartialEq)]
pub enum Redeemed {
    /// The code was live and matched; it is now a tombstone.
    Valid(AuthCode),
    /// The code was already redeemed, and this request reproduces its binding: reuse.
    Replayed,
    /// The code is unknown or expired.
    Unknown,
    /// The code (or its tombstone) exists but the client, `redirect_uri` or verifier differ; it
    /// was left as it was.
    Mismatch,
}

/// The body a redeemed code's record is left with.
fn tombstone() -> serde_json::Value {
    serde_json::json!({ "redeemed": true })
}

/// Redeems `code` if its binding matches, leaving its tombstone. One store call.
pub async fn redeem(
    store: &Store,
    code: &str,
    client_id: &str,
    redirect_uri: &str,
    code_challenge: &str,
) -> StoreResult<Redeemed> {
    let key = sha256_b64(code.as_bytes());
    let outcome = store
        .retire(
            Table::Codes,
            &key,
            &guard(client_id, redirect_uri, code_challenge),
            tombstone(),
        )
        .await?;
    Ok(match outcome {
        Consumed::Taken(item) if item.body == tombstone() => Redeemed::Replayed,
        Consumed::Taken(item) => Redeemed::Valid(typed::body(&item)?),
        Consumed::Absent => Redeemed::Unknown,
        Consumed::GuardMismatch => Redeemed::Mismatch,
    })
}
