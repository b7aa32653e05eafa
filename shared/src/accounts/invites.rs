//! Sign-up invites for `SIGNUP=invite`: single-use links an operator creates, optionally for one
//! email address, stored only as the SHA-256 of their 256-bit token, expiring.
//!
//! The link (`/oauth/invite?token=…`) puts the token in a cookie of the invitee's browser and says
//! how to connect a client; the sign-up that follows in that browser (with a password, or the
//! first sign-in through an upstream provider) spends it. The admin tooling creates invites with
//! [`create`].
//!
//! Not for: deciding whether sign-up needs one (see `policy`).

use serde::{Deserialize, Serialize};

use crate::crypto::{random_token, sha256_b64};
use crate::store::{Consumed, Item, Store, StoreResult, Table, typed};

/// Carries an invite from its link to the sign-up. `__Host-`: Secure, Path=/, no Domain.
pub const COOKIE: &str = "__Host-invite";
/// The link's path.
pub const PATH: &str = "/oauth/invite";
/// How long an invite stays valid unless created with another lifetime.
pub const DEFAULT_TTL: i64 = 7 * 86_400;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Invite {
    /// The one address that may use it, if the operator named one (normalised).
    pub email: Option<String>,
    pub created_at: i64,
}

fn key(token: &str) -> String {
    format!("invite#{}", sha256_b64(token.as_bytes()))
}

/// Creates an invite valid for `ttl` seconds; returns its token (shown once, never stored).
pub async fn create(store: &Store, email: Option<&str>, ttl: i64) -> StoreResult<String> {
    let token = random_token();
    let now = store.clock().now();
    let invite = Invite {
        email: email.map(|e| e.trim().to_lowercase()),
        created_at: now,
    };
    let mut item = typed::item(key(&token), &invite)?;
    item.expires_at = Some(now + ttl);
    store.put(Table::Tickets, item).await?;
    tracing::info!(event = "invite_created", for_email = invite.email.is_some(), ttl);
    Ok(token)
}

/// The live invite behind a token, without spending it.
pub async fn peek(store: &Store, token: &str) -> StoreResult<Option<Invite>> {
    if token.len() != 43 {
        return Ok(None);
    }
    match store.get(Table::Tickets, &key(token)).await? {
        Some(item) => Ok(Some(typed::body(&item)?)),
        None => Ok(None),
    }
}

/// A spent invite, kept so that a sign-up that fails after spending it can give it back.
pub struct Spent(Item);

/// Spends an invite: exactly one of concurrent sign-ups gets it.
pub async fn spend(store: &Store, token: &str) -> StoreResult<Option<Spent>> {
    Ok(match store.consume(Table::Tickets, &key(token), None).await? {
        Consumed::Taken(item) => Some(Spent(item)),
        _ => None,
    })
}

/// Gives a spent invite back (the sign-up it was spent on did not create an account).
pub async fn give_back(store: &Store, spent: Spent) -> StoreResult<()> {
    store.create(Table::Tickets, spent.0).await.map(|_| ())
}

/// The invite token a request's cookie carries, if it looks like one.
pub fn cookie_value(headers: &http::HeaderMap) -> Option<String> {
    crate::http::token_cookie(headers, COOKIE)
}

pub fn set_cookie(token: &str, ttl: i64) -> String {
    format!("{COOKIE}={token}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age={ttl}")
}

pub fn clear_cookie() -> String {
    format!("{COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0")
}
