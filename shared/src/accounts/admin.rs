//! Operator actions behind the admin tool (`infra/admin`): list and inspect users, clients,
//! grants and keys; disable, enable and delete users; delete clients; revoke grants; create
//! invites. Each action that changes something is logged as a structured security event
//! (`event = "admin_…"`).
//!
//! What this module hands out never holds a secret in usable form: grants are named by
//! [`grants::short`] only (the full id is part of every refresh token), users carry no password
//! hash, clients say whether they have a secret but not its hash.
//!
//! Listing uses [`Store::scan`], so this module is for operators' tools only, never a request
//! path: no Lambda function's policy allows a scan.

use serde::Serialize;

use super::users::{self, User};
use super::{invites, sessions};
use crate::clients::{self, Client};
use crate::store::{Store, StoreError, StoreResult, Table, typed};
use crate::tokens::grants::{self, Grant};

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{0} not found")]
    NotFound(String),
    /// The action was refused: an ambiguous prefix, an invalid argument.
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The signing keys (rotation): a store, KMS or key failure.
    #[error(transparent)]
    Keys(#[from] crate::http::Internal),
}

pub type AdminResult<T> = Result<T, AdminError>;

/// A grant as operators see it: the short id only.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GrantInfo {
    /// [`grants::short`] of the id: enough to name it, useless in a refresh token.
    pub id: String,
    pub user_id: String,
    pub client_id: String,
    pub scope: Vec<String>,
    pub resource: String,
    pub created_at: i64,
    pub expires_at: i64,
}

impl GrantInfo {
    fn new(id: &str, g: Grant) -> Self {
        GrantInfo {
            id: grants::short(id).to_owned(),
            user_id: g.user_id,
            client_id: g.client_id,
            scope: g.scope,
            resource: g.resource,
            created_at: g.created_at,
            expires_at: g.expires_at,
        }
    }
}

/// A client as operators see it: whether it has a secret, never the secret's hash.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClientInfo {
    pub client_id: String,
    pub client_name: Option<String>,
    pub redirect_uris: Vec<String>,
    pub auth_method: &'static str,
    pub created_at: i64,
    /// When an unconfirmed registration lapses (None once a user approved it).
    pub expires_at: Option<i64>,
}

impl ClientInfo {
    fn new(c: Client, expires_at: Option<i64>) -> Self {
        ClientInfo {
            client_id: c.client_id,
            client_name: c.client_name,
            redirect_uris: c.redirect_uris,
            auth_method: c.auth_method.as_str(),
            created_at: c.created_at,
            expires_at,
        }
    }
}

/// One user with what leads to them and what they granted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UserDetail {
    pub user: User,
    /// Upstream identities (`provider#subject`) that sign in as this user.
    pub identities: Vec<String>,
    /// Whether an email record (password or verified address) leads to this user.
    pub has_email_login: bool,
    pub grants: Vec<GrantInfo>,
}

/// Which grants to list.
#[derive(Debug, Clone, Default)]
pub struct GrantFilter {
    pub user_id: Option<String>,
    pub client_id: Option<String>,
}

/// What deleting (or disabling) took away.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Removed {
    pub logins: usize,
    pub sessions: usize,
    pub grants: usize,
    pub notes: usize,
    pub consents: usize,
}

/// Every user, oldest first.
pub async fn list_users(store: &Store) -> StoreResult<Vec<User>> {
    let mut out: Vec<User> = store
        .scan(Table::Users)
        .await?
        .iter()
        .filter(|i| i.key.starts_with("user#"))
        .map(typed::body)
        .collect::<StoreResult<_>>()?;
    out.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    Ok(out)
}

/// The user with this id, or the owner of this email address (anything with an `@`).
pub async fn find_user(store: &Store, id_or_email: &str) -> AdminResult<User> {
    let id = if id_or_email.contains('@') {
        let email = users::normalize_email(id_or_email).map_err(|e| AdminError::Refused(e.to_string()))?;
        users::owner_of(store, &email).await?
    } else {
        Some(id_or_email.to_owned())
    };
    match id {
        Some(id) => users::get(store, &id).await?,
        None => None,
    }
    .ok_or_else(|| AdminError::NotFound(format!("user {id_or_email}")))
}

/// The `email#…` and `identity#…` records that lead to the user (one scan of `Table::Users`).
async fn ways_in(store: &Store, user_id: &str) -> StoreResult<Vec<String>> {
    #[derive(serde::Deserialize)]
    struct Pointer {
        user_id: String,
    }
    // Email and identity records carry their user as owner; the email record is also found by
    // its key, for records written before owners were set.
    let mut keys: Vec<String> = store
        .query_by_owner(Table::Users, user_id)
        .await?
        .into_iter()
        .filter(|item| item.key.starts_with("email#") || item.key.starts_with("identity#"))
        .map(|item| item.key)
        .collect();
    if let Some(user) = users::get(store, user_id).await?
        && !user.email.is_empty()
    {
        let key = users::email_key(&user.email);
        if !keys.contains(&key)
            && let Some(item) = store.get(Table::Users, &key).await?
            && typed::body::<Pointer>(&item).is_ok_and(|p| p.user_id == user_id)
        {
            keys.push(key);
        }
    }
    keys.sort();
    Ok(keys)
}

pub async fn show_user(store: &Store, id_or_email: &str) -> AdminResult<UserDetail> {
    let user = find_user(store, id_or_email).await?;
    let ways = ways_in(store, &user.id).await?;
    let grants = user_grants(store, &user.id).await?;
    Ok(UserDetail {
        identities: ways
            .iter()
            .filter_map(|k| k.strip_prefix("identity#").map(str::to_owned))
            .collect(),
        has_email_login: ways.iter().any(|k| k.starts_with("email#")),
        user,
        grants: grants.into_iter().map(|(id, g)| GrantInfo::new(&id, g)).collect(),
    })
}

async fn user_grants(store: &Store, user_id: &str) -> StoreResult<Vec<(String, Grant)>> {
    store
        .query_by_owner(Table::Grants, user_id)
        .await?
        .iter()
        .map(|i| Ok((i.key.clone(), typed::body(i)?)))
        .collect()
}

async fn all_grants(store: &Store) -> StoreResult<Vec<(String, Grant)>> {
    store
        .scan(Table::Grants)
        .await?
        .iter()
        .map(|i| Ok((i.key.clone(), typed::body(i)?)))
        .collect()
}

/// Revokes every grant in `found`; returns how many were still there.
async fn revoke_all(store: &Store, found: &[(String, Grant)], reason: &'static str) -> StoreResult<usize> {
    let mut n = 0;
    for (id, _) in found {
        n += grants::revoke_reference(store, id, reason).await? as usize;
    }
    Ok(n)
}

/// Disables the account: it can no longer sign in (the sign-in flow reads [`User::disabled`]),
/// and its grants are revoked and its sessions ended now, so nothing it was given keeps working
/// beyond the access tokens already issued (short-lived). Consents and data are kept for
/// [`enable_user`].
pub async fn disable_user(store: &Store, user_id: &str) -> AdminResult<Removed> {
    users::set_disabled(store, user_id, true)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("user {user_id}")))?;
    let removed = cut_off(store, user_id, "admin_user_disabled").await?;
    tracing::warn!(
        event = "admin_user_disabled",
        user_id,
        grants = removed.grants,
        sessions = removed.sessions
    );
    Ok(removed)
}

/// Ends the user's sessions and revokes their grants.
async fn cut_off(store: &Store, user_id: &str, reason: &'static str) -> StoreResult<Removed> {
    let sessions = sessions::end_all(store, user_id).await?;
    let grants = revoke_all(store, &user_grants(store, user_id).await?, reason).await?;
    Ok(Removed {
        sessions,
        grants,
        ..Removed::default()
    })
}

pub async fn enable_user(store: &Store, user_id: &str) -> AdminResult<User> {
    let user = users::set_disabled(store, user_id, false)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("user {user_id}")))?;
    tracing::warn!(event = "admin_user_enabled", user_id);
    Ok(user)
}

/// What [`delete_user`] would remove, without removing anything.
pub async fn delete_user_plan(store: &Store, user_id: &str) -> AdminResult<Removed> {
    users::get(store, user_id)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("user {user_id}")))?;
    Ok(Removed {
        logins: ways_in(store, user_id).await?.len(),
        sessions: store.query_by_owner(Table::Sessions, user_id).await?.len(),
        grants: store.query_by_owner(Table::Grants, user_id).await?.len(),
        notes: store.query_by_owner(Table::AppData, &notes_owner(user_id)).await?.len(),
        consents: store.query_by_owner(Table::Consents, user_id).await?.len(),
    })
}

/// The owner under which the notes tool keeps a user's notes (the `catalog` crate's `notes`, through `mcp::data`).
fn notes_owner(user_id: &str) -> String {
    format!("notes:{user_id}")
}

/// Deletes a user and everything of theirs.
///
/// The order makes a deletion that stops halfway (the store fails) safe to run again, and
/// never leaves a state worse than before:
/// 1. the account is disabled first, so from the first step on it cannot sign in;
/// 2. then the ways in go: email record, upstream identity records, sessions, grants. While any
///    of them is left, all the user's data still is too;
/// 3. then the data: notes, consents;
/// 4. the user record last. Until it is gone, `delete` finds the user again and finishes the
///    job, so no data is ever left behind without a user record that leads an operator to it.
///
/// Every step deletes what it finds, so repeating one is harmless. Sessions and grants are found
/// through the owner index, which DynamoDB keeps eventually consistent: one created in the same
/// instant may survive, and is refused anyway once the user record is gone.
pub async fn delete_user(store: &Store, user_id: &str) -> AdminResult<Removed> {
    users::set_disabled(store, user_id, true)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("user {user_id}")))?;
    let ways = ways_in(store, user_id).await?;
    for key in &ways {
        store.delete(Table::Users, key).await?;
    }
    let mut removed = cut_off(store, user_id, "admin_user_deleted").await?;
    removed.logins = ways.len();
    for item in store.query_by_owner(Table::AppData, &notes_owner(user_id)).await? {
        store.delete(Table::AppData, &item.key).await?;
        removed.notes += 1;
    }
    for item in store.query_by_owner(Table::Consents, user_id).await? {
        store.delete(Table::Consents, &item.key).await?;
        removed.consents += 1;
    }
    store.delete(Table::Users, &users::user_key(user_id)).await?;
    tracing::warn!(
        event = "admin_user_deleted",
        user_id,
        logins = removed.logins,
        sessions = removed.sessions,
        grants = removed.grants,
        notes = removed.notes,
        consents = removed.consents
    );
    Ok(removed)
}

/// Every registered (or cached metadata-document) client, oldest first.
pub async fn list_clients(store: &Store) -> StoreResult<Vec<ClientInfo>> {
    let mut out: Vec<ClientInfo> = store
        .scan(Table::Clients)
        .await?
        .iter()
        .map(|i| Ok(ClientInfo::new(clients::from_item(i)?, i.expires_at)))
        .collect::<StoreResult<_>>()?;
    out.sort_by(|a, b| (a.created_at, &a.client_id).cmp(&(b.created_at, &b.client_id)));
    Ok(out)
}

/// One stored client with its grants. Reads the store only: a metadata-document client that is
/// not cached is not fetched.
pub async fn show_client(store: &Store, client_id: &str) -> AdminResult<(ClientInfo, Vec<GrantInfo>)> {
    let item = store
        .get(Table::Clients, &clients::key(client_id))
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("client {client_id}")))?;
    let info = ClientInfo::new(clients::from_item(&item)?, item.expires_at);
    let grants = list_grants(
        store,
        &GrantFilter {
            client_id: Some(client_id.to_owned()),
            ..GrantFilter::default()
        },
    )
    .await?;
    Ok((info, grants))
}

/// How many grants and consents deleting the client would remove.
pub async fn delete_client_plan(store: &Store, client_id: &str) -> AdminResult<Removed> {
    let (_, grants) = show_client(store, client_id).await?;
    Ok(Removed {
        grants: grants.len(),
        consents: client_consents(store, client_id).await?.len(),
        ..Removed::default()
    })
}

/// Consents have no client index (their keys are hashes); the body names the client.
async fn client_consents(store: &Store, client_id: &str) -> StoreResult<Vec<String>> {
    #[derive(serde::Deserialize)]
    struct Named {
        client_id: String,
    }
    Ok(store
        .scan(Table::Consents)
        .await?
        .into_iter()
        .filter(|i| typed::body::<Named>(i).is_ok_and(|c| c.client_id == client_id))
        .map(|i| i.key)
        .collect())
}

/// Deletes a client: revokes its grants, forgets the consents given to it, then removes the
/// record. Grants have no client index, so this scans every grant and keeps the client's: fine
/// for an operator's tool, not for a request path. The record goes last so that a deletion
/// that fails halfway finds the client again when retried; a grant made meanwhile is useless
/// anyway once the client is gone (the token endpoint refuses unknown clients).
pub async fn delete_client(store: &Store, client_id: &str) -> AdminResult<Removed> {
    store
        .get(Table::Clients, &clients::key(client_id))
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("client {client_id}")))?;
    let theirs: Vec<(String, Grant)> = all_grants(store)
        .await?
        .into_iter()
        .filter(|(_, g)| g.client_id == client_id)
        .collect();
    let grants = revoke_all(store, &theirs, "admin_client_deleted").await?;
    let consents = client_consents(store, client_id).await?;
    for key in &consents {
        store.delete(Table::Consents, key).await?;
    }
    store.delete(Table::Clients, &clients::key(client_id)).await?;
    tracing::warn!(
        event = "admin_client_deleted",
        client_id,
        grants,
        consents = consents.len()
    );
    Ok(Removed {
        grants,
        consents: consents.len(),
        ..Removed::default()
    })
}

/// Grants, newest first: a user's through the owner index, otherwise all of them by scan.
pub async fn list_grants(store: &Store, filter: &GrantFilter) -> StoreResult<Vec<GrantInfo>> {
    let found = match &filter.user_id {
        Some(user) => user_grants(store, user).await?,
        None => all_grants(store).await?,
    };
    let mut out: Vec<GrantInfo> = found
        .into_iter()
        .filter(|(_, g)| filter.client_id.as_ref().is_none_or(|c| &g.client_id == c))
        .map(|(id, g)| GrantInfo::new(&id, g))
        .collect();
    out.sort_by(|a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)));
    Ok(out)
}

/// Shortest grant-id prefix [`revoke_grant`] accepts: shorter ones name too many grants.
pub const MIN_PREFIX: usize = 4;

/// Revokes the one grant whose id starts with `prefix` (as printed: [`grants::short`]). An
/// ambiguous or too short prefix is refused, never guessed. Returns the revoked grant.
pub async fn revoke_grant(store: &Store, prefix: &str) -> AdminResult<GrantInfo> {
    if prefix.chars().count() < MIN_PREFIX {
        return Err(AdminError::Refused(format!(
            "a grant prefix needs at least {MIN_PREFIX} characters"
        )));
    }
    let mut matching: Vec<(String, Grant)> = all_grants(store)
        .await?
        .into_iter()
        .filter(|(id, _)| id.starts_with(prefix))
        .collect();
    let (id, grant) = match matching.len() {
        0 => return Err(AdminError::NotFound(format!("grant {prefix}"))),
        1 => matching.remove(0),
        n => {
            return Err(AdminError::Refused(format!(
                "{n} grants start with {prefix}; give more characters"
            )));
        }
    };
    if !grants::revoke_reference(store, &id, "admin_revoked").await? {
        return Err(AdminError::NotFound(format!("grant {prefix}")));
    }
    tracing::warn!(event = "admin_grant_revoked", grant_id = %grants::short(&id), user_id = %grant.user_id);
    Ok(GrantInfo::new(&id, grant))
}

/// Creates a sign-up invite valid for `ttl` seconds, optionally for one address, and returns
/// the link (`<issuer>/oauth/invite?token=…`): the only time its token is ever shown.
pub async fn create_invite(store: &Store, issuer: &str, email: Option<&str>, ttl: i64) -> AdminResult<String> {
    let email = email
        .map(users::normalize_email)
        .transpose()
        .map_err(|e| AdminError::Refused(e.to_string()))?;
    if ttl <= 0 {
        return Err(AdminError::Refused("the invite's lifetime must be positive".into()));
    }
    let token = invites::create(store, email.as_deref(), ttl).await?;
    tracing::warn!(event = "admin_invite_created", for_email = email.is_some(), ttl);
    Ok(format!(
        "{}{}?token={token}",
        issuer.trim_end_matches('/'),
        invites::PATH
    ))
}

/// Rotates the signing key now (see `keys`); the replaced key stays published.
pub async fn rotate_key(keys: &crate::keys::KeyRing) -> crate::keys::KeyResult<crate::keys::Rotated> {
    let rotated = keys.rotate().await?;
    tracing::warn!(event = "admin_key_rotated", kid = %rotated.kid, previous_kid = ?rotated.previous_kid);
    Ok(rotated)
}
