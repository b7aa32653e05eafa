//! Browser sessions: the `__Host-session` cookie and the record it points at.
//!
//! The cookie holds a random 256-bit token; `Table::Sessions` stores the session under the
//! token's SHA-256, so a copy of the table holds no usable cookie.
//!
//! Not for: deciding whether a session is fresh enough for a request (the authorize module reads
//! `auth_time`), or CSRF tokens themselves (derived by the authorize module from [`csrf_secret`]).

use http::HeaderMap;
use http::header::COOKIE as COOKIE_HEADER;
use serde::{Deserialize, Serialize};

use crate::crypto;
use crate::store::{Item, Store, StoreResult, Table, typed};

/// The cookie's name. The `__Host-` prefix makes browsers insist on Secure, Path=/ and no Domain,
/// so no subdomain can plant or read it.
pub const COOKIE: &str = "__Host-session";

/// Length of a cookie value: 32 random bytes, base64url without padding.
const TOKEN_CHARS: usize = 43;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Session {
    pub user_id: String,
    pub created_at: i64,
    /// When the user last proved who they are (entered a password), for `max_age` and
    /// `prompt=login`.
    pub auth_time: i64,
    /// Set on every session made since sessions are only made for accounts whose email (or
    /// upstream identity) is verified; a session from before reads false and counts as signed
    /// out, so its user proves their address first.
    #[serde(default)]
    pub verified: bool,
}

/// The per-session secret from which the authorize module derives CSRF tokens. Derived from the
/// cookie value rather than stored, so the sessions table holds no secret at all: a copy of it
/// can neither ride a session nor forge a session's form tokens.
pub fn csrf_secret(cookie_value: &str) -> String {
    crypto::hmac_b64(cookie_value.as_bytes(), b"csrf")
}

/// The store key of a session: the SHA-256 of its cookie value.
pub fn key(cookie_value: &str) -> String {
    crypto::sha256_b64(cookie_value.as_bytes())
}

/// Creates a session for `user_id` that expires after `ttl` seconds. Returns the cookie value
/// (to send once, in `Set-Cookie`) and the session.
pub async fn create(store: &Store, user_id: &str, ttl: i64) -> StoreResult<(String, Session)> {
    let now = store.clock().now();
    let value = crypto::random_token();
    let session = Session {
        user_id: user_id.to_owned(),
        created_at: now,
        auth_time: now,
        verified: true,
    };
    let mut item = typed::item(key(&value), &session)?;
    item.expires_at = Some(now + ttl);
    // The owner lets a reset or "sign out everywhere" find every session of the user.
    item.owner = Some(user_id.to_owned());
    store.put(Table::Sessions, item).await?;
    Ok((value, session))
}

/// Decodes a session item, such as one read by `get_many` under [`key`].
pub fn from_item(item: &Item) -> StoreResult<Session> {
    typed::body(item)
}

/// The live session a cookie value points at, if any.
pub async fn get(store: &Store, cookie_value: &str) -> StoreResult<Option<Session>> {
    match store.get(Table::Sessions, &key(cookie_value)).await? {
        Some(item) => Ok(Some(from_item(&item)?)),
        None => Ok(None),
    }
}

/// Ends every session of a user (password reset or change, sign out everywhere). Returns how many.
/// The owner index is eventually consistent: a session created in the same instant may survive,
/// which a retry ends.
pub async fn end_all(store: &Store, user_id: &str) -> StoreResult<usize> {
    let items = store.query_by_owner(Table::Sessions, user_id).await?;
    for item in &items {
        store.delete(Table::Sessions, &item.key).await?;
    }
    tracing::warn!(event = "sessions_ended", user_id, count = items.len());
    Ok(items.len())
}

/// Ends a session (logout). Deleting an absent session is not an error.
pub async fn delete(store: &Store, cookie_value: &str) -> StoreResult<()> {
    store.delete(Table::Sessions, &key(cookie_value)).await
}

/// Our cookie's value from a request's `Cookie` header(s), if present and shaped like a token we
/// issue. Other cookies and malformed values are ignored.
pub fn cookie_value(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE_HEADER)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .flat_map(|h| h.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim())
        .find(|value| well_formed(value))
        .map(str::to_owned)
}

fn well_formed(value: &str) -> bool {
    value.len() == TOKEN_CHARS
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The `Set-Cookie` value that stores a session cookie for `ttl` seconds. HttpOnly keeps it from
/// scripts; SameSite=Lax still sends it on the top-level navigation that brings a user to
/// `/oauth/authorize` from a client's site, but not on cross-site form posts.
pub fn set_cookie(value: &str, ttl: i64) -> String {
    format!("{COOKIE}={value}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age={ttl}")
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn clear_cookie() -> String {
    format!("{COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0")
}
