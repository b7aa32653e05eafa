//! Registered OAuth clients: the stored record, how it is read, and what other endpoints ask of a
//! client (does this `redirect_uri` match, who is asking at the token endpoint).
//!
//! Not for: registering clients (see `endpoints::register`, which validates metadata and writes the record)
//! or any grant logic (see `authorize` and `tokens`).

pub mod assertion;
mod auth;
pub mod document;
pub mod jwks;
pub mod metadata;
pub mod redirect_uri;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::store::{Item, Store, StoreResult, Table, typed};

pub use auth::{
    ClientCredentials, authenticate, authenticate_with, authenticate_without_fetch, credentials, credentials_in,
};

/// How a client authenticates at the token endpoint (RFC 7591 `token_endpoint_auth_method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// A public client: no secret; PKCE protects its codes.
    None,
    ClientSecretBasic,
    ClientSecretPost,
    /// A signed JWT assertion (RFC 7523 §2.2) with a key from the client's `jwks` or `jwks_uri`.
    PrivateKeyJwt,
}

impl AuthMethod {
    /// The RFC 7591 name.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::None => "none",
            AuthMethod::ClientSecretBasic => "client_secret_basic",
            AuthMethod::ClientSecretPost => "client_secret_post",
            AuthMethod::PrivateKeyJwt => "private_key_jwt",
        }
    }

    /// Whether the server issues a client secret for this method.
    pub fn uses_secret(self) -> bool {
        matches!(self, AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost)
    }

    pub fn parse(s: &str) -> Option<AuthMethod> {
        match s {
            "none" => Some(AuthMethod::None),
            "client_secret_basic" => Some(AuthMethod::ClientSecretBasic),
            "client_secret_post" => Some(AuthMethod::ClientSecretPost),
            "private_key_jwt" => Some(AuthMethod::PrivateKeyJwt),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Client {
    pub client_id: String,
    pub client_name: Option<String>,
    /// Exactly as registered: matching compares strings, so no normalisation is ever applied.
    pub redirect_uris: Vec<String>,
    pub auth_method: AuthMethod,
    /// SHA-256 (crate::crypto::sha256_b64) of the secret; None for public clients.
    pub secret_hash: Option<String>,
    pub created_at: i64,
    /// The registered metadata as echoed in the registration response (client_name, client_uri,
    /// logo_uri, grant_types, response_types, scope, token_endpoint_auth_method, application_type,
    /// contacts, software_id, software_version, and unknown fields kept as sent, within limits).
    /// `redirect_uris` lives in its own field above, not here.
    pub metadata: Map<String, Value>,
}

impl Client {
    pub fn is_public(&self) -> bool {
        self.auth_method == AuthMethod::None
    }

    /// Exact string match against a registered redirect URI, except that for a registered
    /// loopback `http` URI (host 127.0.0.1, [::1] or localhost) any port matches when everything
    /// else (scheme, host, path, query) is equal (RFC 8252 §7.3).
    pub fn redirect_uri_matches(&self, uri: &str) -> bool {
        self.redirect_uris
            .iter()
            .any(|registered| redirect_uri::matches(registered, uri))
    }

    /// client_name, or the client_id when none was given.
    pub fn display_name(&self) -> &str {
        self.client_name.as_deref().unwrap_or(&self.client_id)
    }

    /// The registered `grant_types` (registration always stores them, defaulted if omitted).
    pub fn grant_types(&self) -> impl Iterator<Item = &str> {
        self.metadata
            .get("grant_types")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
    }

    /// Whether the client registered this grant type (e.g. `refresh_token`).
    pub fn allows_grant_type(&self, grant_type: &str) -> bool {
        self.grant_types().any(|g| g == grant_type)
    }

    /// The registered `scope` (space-separated), reduced to the scopes this server knows; None when
    /// the client registered none of them. Registration drops unknown scopes rather than refuse
    /// the client, so for a user's grant treat this as what the client said it wants, not as a
    /// limit it agreed to; for `client_credentials` it is the limit (see `endpoints::token`).
    pub fn registered_scope(&self) -> Option<&str> {
        self.metadata.get("scope").and_then(Value::as_str)
    }
}

/// Longest client id looked up at all; anything longer cannot be one of ours and would only make
/// the store reject the key.
pub const MAX_CLIENT_ID_LEN: usize = 256;

/// The store key of a client in [`Table::Clients`].
pub fn key(client_id: &str) -> String {
    client_id.to_owned()
}

pub fn from_item(item: &Item) -> StoreResult<Client> {
    typed::body(item)
}

/// The client, if registered. One store call; an id that cannot be ours (empty or overlong) is
/// absent without one.
pub async fn get(store: &Store, client_id: &str) -> StoreResult<Option<Client>> {
    get_with(store, client_id, false).await
}

/// Like [`get`], and a client identified by a metadata document URL (see [`document`]) that is
/// not cached yet is fetched and cached; a document that cannot be fetched or is invalid leaves
/// the client absent. `allow_loopback` is `Config::cimd_allow_loopback`.
pub async fn get_with(store: &Store, client_id: &str, allow_loopback: bool) -> StoreResult<Option<Client>> {
    if client_id.is_empty() || client_id.len() > MAX_CLIENT_ID_LEN {
        return Ok(None);
    }
    if let Some(item) = store.get(Table::Clients, &key(client_id)).await? {
        return Ok(Some(from_item(&item)?));
    }
    match document::resolve(store, client_id, allow_loopback).await {
        Ok(found) => Ok(found),
        Err(document::ResolveError::Store(e)) => Err(e),
        Err(document::ResolveError::Document(e)) => {
            tracing::warn!(event = "client_metadata_document_refused", client_id, error = %e);
            Ok(None)
        }
    }
}

/// Writes a new client with create-if-absent, so a (vanishingly unlikely) id collision can never
/// overwrite another client. Returns false on such a collision.
pub async fn create(store: &Store, client: &Client) -> StoreResult<bool> {
    store
        .create(Table::Clients, typed::item(key(&client.client_id), client)?)
        .await
}

/// Like [`create`], for a client nobody has approved yet: it reads as absent from `expires_at`
/// on, unless [`confirm`]ed before. Anyone may register, so without this every registration
/// that never leads to a grant would be kept for ever.
pub async fn create_unconfirmed(store: &Store, client: &Client, expires_at: i64) -> StoreResult<bool> {
    let mut item = typed::item(key(&client.client_id), client)?;
    item.expires_at = Some(expires_at);
    store.create(Table::Clients, item).await
}

/// Keeps a registered client for good: called when a user first approves it on the consent
/// page, before any grant exists that would need it. Idempotent (one write). A metadata-document
/// client (see [`document`]) is left alone: its record is a cache with its own lifetime.
pub async fn confirm(store: &Store, client: &Client) -> StoreResult<()> {
    if document::is_document_id(&client.client_id, true) {
        return Ok(());
    }
    store
        .put(Table::Clients, typed::item(key(&client.client_id), client)?)
        .await
}
