//! Remembered consent, and the CSRF tokens that protect the consent and sign-in forms.
//!
//! Consent is remembered per (user, client, resource): a later request whose scopes are all
//! covered skips the screen. The consent form's CSRF token is an HMAC, under the session's own
//! secret, of the request it approves, so a token cannot approve another request or be used
//! from another session. Before a session exists, the sign-in forms use a double-submit cookie.

use serde::{Deserialize, Serialize};

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

/// True when a remembered consent covers every scope the request asks for.
pub fn covers(item: Option<&Item>, req: &AuthorizeRequest) -> StoreResult<bool> {
    let Some(item) = item else { return Ok(false) };
    let consent: Consent = typed::body(item)?;
    Ok(req.scope.iter().all(|s| consent.scope.contains(s)))
}

/// The remembered consent for this user and request, if any. One store call.
pub async fn find(store: &Store, user_id: &str, req: &AuthorizeRequest) -> StoreResult<Option<Item>> {
    store
        .get(Table::Consents, &key(user_id, &req.client_id, &req.resource))
        .await
}

/// Remembers that the user approved the request's scopes (adding to what was approved before).
pub async fn remember(store: &Store, user_id: &str, req: &AuthorizeRequest) -> StoreResult<()> {
    let key = key(user_id, &req.client_id, &req.resource);
    let mut scope = match store.get(Table::Consents, &key).await? {
        Some(item) => typed::body::<Consent>(&item)?.scope,
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
        updated_at: store.clock().now(),
    };
    let mut item = typed::item(key, &consent)?;
    item.owner = Some(user_id.to_owned());
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
