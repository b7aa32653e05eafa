//! Users and the identities that lead to them: sign-up, email login, upstream identities.
//!
//! `Table::Users` holds three kinds of record, told apart by key prefix:
//! - `user#<id>`: the [`User`];
//! - `email#<normalized email>`: the user id and the argon2id hash of the password;
//! - `identity#<provider>#<subject>`: the user id for an upstream (social) login.
//!
//! An identity record is written with create-if-absent, so two sign-ups racing for one email end
//! with one account.
//!
//! Not for: sessions (see `sessions`), the throttle's counters (see `throttle`) or HTML.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::password::{self, PasswordError, WeakPassword};
use super::throttle::{self, LoginCounters};
use crate::crypto;
use crate::store::{Store, StoreError, StoreResult, Table, typed};

/// Longest email address accepted (RFC 5321's path limit less the angle brackets).
pub const MAX_EMAIL_CHARS: usize = 254;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct User {
    pub id: String,
    pub email: String,
    pub created_at: i64,
    /// Whether the user proved they receive mail at `email` (a code we sent, a reset link), or an
    /// upstream provider vouched for it. Until then the account cannot complete an authorization,
    /// and no upstream identity is ever linked to it. Records from before this field read false.
    #[serde(default)]
    pub email_verified: bool,
    /// Set by an operator (`infra/admin`): the account may not sign in. Disabling also revokes
    /// its grants and ends its sessions (`accounts::admin`). Records from before read false.
    #[serde(default)]
    pub disabled: bool,
}

/// The record under `email#…`: who owns the address and how to check their password. Accounts
/// created through an upstream provider have no password.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct EmailRecord {
    user_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    password_hash: Option<String>,
}

/// The record under `identity#…`: who an upstream identity belongs to.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct IdentityRecord {
    user_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("Enter a valid email address, like name@example.com.")]
pub struct InvalidEmail;

#[derive(Debug, thiserror::Error)]
pub enum SignupError {
    #[error("Enter a valid email address, like name@example.com.")]
    InvalidEmail,
    #[error("{0}")]
    WeakPassword(WeakPassword),
    #[error("An account with this email address already exists. Sign in instead.")]
    EmailTaken,
    #[error("Sign-up is temporarily unavailable; try again shortly.")]
    Store(#[from] StoreError),
    #[error("Sign-up is temporarily unavailable; try again shortly.")]
    Hashing(#[from] PasswordError),
}

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Wrong password, unknown email or malformed email: one message, so that it never reveals
    /// whether an address is registered.
    #[error("Incorrect email or password.")]
    Invalid,
    #[error("Too many failed sign-in attempts. Try again in {}.", wait(*.retry_after))]
    Throttled { retry_after: i64 },
    #[error("Sign-in is temporarily unavailable; try again shortly.")]
    Store(#[from] StoreError),
    /// Too many password checks at once (or hashing failed): answered 503 with `Retry-After`.
    #[error("Sign-in is busy right now; try again in a moment.")]
    Busy,
}

/// A wait in whole minutes, rounded up, for the throttled message.
fn wait(secs: i64) -> String {
    match (secs.max(1) + 59) / 60 {
        1 => "1 minute".to_owned(),
        n => format!("{n} minutes"),
    }
}

/// A pointer record (email or identity) owned by `user_id`: the owner index finds every way into
/// an account without scanning the table (account deletion).
fn pointer_item<T: Serialize>(key: impl Into<String>, body: &T, user_id: &str) -> StoreResult<crate::store::Item> {
    let mut item = typed::item(key, body)?;
    item.owner = Some(user_id.to_owned());
    Ok(item)
}

pub fn user_key(user_id: &str) -> String {
    format!("user#{user_id}")
}

/// Key of the email record; `normalized` must come from [`normalize_email`].
pub fn email_key(normalized: &str) -> String {
    format!("email#{normalized}")
}

/// Key of an upstream identity. `provider` is one of our configured provider names, which never
/// contain `#`, so the subject (whatever the upstream sends) cannot make two keys collide.
pub fn identity_key(provider: &str, subject: &str) -> String {
    format!("identity#{provider}#{subject}")
}

/// Trims and lowercases an email, and rejects what is not plausibly an address: one `@`,
/// non-empty local part, a domain with a dot, no spaces or control characters, at most 254
/// characters. Deliverability is not checked.
pub fn normalize_email(raw: &str) -> Result<String, InvalidEmail> {
    let email = raw.trim().to_lowercase();
    if email.chars().count() > MAX_EMAIL_CHARS || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(InvalidEmail);
    }
    let (local, domain) = email.split_once('@').ok_or(InvalidEmail)?;
    let domain_ok =
        domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.') && !domain.contains("..");
    if local.is_empty() || domain.contains('@') || !domain_ok {
        return Err(InvalidEmail);
    }
    Ok(email)
}

/// Creates an account with an email and password.
///
/// The user record is written first and the email record second, with create-if-absent: a reader
/// that finds the email record always finds its user, and the loser of a race for one email
/// removes its unreachable user record and gets [`SignupError::EmailTaken`].
pub async fn sign_up(store: &Store, email: &str, password: &str) -> Result<User, SignupError> {
    let email = normalize_email(email).map_err(|_| SignupError::InvalidEmail)?;
    password::check_rules(password, &email).map_err(SignupError::WeakPassword)?;
    let password_hash = password::hash(password).await?;
    let user = User {
        id: crypto::random_id(),
        email: email.clone(),
        created_at: store.clock().now(),
        email_verified: false,
        disabled: false,
    };
    store.put(Table::Users, typed::item(user_key(&user.id), &user)?).await?;
    let record = EmailRecord {
        user_id: user.id.clone(),
        password_hash: Some(password_hash),
    };
    if !store
        .create(Table::Users, pointer_item(email_key(&email), &record, &record.user_id)?)
        .await?
    {
        store.delete(Table::Users, &user_key(&user.id)).await?;
        return Err(SignupError::EmailTaken);
    }
    tracing::info!(event = "user_signed_up", user_id = %user.id);
    crate::metrics::count(crate::metrics::Metric::SignUps);
    Ok(user)
}

/// Logs in with an email and password; on success returns the user.
///
/// The attempt is counted first (atomic increments of the pair and source counters, see
/// `throttle`), together with one read of the account counter and the email record; a success
/// then reads the user record: four calls, made as three round trips. A success after earlier
/// attempts from the same source also clears that pair's counter; a failure bumps the account's.
pub async fn log_in(store: &Store, email: &str, password: &str, ip: Option<IpAddr>) -> Result<User, LoginError> {
    // A malformed address cannot be registered, so refusing it says nothing about any account.
    let email = normalize_email(email).map_err(|_| LoginError::Invalid)?;
    let now = store.clock().now();
    let counters = LoginCounters::new(&email, ip, now);
    let keys = [counters.account_key(), (Table::Users, email_key(&email))];
    let (attempt, found) = tokio::join!(counters.count_attempt(store, now), store.get_many(&keys));
    let (attempt, found) = (attempt?, found?);
    if let Err(retry_after) = attempt.verdict() {
        tracing::warn!(
            event = "login_throttled",
            account = %account_tag(&email),
            ip = %source(ip),
            retry_after
        );
        crate::metrics::count(crate::metrics::Metric::LoginFailed);
        return Err(LoginError::Throttled { retry_after });
    }
    if counters.slow_down(&found) {
        // Soft per-account limit: slower for everyone, but the owner still gets in.
        tracing::warn!(event = "login_slowed", account = %account_tag(&email), ip = %source(ip));
        tokio::time::sleep(throttle::SLOW_DOWN).await;
    }
    let record = found
        .iter()
        .find(|(table, item)| *table == Table::Users && item.key == email_key(&email))
        .map(|(_, item)| typed::body::<EmailRecord>(item))
        .transpose()?;
    let verified = match record.as_ref().and_then(|r| r.password_hash.as_deref()) {
        Some(hash) => password::verify(password, hash).await,
        // Unknown email: spend the same time as a real verify so timing does not tell.
        None => password::verify_dummy(password).await,
    }
    .map_err(|e| {
        tracing::warn!(event = "login_unavailable", error = %e);
        LoginError::Busy
    })?;
    let Some(record) = record.filter(|_| verified) else {
        tracing::warn!(
            event = "login_failed",
            account = %account_tag(&email),
            ip = %source(ip)
        );
        crate::metrics::count(crate::metrics::Metric::LoginFailed);
        counters.record_failure(store).await?;
        return Err(LoginError::Invalid);
    };
    counters.record_success(store, &attempt).await?;
    let user = get(store, &record.user_id)
        .await?
        .ok_or_else(|| StoreError::Corrupt(format!("email record points at missing user {}", record.user_id)))?;
    tracing::info!(event = "login_succeeded", user_id = %user.id);
    crate::metrics::count(crate::metrics::Metric::LoginSucceeded);
    Ok(user)
}

fn source(ip: Option<IpAddr>) -> String {
    ip.map(|ip| ip.to_string()).unwrap_or_default()
}

/// A short, stable tag for an account in logs: never the address itself.
pub fn account_tag(normalized_email: &str) -> String {
    crypto::sha256_b64(normalized_email.as_bytes())[..12].to_owned()
}

pub async fn get(store: &Store, user_id: &str) -> StoreResult<Option<User>> {
    match store.get(Table::Users, &user_key(user_id)).await? {
        Some(item) => Ok(Some(typed::body(&item)?)),
        None => Ok(None),
    }
}

/// Finds the user an upstream identity (an [`identity_key`]) belongs to, or creates one with
/// `email` (the upstream's claim, stored as given after normalising, or empty if it is not a
/// plausible address). Never links to an existing email account: the upstream's email may be
/// unverified, and linking on it would let that provider's users take over local accounts.
///
/// Like sign-up, the user record goes first and the identity record is created if absent; the
/// loser of a race deletes its own user record and returns the winner's.
pub async fn find_or_create_by_identity(store: &Store, identity_key: &str, email: Option<&str>) -> StoreResult<User> {
    if let Some(user) = by_identity(store, identity_key).await? {
        return Ok(user);
    }
    let email = email.and_then(|e| normalize_email(e).ok()).unwrap_or_default();
    let user = User {
        id: crypto::random_id(),
        email,
        created_at: store.clock().now(),
        email_verified: false,
        disabled: false,
    };
    store.put(Table::Users, typed::item(user_key(&user.id), &user)?).await?;
    let record = IdentityRecord {
        user_id: user.id.clone(),
    };
    if store
        .create(Table::Users, pointer_item(identity_key, &record, &record.user_id)?)
        .await?
    {
        tracing::info!(event = "user_signed_up", user_id = %user.id, via = "identity");
        crate::metrics::count(crate::metrics::Metric::SignUps);
        return Ok(user);
    }
    store.delete(Table::Users, &user_key(&user.id)).await?;
    by_identity(store, identity_key)
        .await?
        .ok_or_else(|| StoreError::Corrupt(format!("identity {identity_key} vanished during creation")))
}

async fn by_identity(store: &Store, identity_key: &str) -> StoreResult<Option<User>> {
    let Some(item) = store.get(Table::Users, identity_key).await? else {
        return Ok(None);
    };
    let record: IdentityRecord = typed::body(&item)?;
    let user = get(store, &record.user_id).await?;
    if user.is_none() {
        // The account was deleted: the identity is free again (a record from before identities
        // carried their owner outlives the deletion that could not find it).
        store.delete(Table::Users, identity_key).await?;
    }
    Ok(user)
}

/// Finds or creates the user for an upstream identity whose email the provider verified.
///
/// An identity seen before leads to its user. A new identity whose verified email belongs to an
/// account whose email is verified too is linked to that account (a password user who verified,
/// then uses Google). Otherwise a new account (with no password) claims the email.
///
/// An account whose email was never verified is never joined: whoever created it may not own the
/// address (an attacker can sign up with a victim's email and wait for the victim to arrive through
/// a provider: the "classic-federated merge" pre-account takeover). Instead the verified identity
/// takes the email: the email record is moved to a new account, so the unverified account loses
/// the address and its password sign-in, and keeps whatever it held, which never reaches the
/// newcomer. Refusing the sign-in would be safe too, but would let a squatter lock the real owner
/// out of their own address. Callers must only pass emails the provider asserts it verified.
pub async fn find_or_link_verified(store: &Store, identity_key: &str, verified_email: &str) -> StoreResult<User> {
    let email = normalize_email(verified_email)
        .map_err(|_| StoreError::Corrupt("find_or_link_verified needs a plausible email".into()))?;
    if let Some(user) = by_identity(store, identity_key).await? {
        // An account from before verification existed, reached again through its provider.
        if !user.email_verified && user.email == email {
            return mark_verified(store, &user.id).await.map(|u| u.unwrap_or(user));
        }
        return Ok(user);
    }
    let mut owner = None;
    for _ in 0..3 {
        match store.get(Table::Users, &email_key(&email)).await? {
            Some(item) => {
                let record = typed::body::<EmailRecord>(&item)?;
                match get(store, &record.user_id).await? {
                    Some(existing) if existing.email_verified => {
                        owner = Some(existing.id);
                        break;
                    }
                    holder => {
                        // Unverified (or dangling): the verified identity takes the address.
                        let user = new_verified_user(store, &email).await?;
                        let moved = EmailRecord {
                            user_id: user.id.clone(),
                            password_hash: None,
                        };
                        let replacement = pointer_item(email_key(&email), &moved, &moved.user_id)?;
                        if store.compare_and_swap(Table::Users, replacement, item.version).await? {
                            if let Some(mut displaced) = holder {
                                displaced.email = String::new();
                                store
                                    .put(Table::Users, typed::item(user_key(&displaced.id), &displaced)?)
                                    .await?;
                                tracing::warn!(event = "unverified_account_displaced", user_id = %displaced.id, by = %user.id);
                            }
                            owner = Some(user.id);
                            break;
                        }
                        // The email record moved meanwhile: drop ours and judge again.
                        store.delete(Table::Users, &user_key(&user.id)).await?;
                    }
                }
            }
            None => {
                let user = new_verified_user(store, &email).await?;
                let record = EmailRecord {
                    user_id: user.id.clone(),
                    password_hash: None,
                };
                if store
                    .create(Table::Users, pointer_item(email_key(&email), &record, &record.user_id)?)
                    .await?
                {
                    tracing::info!(event = "user_signed_up", user_id = %user.id, via = "upstream");
                    crate::metrics::count(crate::metrics::Metric::SignUps);
                    owner = Some(user.id);
                    break;
                }
                // Someone claimed the email meanwhile: judge their account instead.
                store.delete(Table::Users, &user_key(&user.id)).await?;
            }
        }
    }
    let owner = owner.ok_or_else(|| StoreError::Unavailable("the email record kept changing".into()))?;
    let record = IdentityRecord { user_id: owner.clone() };
    if store
        .create(Table::Users, pointer_item(identity_key, &record, &record.user_id)?)
        .await?
    {
        tracing::info!(event = "identity_linked", user_id = %owner);
    }
    by_identity(store, identity_key)
        .await?
        .ok_or_else(|| StoreError::Corrupt(format!("identity {identity_key} points at a missing user")))
}

async fn new_verified_user(store: &Store, email: &str) -> StoreResult<User> {
    let user = User {
        id: crypto::random_id(),
        email: email.to_owned(),
        created_at: store.clock().now(),
        email_verified: true,
        disabled: false,
    };
    store.put(Table::Users, typed::item(user_key(&user.id), &user)?).await?;
    Ok(user)
}

/// Whether signing in with this upstream identity would create a new account (so the sign-up
/// policy applies): the identity is new, and its email has no verified owner to link to.
pub async fn identity_would_create(store: &Store, identity_key: &str, verified_email: &str) -> StoreResult<bool> {
    if store.get(Table::Users, identity_key).await?.is_some() {
        return Ok(false);
    }
    let Ok(email) = normalize_email(verified_email) else {
        return Ok(true);
    };
    let Some(item) = store.get(Table::Users, &email_key(&email)).await? else {
        return Ok(true);
    };
    let record = typed::body::<EmailRecord>(&item)?;
    Ok(!get(store, &record.user_id).await?.is_some_and(|u| u.email_verified))
}

/// Records that the user proved they own their email. Returns the updated user (None if gone).
pub async fn mark_verified(store: &Store, user_id: &str) -> StoreResult<Option<User>> {
    let Some(mut user) = get(store, user_id).await? else {
        return Ok(None);
    };
    if !user.email_verified {
        user.email_verified = true;
        store.put(Table::Users, typed::item(user_key(&user.id), &user)?).await?;
        tracing::info!(event = "email_verified", user_id = %user.id);
    }
    Ok(Some(user))
}

/// The id of the account that owns a normalised email, if any.
pub async fn owner_of(store: &Store, normalized_email: &str) -> StoreResult<Option<String>> {
    match store.get(Table::Users, &email_key(normalized_email)).await? {
        Some(item) => Ok(Some(typed::body::<EmailRecord>(&item)?.user_id)),
        None => Ok(None),
    }
}

/// Sets a new password for the account that owns `normalized_email`, which must still be
/// `user_id` (an address that moved to another account since keeps its new owner). Returns false
/// if it moved. The caller ends the user's sessions.
pub async fn set_password(
    store: &Store,
    user_id: &str,
    normalized_email: &str,
    password: &str,
) -> Result<bool, SignupError> {
    let email = normalize_email(normalized_email).map_err(|_| SignupError::InvalidEmail)?;
    password::check_rules(password, &email).map_err(SignupError::WeakPassword)?;
    let password_hash = password::hash(password).await?;
    let Some(item) = store.get(Table::Users, &email_key(&email)).await? else {
        return Ok(false);
    };
    if !crypto::ct_eq(&typed::body::<EmailRecord>(&item)?.user_id, user_id) {
        return Ok(false);
    }
    let record = EmailRecord {
        user_id: user_id.to_owned(),
        password_hash: Some(password_hash),
    };
    Ok(store
        .compare_and_swap(
            Table::Users,
            pointer_item(email_key(&email), &record, user_id)?,
            item.version,
        )
        .await?)
}

/// Whether the user may not sign in (an operator disabled the account). An absent user is not
/// disabled: sign-in fails for it anyway.
pub fn is_disabled(user: &User) -> bool {
    user.disabled
}

/// Sets or clears [`User::disabled`] with a compare-and-swap, so a concurrent write to the user
/// (verification, a displaced email) is never lost. Returns the updated user, or None if absent.
pub async fn set_disabled(store: &Store, user_id: &str, disabled: bool) -> StoreResult<Option<User>> {
    for _ in 0..3 {
        let Some(item) = store.get(Table::Users, &user_key(user_id)).await? else {
            return Ok(None);
        };
        let mut user: User = typed::body(&item)?;
        if user.disabled == disabled {
            return Ok(Some(user));
        }
        user.disabled = disabled;
        if store
            .compare_and_swap(Table::Users, typed::item(user_key(user_id), &user)?, item.version)
            .await?
        {
            return Ok(Some(user));
        }
    }
    Err(StoreError::Unavailable("the user record kept changing".into()))
}
