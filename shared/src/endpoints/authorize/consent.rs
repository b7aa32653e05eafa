//! Remembered consent, and the CSRF tokens that protect the consent and sign-in forms.
//!
//! Consent is remembered per (user, client, resource) for `CONSENT_TTL` from the last approval: a
//! later request whose scopes are all covered skips the screen, but only when the client's
//! identity is assured ([`may_skip`], RFC 8252 §8.6). A live consent also lets errors be
//! redirected to the client (RFC 9700 §4.11.2); without one they are shown as a page. The consent form's CSRF token is an HMAC, under the session's own
//! secret, of the request it approves, so a token cannot approve another request or be used
//! from another session. Before a session exists, the sign-in forms use a double-submit cookie.

use serde::{Deserialize, Serialize};

use crate::clients::Client;
use crate::crypto::{ct_eq, hmac_b64, sha256_parts};
use crate::store::{Item, Store, StoreResult, Table, typed};

use super::request::AuthorizeRequest;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Consent {
    pub client_id: String,
    pub resource: String,
    pub scope: Vec<String>,
    pub updated_at: i64,
}

pub fn key(user_id: &str, client_id: &str, resource: &str) -> String {
    sha256_parts(&[user_id.as_bytes(), client_id.as_bytes(), resource.as_bytes()])
}

/// The remembered consent in `item` if it is still live: approved less than `ttl` seconds ago.
/// The item also expires in the store, but a record written before consents expired has no
/// expiry there, so the age is checked here too.
pub fn live(item: Option<&Item>, now: i64, ttl: i64) -> StoreResult<Option<Consent>> {
    let Some(item) = item else { return Ok(None) };
    let consent: Consent = typed::body(item)?;
    Ok((consent.updated_at.saturating_add(ttl) > now).then_some(consent))
}

/// True when a remembered consent covers every scope the request asks for.
pub fn covers(consent: &Consent, req: &AuthorizeRequest) -> bool {
    req.scope.iter().all(|s| consent.scope.contains(s))
}

/// Whether remembered consent may stand in for the consent screen for this client and redirect
/// URI (RFC 8252 §8.6: without assurance of the client's identity, treat the request as new).
/// - A confidential client: a code sent to the wrong place is useless without its secret.
/// - An `https` redirect URI (registered, CIMD or not): the code can only reach the owner of that
///   host, who is the client, whoever sends the request.
///
/// Anything else — a public client returning to loopback on any port, or to a private-use scheme
/// any local app may claim — could be an impersonator asking with the client's id and its own
/// PKCE, so the user sees the consent page again.
pub fn may_skip(client: &Client, redirect_uri: &str) -> bool {
    !client.is_public() || redirect_uri.starts_with("https://")
}

/// The remembered consent for this user and request, if any. One store call.
pub async fn find(store: &Store, user_id: &str, req: &AuthorizeRequest) -> StoreResult<Option<Item>> {
    find_for(store, user_id, &req.client_id, &req.resource).await
}

/// The remembered consent of `user_id` for `client_id` and `resource`, if any. One store call.
pub async fn find_for(store: &Store, user_id: &str, client_id: &str, resource: &str) -> StoreResult<Option<Item>> {
    store.get(Table::Consents, &key(user_id, client_id, resource)).await
}

/// Remembers that the user approved the request's scopes (adding to what was approved before),
/// for `ttl` seconds from now.
pub async fn remember(store: &Store, user_id: &str, req: &AuthorizeRequest, ttl: i64) -> StoreResult<()> {
    let key = key(user_id, &req.client_id, &req.resource);
    let now = store.clock().now();
    // Scopes approved longer ago than `ttl` are not carried over.
    let mut scope = match live(store.get(Table::Consents, &key).await?.as_ref(), now, ttl)? {
        Some(consent) => consent.scope,
        None => Vec::new(),
    };
    for s in &req.scope {
        if !scope.contains(s) {
            scope.push(s.clone());
        }
    }
    let consent = Consent {
        client_id: req.client_id.clone(),
        resource: req.resource.clone(),
        scope,
        updated_at: now,
    };
    let mut item = typed::item(key, &consent)?;
    item.owner = Some(user_id.to_owned());
    item.expires_at = Some(consent.updated_at.saturating_add(ttl));
    store.put(Table::Consents, item).await
}

/// The consent form's CSRF token for `req` in the session whose secret is `secret`.
pub fn csrf_token(secret: &str, req: &AuthorizeRequest) -> String {
    let digest = sha256_parts(&[
        b"consent",
        req.client_id.as_bytes(),
        req.redirect_uri.as_bytes(),
        req.code_challenge.as_bytes(),
        req.scope.join(" ").as_bytes(),
        req.resource.as_bytes(),
        req.state.as_deref().unwrap_or_default().as_bytes(),
    ]);
    hmac_b64(secret.as_bytes(), digest.as_bytes())
}

pub fn csrf_valid(secret: &str, req: &AuthorizeRequest, presented: Option<&str>) -> bool {
    presented.is_some_and(|p| ct_eq(p, &csrf_token(secret, req)))
}

/// The sign-out form's CSRF token: bound to the session only.
pub fn logout_token(secret: &str) -> String {
    hmac_b64(secret.as_bytes(), b"logout")
}
