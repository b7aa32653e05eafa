//! The token endpoint (`POST /api/oauth/token`): the authorization-code grant with PKCE, the
//! refresh-token grant with rotation, and the client-credentials grant for machine clients
//! (RFC 6749 §4.4, MCP ext-auth SEP-1046).
//!
//! Each grant makes at most three store calls: authenticate the client, redeem the code or read
//! the grant, then create or rotate the grant. Errors follow RFC 6749 §5.2.
//!
//! `client_credentials`: only a confidential client (secret or `private_key_jwt`) registered for
//! it. The token's subject is the client itself (`sub` = `client:<client_id>`, `machine: true`),
//! with no grant behind it: no `gid`, no refresh token (RFC 6749 §4.4.3), so it is revoked only by
//! expiring (`ACCESS_TOKEN_TTL`); deleting the client stops new ones. Its scope is at most what
//! the client registered (`scope`), never a user-only scope (`scopes::ScopeInfo::user_only`) unless
//! `MACHINE_SCOPES_ALLOWED` lists it; without `scope`, all of that.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use http::{HeaderMap, StatusCode};
use serde_json::json;

use crate::app::AppState;
use crate::clients::{self, Client};
use crate::endpoints::layers;
use crate::form::{Form, Params};
use crate::http::{ApiError, ErrorCode};
use crate::metrics::{self, Metric};
use crate::resource;
use crate::scopes;
use crate::tokens::access::{self, AccessGrant};
use crate::tokens::codes::{self, Redeemed};
use crate::tokens::grants::{self, Grant, NewGrant, Refreshed};
use crate::tokens::pkce;
use crate::urls::{self, Urls};

fn invalid_grant(description: impl Into<String>) -> ApiError {
    ApiError::bad_request(ErrorCode::InvalidGrant, description)
}

/// Refuses a grant type the client did not register for.
fn check_grant_type(client: &Client, grant_type: &str) -> Result<(), ApiError> {
    if client.allows_grant_type(grant_type) {
        return Ok(());
    }
    Err(ApiError::bad_request(
        ErrorCode::UnauthorizedClient,
        format!("this client is not registered for the {grant_type} grant"),
    ))
}

/// The token response, with the headers RFC 6749 §5.1 requires.
/// A refresh token is included only for clients registered for the refresh grant, with or
/// without `offline_access`: the official TypeScript SDK and mcp-remote never ask for it yet rely
/// on refreshing, so the consent page says how long access lasts instead.
async fn issue(
    state: &AppState,
    urls: &Urls,
    grant: &Grant,
    grant_ref: &str,
    scope: &[String],
    refresh_token: Option<&str>,
) -> Result<Response, ApiError> {
    // `offline_access` asks this server for a refresh token; it grants nothing at the resource,
    // so it stays out of the access token's `scope` (and the response's, which describes it).
    let scope: Vec<String> = scope
        .iter()
        .filter(|s| s.as_str() != scopes::OFFLINE_ACCESS)
        .cloned()
        .collect();
    let scope = scope.as_slice();
    let now = state.store.clock().now();
    let ttl = state.config.lifetimes.access_token;
    let who = AccessGrant {
        issuer: urls.issuer(),
        user_id: &grant.user_id,
        client_id: &grant.client_id,
        resource: &grant.resource,
        scope,
        grant_ref: Some(grant_ref),
        machine: false,
    };
    let (jwt, _) = access::mint(&state.keys, &who, now, ttl).await?;
    Ok(token_response(jwt, ttl, scope, refresh_token))
}

/// The token response, with the headers RFC 6749 §5.1 requires.
fn token_response(jwt: String, ttl: i64, scope: &[String], refresh_token: Option<&str>) -> Response {
    let mut body = json!({
        "access_token": jwt,
        "token_type": "Bearer",
        "expires_in": ttl,
        "scope": scope.join(" "),
    });
    if let Some(rt) = refresh_token {
        body["refresh_token"] = rt.into();
    }
    // `no-store` and `Pragma` come from the router's layers (`endpoints::layers`).
    (StatusCode::OK, Json(body)).into_response()
}

/// The scopes a machine client may hold: those it registered, minus the user-only ones the
/// operator has not opened to machines.
fn machine_scopes(state: &AppState, client: &Client) -> Vec<String> {
    let registered = client.registered_scope().unwrap_or_default();
    let resource = state.scopes().resource_scopes();
    registered
        .split(' ')
        .filter(|s| resource.contains(s))
        .filter(|s| !state.scopes().is_user_only(s) || state.config.machine_scopes_allowed.iter().any(|a| a == s))
        .map(str::to_owned)
        .collect()
}

async fn client_credentials(state: &AppState, urls: &Urls, client: Client, p: &Params) -> Result<Response, ApiError> {
    // A public client proves nothing about who it is, so it cannot act as itself.
    if client.is_public() {
        return Err(ApiError::bad_request(
            ErrorCode::UnauthorizedClient,
            "a public client cannot use the client_credentials grant",
        ));
    }
    check_grant_type(&client, "client_credentials")?;
    let resource =
        resource::resolve(p.get("resource"), urls).map_err(|e| ApiError::bad_request(ErrorCode::InvalidTarget, e))?;
    let allowed = machine_scopes(state, &client);
    let scope = match p.get("scope") {
        None => allowed,
        Some(s) => {
            let requested = state
                .scopes()
                .parse(Some(s))
                .map_err(|e| ApiError::bad_request(ErrorCode::InvalidScope, e))?;
            if let Some(extra) = requested.iter().find(|r| !allowed.contains(r)) {
                return Err(ApiError::bad_request(
                    ErrorCode::InvalidScope,
                    format!(
                        "scope {extra:?} is not open to this client: a machine client gets at most the scopes it registered, never a user's"
                    ),
                ));
            }
            requested
        }
    };
    if scope.is_empty() {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidScope,
            "this client registered no scope a machine client may hold",
        ));
    }
    let now = state.store.clock().now();
    let ttl = state.config.lifetimes.access_token;
    let subject = access::machine_subject(&client.client_id);
    let who = AccessGrant {
        issuer: urls.issuer(),
        user_id: &subject,
        client_id: &client.client_id,
        resource: &resource,
        scope: &scope,
        // No grant: nothing a user approved stands behind the token (see the module doc).
        grant_ref: None,
        machine: true,
    };
    let (jwt, _) = access::mint(&state.keys, &who, now, ttl).await?;
    tracing::info!(event = "client_credentials_issued", client_id = %client.client_id, scope = %scope.join(" "));
    metrics::count(Metric::GrantsIssued);
    Ok(token_response(jwt, ttl, &scope, None))
}

async fn authorization_code(state: &AppState, urls: &Urls, client: Client, p: &Params) -> Result<Response, ApiError> {
    check_grant_type(&client, "authorization_code")?;
    let code = p.require("code")?;
    let redirect_uri = p.require("redirect_uri")?;
    let verifier = p.require("code_verifier")?;
    if !pkce::valid_verifier(verifier) {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidRequest,
            "code_verifier must be 43 to 128 unreserved characters",
        ));
    }
    // Every code is for our one resource, so a named resource must be it; checked before the
    // code is touched.
    resource::resolve(p.get("resource"), urls).map_err(|e| ApiError::bad_request(ErrorCode::InvalidTarget, e))?;
    let challenge = pkce::challenge(verifier);
    // The signing key first: a key that cannot be loaded (KMS down on a cold start) answers 503
    // before the code is spent, so the client's retry is not mistaken for a replay.
    state.keys.signer().await?;
    match codes::redeem(&state.store, code, &client.client_id, redirect_uri, &challenge).await? {
        Redeemed::Valid(record) => {
            let grant_id = codes::grant_id_for(code);
            let new = NewGrant {
                user_id: record.user_id,
                client_id: record.client_id,
                scope: record.scope,
                resource: record.resource,
            };
            let Some((grant, refresh_token)) =
                grants::create(&state.store, &grant_id, new, &state.config.lifetimes).await?
            else {
                return Err(invalid_grant("the authorization code was already used"));
            };
            tracing::info!(event = "grant_issued", grant_id = %grants::short(&grant_id), client_id = %grant.client_id, user_id = %grant.user_id, scope = %grant.scope.join(" "));
            metrics::count(Metric::GrantsIssued);
            let scope = grant.scope.clone();
            let refresh_token = client
                .allows_grant_type("refresh_token")
                .then_some(refresh_token.as_str());
            issue(
                state,
                urls,
                &grant,
                &grants::reference(&grant_id),
                &scope,
                refresh_token,
            )
            .await
        }
        Redeemed::Replayed => {
            // A used code coming back with its whole binding means the code and its verifier have
            // been used twice: revoke what it produced (RFC 6749 §4.1.2; see `tokens::codes`).
            if grants::revoke(&state.store, &codes::grant_id_for(code), "authorization_code_replay").await? {
                tracing::warn!(event = "authorization_code_replay", client_id = %client.client_id);
            }
            Err(invalid_grant(
                "the authorization code is invalid, expired or already used",
            ))
        }
        // Unknown or expired: nothing to revoke, and a stranger's guess must not revoke anything.
        Redeemed::Unknown => Err(invalid_grant(
            "the authorization code is invalid, expired or already used",
        )),
        Redeemed::Mismatch => Err(invalid_grant(
            "the authorization code was issued to another client, redirect_uri or code_challenge",
        )),
    }
}

async fn refresh_token(state: &AppState, urls: &Urls, client: Client, p: &Params) -> Result<Response, ApiError> {
    check_grant_type(&client, "refresh_token")?;
    let token = p.require("refresh_token")?;
    resource::resolve(p.get("resource"), urls).map_err(|e| ApiError::bad_request(ErrorCode::InvalidTarget, e))?;
    let requested = match p.get("scope") {
        Some(s) => Some(
            state
                .scopes()
                .parse(Some(s))
                .map_err(|e| ApiError::bad_request(ErrorCode::InvalidScope, e))?,
        ),
        None => None,
    };
    // As for codes: a rotation with no key to sign its access token would leave the client
    // holding a successor it never received.
    state.keys.signer().await?;
    match grants::refresh(&state.store, token, &client.client_id, &state.config.lifetimes).await? {
        Refreshed::Rotated { grant, refresh_token } => {
            // The scope may narrow for this access token, never widen beyond the grant.
            let scope = match requested {
                Some(req) if req.iter().all(|s| grant.scope.contains(s)) => req,
                Some(_) => {
                    return Err(ApiError::bad_request(
                        ErrorCode::InvalidScope,
                        "the requested scope exceeds what was granted",
                    ));
                }
                None => grant.scope.clone(),
            };
            metrics::count(Metric::TokensRefreshed);
            let grant_ref = grants::reference_of_token(&refresh_token).unwrap_or_default();
            issue(state, urls, &grant, &grant_ref, &scope, Some(&refresh_token)).await
        }
        Refreshed::Invalid => Err(invalid_grant("the refresh token is invalid, expired or revoked")),
        Refreshed::Reused => Err(invalid_grant(
            "the refresh token was already used; the grant has been revoked",
        )),
    }
}

async fn token(
    State(state): State<AppState>,
    urls: Urls,
    headers: HeaderMap,
    Form(p): Form,
) -> Result<Response, ApiError> {
    let grant_type = p.require("grant_type")?;
    if !matches!(
        grant_type,
        "authorization_code" | "refresh_token" | "client_credentials"
    ) {
        return Err(ApiError::bad_request(
            ErrorCode::UnsupportedGrantType,
            format!("grant_type {grant_type:?} is not supported"),
        ));
    }
    let creds = clients::credentials_in(&headers, &p)?;
    // RFC 7523 §3: the assertion's audience is this server; its issuer or the token endpoint's URL.
    let audiences = [urls.issuer().to_owned(), urls.token()];
    let client = clients::authenticate_with(&state.store, &creds, state.config.cimd_allow_loopback, &audiences).await?;
    match grant_type {
        "authorization_code" => authorization_code(&state, &urls, client, &p).await,
        "client_credentials" => client_credentials(&state, &urls, client, &p).await,
        _ => refresh_token(&state, &urls, client, &p).await,
    }
}

pub fn routes(state: AppState) -> Router {
    Router::new()
        .route(urls::TOKEN_PATH, post(token).options(crate::http::options))
        // Introspection shares this function: it reads the same clients, grants and keys.
        .route(urls::INTROSPECT_PATH, crate::endpoints::introspect::route())
        .layer(layers::no_cache_pragma())
        .layer(layers::no_store())
        .layer(layers::cors())
        .with_state(state)
}
